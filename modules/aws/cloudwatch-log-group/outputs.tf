output "name" {
  description = "The log group name."
  value       = aws_cloudwatch_log_group.this.name
}

output "arn" {
  description = "The log group ARN."
  value       = aws_cloudwatch_log_group.this.arn
}
