# An instance, private unless public_ip is asked for.
resource "sandbox_instance" "this" {
  name      = var.name
  region    = var.region
  tags      = var.tags
  size      = var.size
  public_ip = var.public_ip
}
