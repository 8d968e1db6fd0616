"""tfpilot plugin package `tfpilot_cost_infracost`."""
