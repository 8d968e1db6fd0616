"""Terraform's CLI configuration file (``TF_CLI_CONFIG_FILE``), written by tfpilot.

It holds only tfpilot-controlled values (mirror directories, provider source addresses that
passed a strict pattern, a cache directory): never a user value. Every provider that a plugin
mirrors is installed from its ``filesystem_mirror`` only, and ``direct`` excludes it, so ``init``
never reaches for a registry for it (offline, such a look-up fails only after about a second, and
online it would be a supply-chain hole). Providers nobody mirrors still install directly unless
``direct`` is turned off.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tfpilot_core.terraform.render import normalize_source

if TYPE_CHECKING:
    from tfpilot_core.registrations import ProviderMirror

__all__ = ["hcl_string", "render_cli_config"]


def hcl_string(value: str) -> str:
    """``value`` as a quoted string of the CLI configuration's syntax.

    Terraform reads its CLI configuration with HCL 1, where ``${`` and ``%{`` are plain text
    (escaping them as ``$${`` would put the escape itself into the path: checked with a mirror
    directory named ``m${x}%{y}"q``). Quotes, backslashes and control characters are escaped.
    """
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def _list(values: Sequence[str]) -> str:
    return "[" + ", ".join(hcl_string(v) for v in values) + "]"


def render_cli_config(
    mirrors: Sequence[ProviderMirror],
    *,
    direct: bool = True,
    plugin_cache_dir: Path | None = None,
) -> str:
    """The CLI configuration text for ``mirrors`` (deterministic: mirrors sorted by source).

    :param direct: keep a ``direct`` installation method for providers nobody mirrors; without
        it, an unmirrored provider fails ``init`` at once with Terraform's own clear error.
    :param plugin_cache_dir: share downloaded providers between working directories.
    :raises ConfigError: a mirror's source is not a provider source address.
    """
    by_dir: dict[str, set[str]] = {}
    for mirror in mirrors:
        directory = str(Path(mirror.directory).expanduser().resolve())
        by_dir.setdefault(directory, set()).add(normalize_source(mirror.source))
    lines = ["# Written by tfpilot: do not edit (rewritten before every run).", ""]
    # The checkpoint service is Terraform's version/advisory call home: never wanted here.
    lines.append("disable_checkpoint = true")
    if plugin_cache_dir is not None:
        lines.append(f"plugin_cache_dir   = {hcl_string(str(plugin_cache_dir))}")
    lines += ["", "provider_installation {"]
    excluded: set[str] = set()
    for directory in sorted(by_dir):
        includes = sorted(by_dir[directory])
        excluded.update(includes)
        lines += [
            "  filesystem_mirror {",
            f"    path    = {hcl_string(directory)}",
            f"    include = {_list(includes)}",
            "  }",
        ]
    if direct:
        lines.append("  direct {")
        if excluded:
            lines.append(f"    exclude = {_list(sorted(excluded))}")
        lines.append("  }")
    lines += ["}", ""]
    return "\n".join(lines)
