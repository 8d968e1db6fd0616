"""tfpilot plugin ``cost_infracost``: Infracost estimates and diffs, and budgets as policy."""
