"""tfpilot plugin package ``tfpilot_notify_slack``: Slack notifications (see README.md)."""
