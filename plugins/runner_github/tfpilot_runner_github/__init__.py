"""Terraform runs in GitHub Actions (see docs/github.md)."""
