"""Built-in plugins: registered like any third-party plugin, so none of them is special.

See :data:`tfpilot_core.plugins.DEFAULT_PLUGINS` for the list and its order.
"""
