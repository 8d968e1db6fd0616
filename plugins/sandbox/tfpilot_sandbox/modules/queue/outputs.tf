output "id" {
  description = "The queue's id."
  value       = sandbox_queue.this.id
}

output "name" {
  description = "The queue's name."
  value       = sandbox_queue.this.name
}

output "region" {
  description = "The queue's region."
  value       = sandbox_queue.this.region
}
