"""tfpilot plugin package `tfpilot_policy_builtin`."""
