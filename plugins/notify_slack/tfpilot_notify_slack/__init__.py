"""tfpilot plugin package `tfpilot_notify_slack`."""
