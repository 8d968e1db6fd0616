# An encrypted queue. encryption is set explicitly so that drift on it is reverted.
resource "sandbox_queue" "this" {
  name              = var.name
  region            = var.region
  tags              = var.tags
  encryption        = true
  retention_seconds = var.retention_seconds
}
