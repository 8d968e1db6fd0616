"""Where tfpilot's files are: its home, the configuration file, the embedded store's database.

Standard library only, and no tfpilot import: the configuration, the stores and the CLI's start-up
caches all locate files through these rules, so each is written once.
"""

from __future__ import annotations

import os
from typing import Any


def home_dir(environ: Any = None) -> str:
    """``$TFPILOT_HOME``, or ``~/.tfpilot`` (user-expanded)."""
    env = os.environ if environ is None else environ
    return os.path.expanduser(env.get("TFPILOT_HOME") or os.path.join("~", ".tfpilot"))


def locate_config(explicit: str | None, environ: Any) -> tuple[str | None, str | None]:
    """``(path, origin)`` of the configuration file, by the documented order.

    ``origin`` is ``"explicit"`` (``--config``) or ``"TFPILOT_CONFIG"`` when the path was named
    (it may then not exist: the caller reports that); ``None`` when it was found by looking in
    the working directory and the home directory, or when there is none (``path`` ``None``).
    """
    if explicit is not None:
        return explicit, "explicit"
    if environ.get("TFPILOT_CONFIG"):
        return os.path.expanduser(environ["TFPILOT_CONFIG"]), "TFPILOT_CONFIG"
    for candidate in (
        os.path.join(os.getcwd(), "tfpilot.toml"),
        os.path.join(home_dir(environ), "tfpilot.toml"),
    ):
        if os.path.isfile(candidate):
            return candidate, None
    return None, None


def database_file(path: str | None, home: str, config_path: str | None) -> str:
    """Where the ``embedded`` store's database is (the one rule; ``stores.embedded`` uses it).

    Default ``<home>/tfpilot.db``; a relative path is relative to the configuration file's
    directory, or to the home directory when there is no file.
    """
    if path is None:
        return os.path.join(home, "tfpilot.db")
    path = os.path.expanduser(path)
    if os.path.isabs(path):
        return path
    base = os.path.dirname(config_path) if config_path is not None else home
    return os.path.join(base, path)
