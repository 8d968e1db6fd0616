"""uvicorn's logging, scrubbed: the one scrubber of :mod:`tfpilot_core.scrub` on every handler.

uvicorn logs outside structlog (its error log, and an access log with each request's path and
query string). :func:`uvicorn_log_config` is uvicorn's own configuration with
:class:`~tfpilot_core.scrub.ScrubFilter` on each handler, and a scrubbed root handler for any
other library's lines, so a token in a query string or a traceback never reaches the log.
"""

from __future__ import annotations

import copy
from typing import Any


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's ``LOGGING_CONFIG`` with every handler scrubbed (pass as ``log_config``)."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["tfpilot_scrub"] = {"()": "tfpilot_core.scrub.ScrubFilter"}
    config["handlers"]["tfpilot_root"] = {
        "formatter": "default",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "tfpilot_scrub"]
    config["root"] = {"handlers": ["tfpilot_root"], "level": "WARNING"}
    return config
