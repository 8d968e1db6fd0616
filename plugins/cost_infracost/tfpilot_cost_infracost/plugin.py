"""Hook implementations of the `cost_infracost` plugin.

Not implemented yet: this plugin registers nothing until its own issue lands. It is installed so
that packaging, discovery and `tfpilot plugins` can be tested end to end.
"""
