variable "name" {
  description = "Instance name, unique in the sandbox."
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

variable "size" {
  description = "Instance size."
  type        = string
  default     = "small"

  validation {
    condition     = contains(["small", "medium", "large", "xlarge"], var.size)
    error_message = "The size must be one of small, medium, large, xlarge."
  }
}

variable "public_ip" {
  description = "Give the instance a public IP address. Off by default: instances stay private."
  type        = bool
  default     = false
}
