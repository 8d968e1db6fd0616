output "name" {
  description = "The role name."
  value       = aws_iam_role.this.name
}

output "arn" {
  description = "The role ARN."
  value       = aws_iam_role.this.arn
}
