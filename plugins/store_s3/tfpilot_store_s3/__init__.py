"""tfpilot plugin package `tfpilot_store_s3`."""
