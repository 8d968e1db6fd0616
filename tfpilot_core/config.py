"""Configuration: ``tfpilot.toml``, ``TFPILOT_*`` overrides, and secret references.

Where the file comes from, first match wins: ``--config PATH``; ``$TFPILOT_CONFIG``;
``./tfpilot.toml``; ``$TFPILOT_HOME/tfpilot.toml`` (``TFPILOT_HOME`` defaults to ``~/.tfpilot``).
No file at all is fine: every setting has a default.

Environment overrides use ``TFPILOT_<SECTION>__<KEY>`` with ``__`` between levels, e.g.
``TFPILOT_CORE__STORE=s3`` or ``TFPILOT_PLUGINS__STORE_S3__BUCKET=my-bucket``; values are read as
JSON when they parse as JSON (numbers, booleans, lists) and as strings otherwise.

A plugin setting may be a secret reference instead of a value: ``{ "$env" = "VAR" }`` or
``{ "$file" = "path" }``. References are resolved only when the plugin is built, and
``tfpilot config show`` prints them masked.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from tfpilot_core.errors import ConfigError, UnknownEnvironmentError, did_you_mean
from tfpilot_core.models import DEFAULT_ENVIRONMENTS, Environment, Role
from tfpilot_core.notifications.settings import NotificationSettings
from tfpilot_core.paths import home_dir, locate_config
from tfpilot_core.references import SECRET_WORDS, is_reference
from tfpilot_core.telemetry import register_secrets

ENV_PREFIX = "TFPILOT_"
#: Environment variables that are tfpilot's own switches, not configuration overrides.
_NOT_OVERRIDES = {
    "TFPILOT_CONFIG",
    "TFPILOT_HOME",
    "TFPILOT_LOAD_PLUGINS",
    "TFPILOT_DISABLE_PLUGINS",
}


class Grant(BaseModel):
    """A role granted for some projects and environments (``[[users.<name>.grants]]``).

    An empty ``projects`` or ``environments`` list means every one.
    """

    model_config = ConfigDict(extra="forbid")

    role: Role
    projects: list[str] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)

    def covers(self, project: str, environment: str) -> bool:
        """Whether this grant applies to ``project`` in ``environment``."""
        return (not self.projects or project in self.projects) and (
            not self.environments or environment in self.environments
        )


class UserSettings(BaseModel):
    """A user (``[users.<name>]``): a global role and/or grants per project and environment.

    ``role`` is the user's role everywhere. A user with ``grants`` and no ``role`` has no rights
    outside their grants (not even reading); a user with neither gets ``[core] default_role``.
    """

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    grants: list[Grant] = Field(default_factory=list)
    email: str | None = None
    #: The user's Slack member id (``U0123ABCD``), for direct messages.
    slack: str | None = None


class PromotionSettings(BaseModel):
    """``[core.promotion]``: the promotion path and its gates (see :mod:`tfpilot_core.promotion`).

    ``soak_hours`` and ``max_drift_check_age_hours`` are keyed by the *source* environment
    (``"*"``: every environment without its own entry).
    """

    model_config = ConfigDict(extra="forbid")

    #: An explicit environment path per project (default: the order of ``[core] environments``).
    paths: dict[str, list[str]] = Field(default_factory=dict)
    #: How long a request must have been applied before it may be promoted.
    soak_hours: dict[str, float] = Field(default_factory=dict)
    #: The source's last drift check must be newer than this many hours.
    max_drift_check_age_hours: dict[str, float] = Field(default_factory=dict)


class CoreSettings(BaseModel):
    """The ``[core]`` section: which capabilities are used, and the environments."""

    model_config = ConfigDict(extra="forbid")

    #: The store (a registration name): ``embedded`` by default.
    store: str = "embedded"
    #: The runner: ``local`` (Terraform on this machine) by default.
    runner: str = "local"
    #: The summariser tried first; ``rules`` is always the fallback.
    summarizer: str = "rules"
    drift_detector: str = "refresh"
    #: ``None`` selects every installed one.
    policy_engines: list[str] | None = None
    cost_estimators: list[str] | None = None
    notifiers: list[str] | None = None
    #: The role of users listed under ``[users]`` with neither a ``role`` nor ``grants``.
    default_role: Role = Role.VIEWER
    #: What users not listed under ``[users]`` may do: ``"none"`` (the default: nothing, not
    #: even read) or a role name (e.g. ``"viewer"``, the behaviour before 0.3, by choice).
    unknown_users: Role | Literal["none"] = "none"
    environments: list[Environment] = Field(default_factory=lambda: list(DEFAULT_ENVIRONMENTS))
    #: Seconds after which an unfinished run counts as stale (and its lock as expired).
    stale_after_seconds: int = Field(default=7200, ge=60)
    #: The environment variable holding the key that signs each request's event-chain anchor
    #: (HMAC-SHA256), so that a forged append or a moved anchor is detected by ``audit
    #: verify``; unset: anchors are kept unsigned (truncation and rewritten tails are still
    #: detected). The key itself never sits in the file.
    chain_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    #: Limits on request inputs (see :mod:`tfpilot_core.limits`).
    max_input_depth: int = Field(default=32, ge=1, le=256)
    max_value_bytes: int = Field(default=64 * 1024, ge=1)
    max_request_bytes: int = Field(default=256 * 1024, ge=1)
    #: The identity provider (``local``: ``--as``/``$TFPILOT_USER``; see docs/security.md).
    identity: str = "local"
    #: On a shared store (any but ``embedded``), whether the unverified user of the ``local``
    #: provider (``--as``, ``$TFPILOT_USER``, ``$GITHUB_ACTOR``, ``$USER``) is trusted as
    #: given. Off by default: on a shared store such a name may only read, and acting needs a
    #: verified identity (``api_token``, ``github_actions``) or this explicit choice
    #: (see docs/security.md).
    trust_local_user: bool = False
    #: Promotion path and gates (``[core.promotion]``).
    promotion: PromotionSettings = Field(default_factory=PromotionSettings)


class FileSettings(BaseModel):
    """The whole file, as validated (plugin sections are validated by their plugins)."""

    model_config = ConfigDict(extra="forbid")

    core: CoreSettings = Field(default_factory=CoreSettings)
    users: dict[str, UserSettings] = Field(default_factory=dict)
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)


@dataclass
class Config:
    """The effective configuration, and where it came from."""

    core: CoreSettings
    users: dict[str, UserSettings]
    plugins: dict[str, dict[str, Any]]
    home: Path
    source: Path | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    #: Directory that ``$file`` references are relative to.
    base_dir: Path = field(default_factory=Path.cwd)
    #: The ``[notifications]`` section (see :mod:`tfpilot_core.notifications`).
    notifications: NotificationSettings = field(default_factory=NotificationSettings)

    def _standing(self, user: str) -> tuple[Role | None, list[Grant]] | None:
        """``user``'s role everywhere (``None``: none) and grants; ``None`` for a user not under
        ``[users]`` while ``[core] unknown_users = "none"`` (no rights at all).

        The one reading of ``[users]``, ``default_role`` and ``unknown_users`` that
        :meth:`role_of`, :meth:`role_for` and :meth:`limit_to_reads` share.
        """
        found = self.users.get(user)
        if found is None:
            unknown = self.core.unknown_users
            return None if unknown == "none" else (Role(unknown), [])
        if found.role is not None:
            return found.role, found.grants
        # Neither a role nor grants: the default role; grants only: no role outside them.
        return (self.core.default_role if not found.grants else None), found.grants

    def role_of(self, user: str) -> Role:
        """The global role of ``user`` (``unknown_users`` if not listed).

        A user with only scoped grants, or an unknown user when ``unknown_users = "none"``, has
        no global role; this returns ``viewer`` for them, for display only. Access decisions
        use :meth:`role_for`.
        """
        standing = self._standing(user)
        role = standing[0] if standing is not None else None
        return Role.VIEWER if role is None else role

    def limit_to_reads(self, user: str) -> None:
        """From now on, ``user`` holds at most ``viewer`` wherever they held a role (in place).

        For a user this process cannot vouch for (an unverified name on a shared store, see
        :func:`tfpilot_core.identity.untrusted_reason`): every decision reads the roles from
        here, so none of them can grant more than a read, and where they could read is kept.
        """
        standing = self._standing(user)
        if standing is None:
            return
        role, grants = standing
        self.users[user] = (self.users.get(user) or UserSettings()).model_copy(
            update={
                "role": Role.VIEWER if role is not None else None,
                "grants": [g.model_copy(update={"role": Role.VIEWER}) for g in grants],
            }
        )

    def role_for(self, user: str, *, project: str, environment: str) -> Role | None:
        """The highest role ``user`` holds for ``project`` in ``environment``, or ``None``.

        A user not under ``[users]`` holds ``[core] unknown_users`` (``"none"``: ``None``).
        """
        standing = self._standing(user)
        if standing is None:
            return None
        role, grants = standing
        roles = [role] if role is not None else []
        roles += [g.role for g in grants if g.covers(project, environment)]
        return max(roles, key=lambda r: r.rank) if roles else None

    def environment(self, key: str) -> Environment:
        """The environment named ``key``.

        An unknown key is invalid input from whoever named it (exit 3), not a fault of the
        configuration: :class:`~tfpilot_core.errors.UnknownEnvironmentError`.
        """
        for env in self.core.environments:
            if env.key == key:
                return env
        raise UnknownEnvironmentError(key, [e.key for e in self.core.environments])


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    """``$TFPILOT_HOME``, or ``~/.tfpilot``."""

    return Path(home_dir(os.environ if environ is None else environ))


def find_config_file(explicit: Path | None, environ: Mapping[str, str]) -> Path | None:
    """The configuration file to read, by the documented order; ``None`` if there is none.

    The order itself is :func:`tfpilot_core.paths.locate_config` (the CLI's start-up caches use it).
    """

    found, origin = locate_config(None if explicit is None else str(explicit), environ)
    if found is None:
        return None
    path = Path(found)
    if origin is not None and not path.is_file():
        where = " (from TFPILOT_CONFIG)" if origin == "TFPILOT_CONFIG" else ""
        raise ConfigError(f"configuration file not found{where}", source=str(path))
    return path


def _parse_override(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _apply_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    applied: dict[str, str] = {}
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name in _NOT_OVERRIDES or "__" not in name:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        if any(not part for part in path):
            continue
        target = data
        for part in path[:-1]:
            existing = target.setdefault(part, {})
            if not isinstance(existing, dict):
                raise ConfigError(f"cannot override inside a non-table value {part!r}", source=name)
            target = existing
        target[path[-1]] = _parse_override(value)
        applied[".".join(path)] = name
    return applied


def load_config(path: Path | None = None, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read, override and validate the configuration.

    Raises :class:`ConfigError` naming the file, the key and the reason.
    """
    env = os.environ if environ is None else environ
    source = find_config_file(path, env)
    data: dict[str, Any] = {}
    if source is not None:
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}", source=str(source)) from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"not UTF-8 text: {exc.reason}", source=str(source)) from None
        except RecursionError:
            raise ConfigError("nested too deeply to read", source=str(source)) from None
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror}", source=str(source)) from None
    overrides = _apply_overrides(data, env)
    try:
        settings = FileSettings.model_validate(data)
    except PydanticValidationError as exc:
        problem = exc.errors()[0]
        key = ".".join(str(p) for p in problem["loc"])
        origin = overrides.get(key)
        where = f"{source or '<no file>'}" + (f" (overridden by ${origin})" if origin else "")
        raise ConfigError(_problem_text(problem), source=where, key=key) from None
    except RecursionError:
        raise ConfigError("nested too deeply to read", source=str(source)) from None
    keys = [e.key for e in settings.core.environments]
    if len(set(keys)) != len(keys):
        raise ConfigError(
            "environment keys must be unique", source=str(source), key="core.environments"
        )
    for i, environment in enumerate(settings.core.environments):
        if environment.protected and environment.auto_apply:
            # Auto-apply skips the approval that protection exists to require.
            raise ConfigError(
                f"environment {environment.key!r} is both protected and auto_apply: a protected "
                "environment needs an approval before every apply; choose one",
                source=str(source),
                key=f"core.environments[{i}]",
            )
    return Config(
        core=settings.core,
        users=settings.users,
        plugins=settings.plugins,
        home=default_home(env),
        source=source,
        overrides=overrides,
        base_dir=source.parent if source else Path.cwd(),
        notifications=settings.notifications,
    )


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed in the table at ``loc`` of the file (empty when it is not a model)."""
    model: Any = FileSettings
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        if isinstance(part, int):
            continue  # an element of an array of tables
        field_info = getattr(model, "model_fields", {}).get(part)
        if field_info is None:
            return []
        annotation: Any = field_info.annotation
        if getattr(annotation, "__origin__", None) is dict:
            if not parts:
                return []  # the table itself holds free names ([users], [plugins])
            parts.pop(0)  # [users.<name>]: a name, not a key
        args = [annotation, *getattr(annotation, "__args__", ())]
        models = [a for a in args if hasattr(a, "model_fields")]
        if not models:
            return []
        model = models[-1]
    return list(getattr(model, "model_fields", {}))


def _problem_text(problem: Any) -> str:
    """tfpilot's own words for a pydantic problem in the file (a misspelt key gets a hint)."""
    if problem.get("type") == "extra_forbidden":
        loc = tuple(problem["loc"])
        allowed = _fields_at(loc[:-1])
        hint = did_you_mean(str(loc[-1]), allowed)
        known = f"; known keys: {', '.join(allowed)}" if allowed and not hint else ""
        return f"unknown key {str(loc[-1])!r}{hint}{known}"
    if problem.get("type") == "missing":
        return "a required key is missing"
    return str(problem["msg"])


def _secret(value: str) -> str:
    # A resolved secret must never reach a log line, whichever plugin logs it.

    register_secrets([value])
    return value


def resolve_secrets(value: Any, config: Config, *, key: str = "") -> Any:
    """``value`` with every ``{"$env": VAR}`` / ``{"$file": path}`` replaced by what it names."""
    if is_reference(value):
        ((kind, target),) = value.items()
        if not isinstance(target, str):
            raise ConfigError(
                f"{kind} reference must be a string", source=str(config.source), key=key
            )
        if kind == "$env":
            if target not in os.environ:
                raise ConfigError(
                    f"environment variable {target} (referenced by $env) is not set",
                    source=str(config.source),
                    key=key,
                )
            return _secret(os.environ[target])
        file = (config.base_dir / target).expanduser()
        try:
            return _secret(file.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ConfigError(
                f"cannot read {file} (referenced by $file): {exc.strerror}",
                source=str(config.source),
                key=key,
            ) from None
    if isinstance(value, dict):
        return {
            k: resolve_secrets(v, config, key=f"{key}.{k}" if key else k) for k, v in value.items()
        }
    if isinstance(value, list):
        return [resolve_secrets(v, config, key=f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def masked(value: Any, *, key: str = "") -> Any:
    """``value`` safe to print: references shown by what they name, secret-looking keys hidden."""
    if is_reference(value):
        ((kind, target),) = value.items()
        return f"***({kind}:{target})"
    if isinstance(value, dict):
        return {k: masked(v, key=k) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, key=key) for v in value]
    if isinstance(value, str) and any(word in key.lower() for word in SECRET_WORDS):
        return "***"
    return value


def effective(config: Config) -> dict[str, Any]:
    """The effective configuration as data, secrets masked (``tfpilot config show``)."""
    return {
        "source": str(config.source) if config.source else None,
        "home": str(config.home),
        "overrides": config.overrides,
        "core": config.core.model_dump(mode="json"),
        "users": {k: v.model_dump(mode="json") for k, v in config.users.items()},
        "plugins": masked(config.plugins),
    }
