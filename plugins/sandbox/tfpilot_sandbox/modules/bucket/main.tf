# A private, encrypted bucket. public_access and encryption are set explicitly (not left to
# provider defaults) so that an out-of-band change to either is reverted by the next apply.
resource "sandbox_bucket" "this" {
  name          = var.name
  region        = var.region
  tags          = var.tags
  public_access = false
  encryption    = true
  versioning    = var.versioning
}
