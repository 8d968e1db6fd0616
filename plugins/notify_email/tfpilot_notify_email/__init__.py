"""tfpilot plugin package ``tfpilot_notify_email``: email notifications over SMTP (README.md)."""
