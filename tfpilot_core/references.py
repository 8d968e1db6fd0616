"""Configuration values that are secrets: ``$env``/``$file`` references and secret-looking keys.

Standard library only: the configuration (which masks them in ``config show``) and the CLI's
configuration snapshot (which never stores them) share these rules.
"""

from __future__ import annotations

from typing import Any

#: Keys whose values are secrets (shown masked by ``config show``, never snapshotted).
SECRET_WORDS = ("password", "secret", "token", "webhook", "api_key", "apikey", "private_key")


def is_reference(value: Any) -> bool:
    """Whether a configuration value is a ``{"$env": ...}`` or ``{"$file": ...}`` reference."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("$env", "$file")
