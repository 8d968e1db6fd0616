locals {
  tags = merge(var.tags, { Name = var.name })
  # SSE-SQS and SSE-KMS are mutually exclusive in the API: set exactly one of them.
  sqs_managed_sse = var.kms_key_arn == null ? true : null
}

resource "aws_sqs_queue" "dlq" {
  count = var.dlq_enabled ? 1 : 0

  name = "${var.name}-dlq"
  # Keep failed messages as long as SQS allows, to leave time for investigation.
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = local.sqs_managed_sse
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 300
  tags                              = merge(local.tags, { Name = "${var.name}-dlq" })
}

resource "aws_sqs_queue" "this" {
  name                              = var.name
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  sqs_managed_sse_enabled           = local.sqs_managed_sse
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 300

  redrive_policy = var.dlq_enabled ? jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[0].arn
    maxReceiveCount     = var.max_receive_count
  }) : null

  tags = local.tags
}

# Only this queue may use the dead-letter queue.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  count     = var.dlq_enabled ? 1 : 0
  queue_url = aws_sqs_queue.dlq[0].id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this.arn]
  })
}
