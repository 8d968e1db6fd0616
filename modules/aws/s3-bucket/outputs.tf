output "id" {
  description = "The bucket name."
  value       = aws_s3_bucket.this.id
}

output "arn" {
  description = "The bucket ARN."
  value       = aws_s3_bucket.this.arn
}

output "bucket_regional_domain_name" {
  description = "The bucket's regional domain name."
  value       = aws_s3_bucket.this.bucket_regional_domain_name
}
