variable "name" {
  description = "Queue name, unique in the sandbox."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,62}$", var.name))
    error_message = "The name must be 1-63 lowercase letters, digits and hyphens, starting with a letter or digit."
  }
}

variable "region" {
  description = "Sandbox region."
  type        = string
  default     = "local-1"

  validation {
    condition     = contains(["local-1", "local-2", "local-3"], var.region)
    error_message = "The region must be one of local-1, local-2, local-3."
  }
}

variable "tags" {
  description = "Tags applied to the resource."
  type        = map(string)
  default     = {}
}

variable "retention_seconds" {
  description = "How long messages are kept, in seconds (60 to 1209600)."
  type        = number
  default     = 345600

  validation {
    condition     = var.retention_seconds >= 60 && var.retention_seconds <= 1209600
    error_message = "retention_seconds must be between 60 and 1209600."
  }
}
