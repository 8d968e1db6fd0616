"""Fail closed in a job: every capability the configuration selects has an installed plugin.

Where tfpilot runs unattended (a GitHub Actions job installs a set of plugins, then plans),
a policy engine, cost estimator or notifier named in ``tfpilot.toml`` but not installed would
otherwise only cost a warning (an unknown ``[plugins.<name>]`` section) and the job would plan
without policy, cost or notifications. :func:`missing` finds those; :func:`require` turns the
first into one line naming the plugin and the install set.

:func:`missing` and :func:`require` take plain values; :func:`check_host` applies them to a
plugin host. Callers: ``tfpilot init verify`` (run by the ``setup-tfpilot`` action after the
install) and the lifecycle kernel, built in a GitHub Actions job (``GITHUB_ACTIONS=true``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from tfpilot_core.errors import PluginError
from tfpilot_core.registrations import Kind

if TYPE_CHECKING:
    from tfpilot_core.plugins import PluginHost

#: ``[core]`` key -> what it selects (only kinds whose absence would go unnoticed otherwise).
SELECTING_KEYS: dict[str, str] = {
    "policy_engines": "policy engine",
    "cost_estimators": "cost estimator",
    "notifiers": "notifier",
    "summarizer": "summarizer",
    "store": "store",
    "runner": "runner",
}


#: Names users select (or sections they configure) -> the plugin of this repository providing it.
PROVIDED_BY: dict[str, str] = {
    "policy_builtin": "policy_builtin",
    "infracost": "cost_infracost",
    "cost_infracost": "cost_infracost",
    "slack": "notify_slack",
    "notify_slack": "notify_slack",
    "email": "notify_email",
    "notify_email": "notify_email",
    "llm": "summarize_llm",
    "summarize_llm": "summarize_llm",
    "s3": "store_s3",
    "store_s3": "store_s3",
    "github": "runner_github",
    "sandbox": "sandbox",
    "web": "web",
}


def _plugin(name: str) -> str:
    plugin = PROVIDED_BY.get(name)
    return f" (plugin {plugin})" if plugin else ""


def missing(
    selected: Mapping[str, str | Sequence[str] | None],
    registered: Mapping[str, Iterable[str]],
    unread_sections: Iterable[str],
) -> list[str]:
    """What the configuration selects that no installed plugin provides, one phrase each.

    ``selected``: ``[core]`` key -> the name(s) it selects (``None``: all installed);
    ``registered``: the same key -> the names installed plugins register for it;
    ``unread_sections``: ``[plugins.<section>]`` names no installed plugin reads.
    """
    problems: list[str] = []
    for key, what in SELECTING_KEYS.items():
        value = selected.get(key)
        if value is None:
            continue
        names = [value] if isinstance(value, str) else list(value)
        known = set(registered.get(key, ()))
        for name in names:
            if name not in known:
                problems.append(f"the {what} {name!r}{_plugin(name)} ([core] {key})")
    for section in unread_sections:
        problems.append(f"the plugin of [plugins.{section}]{_plugin(section)}")
    return problems


def require(problems: Sequence[str], install_set: str | None) -> None:
    """Raise :class:`PluginError` (exit 5) with one line when ``problems`` is not empty."""
    if not problems:
        return
    where = f"the install set is: {install_set.strip()}" if install_set else "nothing names it"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    raise PluginError(
        f"{problems[0]} is selected in the configuration but not installed{more}: add it to the "
        f"plugins installed with tfpilot ({where})"
    )


def check_host(
    host: PluginHost, install_set: str | None, unread: Sequence[str] | None = None
) -> None:
    """:func:`require` over a plugin host: what its configuration selects against what its
    plugins register. ``unread``: what ``host.validate_settings()`` returned (asked here when
    not given)."""
    kinds = {
        "policy_engines": Kind.POLICY_ENGINE,
        "cost_estimators": Kind.COST_ESTIMATOR,
        "notifiers": Kind.NOTIFIER,
        "summarizer": Kind.SUMMARIZER,
        "store": Kind.STORE,
        "runner": Kind.RUNNER,
    }
    registered = {
        key: [registration.name for _, registration in host.registrations(kind)]
        for key, kind in kinds.items()
    }
    selected = {key: getattr(host.config.core, key) for key in kinds}
    if unread is None:
        unread = host.validate_settings()
    require(missing(selected, registered, unread), install_set)
