output "id" {
  description = "The instance's id."
  value       = sandbox_instance.this.id
}

output "name" {
  description = "The instance's name."
  value       = sandbox_instance.this.name
}

output "region" {
  description = "The instance's region."
  value       = sandbox_instance.this.region
}

output "ip_address" {
  description = "The instance's private IP address."
  value       = sandbox_instance.this.ip_address
}
