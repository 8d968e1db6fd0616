output "id" {
  description = "The bucket's id."
  value       = sandbox_bucket.this.id
}

output "name" {
  description = "The bucket's name."
  value       = sandbox_bucket.this.name
}

output "region" {
  description = "The bucket's region."
  value       = sandbox_bucket.this.region
}
