output "url" {
  description = "The queue URL."
  value       = aws_sqs_queue.this.id
}

output "arn" {
  description = "The queue ARN."
  value       = aws_sqs_queue.this.arn
}

output "dlq_arn" {
  description = "The dead-letter queue ARN (null without one)."
  value       = var.dlq_enabled ? aws_sqs_queue.dlq[0].arn : null
}
