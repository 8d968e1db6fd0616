variable "name" {
  description = "Role name (1-64 letters, digits and +=,.@_- characters)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.name))
    error_message = "The role name must be 1-64 letters, digits and +=,.@_- characters."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource of the module."
  type        = map(string)
  default     = {}
}

variable "description" {
  description = "What the role is for."
  type        = string
  default     = ""
}

variable "assume_role_policy" {
  description = "The trust policy (JSON): who may assume the role. Anyone (\"*\") is refused."
  type        = string

  validation {
    condition     = can(jsondecode(var.assume_role_policy).Statement)
    error_message = "assume_role_policy must be a JSON policy document with a Statement."
  }

  validation {
    condition = !anytrue([
      for statement in flatten([try(jsondecode(var.assume_role_policy).Statement, [])]) :
      try(statement.Principal == "*", false) || contains(flatten([try(statement.Principal.AWS, [])]), "*")
    ])
    error_message = "The trust policy must not let any principal (\"*\") assume the role."
  }
}

variable "managed_policy_arns" {
  description = "Managed policies to attach. AdministratorAccess is refused."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.managed_policy_arns : can(regex("^arn:aws[a-z-]*:iam::", arn))])
    error_message = "managed_policy_arns must hold IAM policy ARNs."
  }

  validation {
    condition     = !anytrue([for arn in var.managed_policy_arns : endswith(arn, "/AdministratorAccess")])
    error_message = "AdministratorAccess is not allowed: grant the actions the role needs."
  }
}

variable "inline_policies" {
  description = "Inline policies, by name (JSON documents). Wildcard actions (\"*\" or \"*:*\") are refused."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for document in values(var.inline_policies) : can(jsondecode(document).Statement)])
    error_message = "Every inline policy must be a JSON policy document with a Statement."
  }

  validation {
    condition = !anytrue(flatten([
      for document in values(var.inline_policies) : [
        for statement in flatten([try(jsondecode(document).Statement, [])]) :
        contains(flatten([try(statement.Action, [])]), "*") || contains(flatten([try(statement.Action, [])]), "*:*")
      ]
    ]))
    error_message = "Wildcard admin is not allowed: an inline policy must not grant the action \"*\" or \"*:*\"."
  }
}

variable "max_session_duration" {
  description = "Maximum session length in seconds (3600 to 43200)."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be between 3600 and 43200."
  }
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary policy ARN (recommended where the organisation has one)."
  type        = string
  default     = null
}
