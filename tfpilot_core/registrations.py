"""What hooks return: typed registrations that the core selects by name and builds.

A plugin never builds its capability at import time. It returns a :class:`Registration` holding a
name, a pydantic model for its ``[plugins.<name>]`` configuration section and a factory. The core
validates the section, then calls ``factory(settings, context)`` only for the capabilities that are
selected, which is where heavy imports (boto3, PyGithub, litellm, ...) belong.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from tfpilot_core.entrypoints import load_object

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import BaseModel

    from tfpilot_core.config import Config

T = TypeVar("T")


def __getattr__(name: str) -> Any:
    # NoSettings is built on first use: plugin modules import this module while `tfpilot --help`
    # starts, and defining a pydantic model there would load most of pydantic.
    if name == "NoSettings":
        from pydantic import BaseModel, ConfigDict

        class NoSettings(BaseModel):
            """The configuration model of a capability that takes no settings."""

            model_config = ConfigDict(extra="forbid")

        globals()["NoSettings"] = NoSettings
        return NoSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Kind(enum.StrEnum):
    """The kinds of capability a plugin can register, one hook each."""

    STORE = "store"
    POLICY_ENGINE = "policy_engine"
    COST_ESTIMATOR = "cost_estimator"
    NOTIFIER = "notifier"
    SUMMARIZER = "summarizer"
    DRIFT_DETECTOR = "drift_detector"
    RUNNER = "runner"
    MODULE_SOURCE = "module_source"
    PROVIDER_MIRROR = "provider_mirror"
    EVENT_OBSERVER = "event_observer"
    ROUTE = "route"
    IDENTITY_PROVIDER = "identity_provider"
    SUGGESTER = "suggester"
    QUESTION_MODEL = "question_model"
    VALUE_PROPOSER = "value_proposer"

    @property
    def decision(self) -> bool:
        """Decision capabilities fail closed: their errors stop the action."""
        return self in _DECISION_KINDS

    @property
    def hook_name(self) -> str:
        """The hook that returns registrations of this kind."""
        return _HOOK_NAMES[self]


_DECISION_KINDS = frozenset(
    {
        Kind.IDENTITY_PROVIDER,
        Kind.STORE,
        Kind.POLICY_ENGINE,
        Kind.RUNNER,
        Kind.MODULE_SOURCE,
        Kind.PROVIDER_MIRROR,
        # A webhook receiver that silently failed to mount would drop events: refuse to serve.
        Kind.ROUTE,
    }
)

_HOOK_NAMES = {
    Kind.STORE: "tfpilot_register_stores",
    Kind.POLICY_ENGINE: "tfpilot_register_policy_engines",
    Kind.COST_ESTIMATOR: "tfpilot_register_cost_estimators",
    Kind.NOTIFIER: "tfpilot_register_notifiers",
    Kind.SUMMARIZER: "tfpilot_register_summarizers",
    Kind.DRIFT_DETECTOR: "tfpilot_register_drift_detectors",
    Kind.RUNNER: "tfpilot_register_runners",
    Kind.MODULE_SOURCE: "tfpilot_register_module_sources",
    Kind.PROVIDER_MIRROR: "tfpilot_register_provider_mirrors",
    Kind.EVENT_OBSERVER: "tfpilot_register_event_observers",
    Kind.ROUTE: "tfpilot_register_routes",
    Kind.IDENTITY_PROVIDER: "tfpilot_register_identity_providers",
    Kind.SUGGESTER: "tfpilot_register_suggesters",
    Kind.QUESTION_MODEL: "tfpilot_register_question_models",
    Kind.VALUE_PROPOSER: "tfpilot_register_value_proposers",
}

#: Kinds whose 0.1 hooks took ``host`` and returned the objects themselves: that shape still
#: works (each object becomes a registration named after its ``id``), with a DeprecationWarning.
LEGACY_OBJECT_KINDS = frozenset({Kind.SUGGESTER, Kind.QUESTION_MODEL, Kind.VALUE_PROPOSER})
#: The kinds whose registrations are asked for once, at start (settings validation, the CLI's
#: configuration snapshot): every kind but those, whose hooks run per use.
START_KINDS: tuple[Kind, ...] = tuple(k for k in Kind if k not in LEGACY_OBJECT_KINDS)


@dataclass(frozen=True)
class PluginContext:
    """What a factory may know about the running tfpilot besides its own settings.

    ``home`` is tfpilot's data directory (``$TFPILOT_HOME``, default ``~/.tfpilot``): a plugin that
    keeps local files keeps them under ``home / <its name>``.
    """

    home: Path
    config_path: Path | None = None
    #: Seconds after which an unfinished run is stale (``[core] stale_after_seconds``); stores
    #: that index status need it to agree with the platform.
    stale_after_seconds: int = 7200
    extra: dict[str, Any] = field(default_factory=dict)
    #: The :class:`~tfpilot_core.plugins.PluginHost` building the capability (set by the host),
    #: for factories that call plugin-defined hooks through ``host.call_extension``.
    host: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def for_config(cls, config: Config) -> PluginContext:
        """The context of a loaded configuration."""
        return cls(
            home=config.home,
            config_path=config.source,
            stale_after_seconds=config.core.stale_after_seconds,
        )


@dataclass(frozen=True)
class Registration(Generic[T]):
    """One capability offered by a plugin.

    ``name`` is what users select in ``tfpilot.toml`` and the section ``[plugins.<name>]`` holds
    its settings, validated by ``settings_model``. Build registrations inside the hook function
    and import the settings model there too, so that importing a plugin stays cheap.
    Registrations of different kinds from the same plugin may share a name and a section (e.g.
    the sandbox plugin's module source, provider mirror and cost estimator are all ``sandbox``)
    as long as they share the model too.
    """

    name: str
    #: The factory, or ``"module:attr"`` naming it: imported only when the capability is built,
    #: so that the plugin's hook module stays cheap to import (see :meth:`build_factory`).
    factory: Callable[[Any, PluginContext], T] | str
    #: ``None``: the capability takes no settings (its section must be empty or absent). Like
    #: ``factory``, a ``"module:attr"`` string is imported on first use (:meth:`model`).
    settings_model: type[BaseModel] | str | None = None
    description: str = ""
    #: The ``[plugins.<section>]`` holding the settings, when it is not ``name``: a plugin whose
    #: capabilities have short names (store ``s3``) keeps one section named after itself
    #: (``[plugins.store_s3]``).
    settings_section: str | None = None
    #: Sections this registration's settings used to live in: still read when ``section`` is
    #: absent, with a deprecation warning on every run (:mod:`tfpilot_core.plugin_sections`).
    deprecated_sections: tuple[str, ...] = ()

    @property
    def section(self) -> str:
        """The configuration section of this registration."""
        return self.settings_section or self.name

    def build_factory(self) -> Callable[[Any, PluginContext], T]:
        """The factory (imported now when it was given as ``"module:attr"``)."""
        if isinstance(self.factory, str):
            return cast("Callable[[Any, PluginContext], T]", load_object(self.factory))
        return self.factory

    def model(self) -> type[BaseModel] | None:
        """The settings model (imported now when it was given as ``"module:attr"``)."""
        if isinstance(self.settings_model, str):
            return cast("type[BaseModel]", load_object(self.settings_model))
        return self.settings_model


@dataclass(frozen=True)
class ProviderMirror:
    """A Terraform provider that a plugin makes available offline.

    ``directory`` is laid out as Terraform's ``filesystem_mirror`` expects
    (``<dir>/<hostname>/<namespace>/<type>/<version>/<os_arch>/terraform-provider-<type>_v<version>``),
    ``source`` is the provider's source address (``tfpilot/sandbox``), and ``env`` holds
    environment variables the runner must pass to Terraform for the provider to work.
    """

    source: str
    directory: Path
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Routes:
    """HTTP routes a plugin contributes to ``tfpilot serve`` (the ``tfpilot-web`` plugin).

    ``prefix`` is where they are mounted (``/hooks/github``; it must start with ``/`` and must
    not be ``/api`` or a page of the UI). ``app`` is called once with the
    :class:`~tfpilot_core.platform.Platform` when the server starts and returns an ASGI
    application (a FastAPI or Starlette app, or any ASGI callable) or a FastAPI ``APIRouter``.
    A router is included in the server's own app, so its routes share the server's
    authentication dependencies, error handling (RFC 9457 problem details) and OpenAPI
    description; an application is mounted under the prefix, with the server's error handlers
    added when it is a Starlette app. Every request reaching either carries the authenticated
    actor (or ``None``) as ``request.state.actor``. ``public=False`` makes the server refuse
    requests without credentials (401) before they reach the routes; webhooks and callbacks that
    verify their own signatures stay ``public=True``.
    """

    prefix: str
    app: Callable[[Any], Any]
    public: bool = True
    description: str = ""
