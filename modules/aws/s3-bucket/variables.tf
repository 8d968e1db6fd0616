variable "name" {
  description = "Bucket name (globally unique; 3-63 lowercase letters, digits, dots and hyphens)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.name)) && !can(regex("\\.\\.", var.name))
    error_message = "The bucket name must be 3-63 lowercase letters, digits, dots and hyphens, and start and end with a letter or digit."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource of the module."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "KMS key ARN for SSE-KMS. Null (the default) uses SSE-S3 (AES256)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:...) or null."
  }
}

variable "versioning_enabled" {
  description = "Keep every version of every object (recommended; protects against overwrites)."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Allow destroying the bucket while it still holds objects. Off by default."
  type        = bool
  default     = false
}

variable "lifecycle_rules" {
  description = "Lifecycle rules: expire or transition objects under a prefix."
  type = list(object({
    id                                     = string
    enabled                                = optional(bool, true)
    prefix                                 = optional(string, "")
    expiration_days                        = optional(number)
    noncurrent_version_expiration_days     = optional(number)
    transition_days                        = optional(number)
    transition_storage_class               = optional(string, "STANDARD_IA")
    abort_incomplete_multipart_upload_days = optional(number, 7)
  }))
  default = []

  validation {
    condition     = length(var.lifecycle_rules) == length(distinct([for rule in var.lifecycle_rules : rule.id]))
    error_message = "Lifecycle rule ids must be unique."
  }
}
