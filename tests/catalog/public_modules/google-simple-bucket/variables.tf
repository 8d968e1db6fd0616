/**
 * Copyright 2020 Google LLC
 * Licensed under the Apache License, Version 2.0
 */

variable "name" {
  description = "The name of the bucket."
  type        = string
}

variable "project_id" {
  description = "The ID of the project to create the bucket in."
  type        = string
}

variable "location" {
  description = "The location of the bucket."
  type        = string
}

variable "storage_class" {
  description = "The Storage Class of the new bucket."
  type        = string
  default     = null
}

variable "labels" {
  description = "A set of key/value label pairs to assign to the bucket."
  type        = map(string)
  default     = null
}

variable "versioning" {
  description = "While set to true, versioning is fully enabled for this bucket."
  type        = bool
  default     = true
}

variable "retention_policy" {
  description = "Configuration of the bucket's data retention policy."
  type = object({
    is_locked        = bool
    retention_period = number
  })
  default = null
}
