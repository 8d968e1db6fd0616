output "name" {
  description = "The repository name."
  value       = aws_ecr_repository.this.name
}

output "arn" {
  description = "The repository ARN."
  value       = aws_ecr_repository.this.arn
}

output "repository_url" {
  description = "The URL to push and pull images."
  value       = aws_ecr_repository.this.repository_url
}
