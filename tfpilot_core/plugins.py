"""The typed :class:`PluginHost`: the only caller of hooks (discovery is :mod:`.discovery`).

:class:`PluginHost` walks hook implementations one plugin at a time so that every result, span,
log line and error is attributed to the plugin that produced it, and applies the error policy:
decision capabilities fail closed, side-effect capabilities are isolated and recorded.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

# The host traces every hook call: load the OpenTelemetry API (hookcalls spans are real then).
import opentelemetry.trace  # noqa: F401
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

import tfpilot_core.registrations as registrations
from tfpilot_core.config import resolve_secrets
from tfpilot_core.discovery import (
    DEFAULT_PLUGINS,
    ENTRY_POINT_GROUP,
    Failure,
    LoadedPlugins,
    PluginInfo,
    load_plugins,
    new_manager,
    register_commands,
)
from tfpilot_core.errors import (
    ConfigError,
    DuplicateRegistrationError,
    PluginError,
)
from tfpilot_core.failures import Explanation, FailureExplainer, explain_failure
from tfpilot_core.hookcalls import HookCaller
from tfpilot_core.log import get_logger
from tfpilot_core.masking import scrub_secrets
from tfpilot_core.models import DriftReport, DriftResult
from tfpilot_core.plugin_sections import deprecated_in_use, lookup, warn, warn_unknown
from tfpilot_core.registrations import (
    LEGACY_OBJECT_KINDS,
    START_KINDS,
    Kind,
    PluginContext,
    ProviderMirror,
    Registration,
    Routes,
)
from tfpilot_core.run_logs.correlation import join_session

if TYPE_CHECKING:
    from tfpilot_core.config import Config
    from tfpilot_core.interfaces import (
        CostEstimator,
        DriftDetector,
        EventObserver,
        IdentityProvider,
        ModuleLocation,
        ModuleSource,
        Notifier,
        PolicyEngine,
        PolicyInput,
        Runner,
        RunSpec,
        Store,
        Summarizer,
        SummaryContext,
    )
    from tfpilot_core.models import (
        CostEstimate,
        Event,
        PlanSummary,
        PolicyFinding,
        Request,
    )
    from tfpilot_core.plan import Plan

T = TypeVar("T")
# Logging through the facade, as in discovery: debug lines must not cost structlog's import.
log: Any = get_logger("tfpilot.plugins")

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "Failure",
    "LoadedPlugins",
    "PluginHost",
    "PluginInfo",
    "load_plugins",
    "new_manager",
    "register_commands",
]


@dataclass
class _Selected:
    plugin: str
    registration: Registration[Any]


def _config_keys() -> dict[Kind, str]:
    # The configuration key that selects each kind (several kinds are lists, named plurally).
    return {
        Kind.STORE: "core.store",
        Kind.RUNNER: "core.runner",
        Kind.SUMMARIZER: "core.summarizer",
        Kind.DRIFT_DETECTOR: "core.drift_detector",
        Kind.POLICY_ENGINE: "core.policy_engines",
        Kind.COST_ESTIMATOR: "core.cost_estimators",
        Kind.NOTIFIER: "core.notifiers",
        Kind.IDENTITY_PROVIDER: "core.identity",
    }


_CONFIG_KEYS = _config_keys()


class PluginHost(HookCaller):
    """The typed facade through which the core uses plugins.

    One method per capability, so mypy checks every call site. Every call opens a span
    (``tfpilot.hook``) and a child span per plugin implementation (``tfpilot.plugin``), binds the
    same fields into the structlog context, and applies the error policy of the capability's
    :class:`~tfpilot_core.registrations.Kind`.
    """

    def __init__(
        self,
        plugins: LoadedPlugins,
        config: Config,
        context: PluginContext,
        *,
        allow_conflicts: bool = False,
    ) -> None:
        """:param allow_conflicts: build a host even when two plugins share a name (only to
        validate settings for ``config show``, which reports the conflict)."""
        from dataclasses import replace

        if not allow_conflicts:
            plugins.check_conflicts()
        super().__init__(plugins)
        # The session's trace starts here, not at the kernel: the registration spans of
        # validate_settings (and every hook call) belong to the command's trace.
        join_session()
        self.config = config
        # Factories reach the facade through their context, to call plugin-defined hooks.
        self.context = replace(context, host=self)
        self._registrations: dict[Kind, list[_Selected]] = {}
        self._built: dict[tuple[Kind, str], Any] = {}

    def registrations(self, kind: Kind) -> list[tuple[str, Registration[Any]]]:
        """Every registration of ``kind`` with the plugin that made it.

        Two registrations of one kind under one name raise :class:`DuplicateRegistrationError`
        naming both plugins.
        """
        if kind not in self._registrations:
            found: list[_Selected] = []
            by_name: dict[str, str] = {}
            hook = kind.hook_name
            with self._span(hook, hook=hook):
                for impl in reversed(self.plugins.manager.hook.__dict__[hook].get_hookimpls()):
                    plugin = impl.plugin_name
                    # Only the deprecated shape of the object kinds names ``host``.
                    call = (
                        partial(impl.function, host=self)
                        if "host" in impl.argnames
                        else impl.function
                    )
                    result = self.call(kind, plugin, hook, call)
                    for registration in result or []:
                        if kind in LEGACY_OBJECT_KINDS and not isinstance(
                            registration, Registration
                        ):
                            registration = _legacy_registration(kind, plugin, registration)
                        if not isinstance(registration, Registration):
                            error = PluginError(
                                f"plugin {plugin!r}: {hook} must return Registration objects, "
                                f"got {type(registration).__name__}",
                                plugin=plugin,
                            )
                            if kind.decision:
                                raise error
                            self.failures.append(Failure(kind.value, plugin, hook, error.message))
                            continue
                        if registration.name in by_name:
                            raise DuplicateRegistrationError(
                                f"{kind.value} {registration.name!r} is registered by both "
                                f"plugin {by_name[registration.name]!r} and plugin {plugin!r}",
                                plugin=plugin,
                            )
                        by_name[registration.name] = plugin
                        found.append(_Selected(plugin, registration))
            self._registrations[kind] = found
        return [(s.plugin, s.registration) for s in self._registrations[kind]]

    def settings_for(self, registration: Registration[Any]) -> BaseModel:
        """Validate ``[plugins.<section>]`` against the registration's model (secrets resolved).

        The section is the registration's, else one of its deprecated names
        (:func:`tfpilot_core.plugin_sections.lookup`).
        """
        section, raw = lookup(
            self.config.plugins,
            registration.section,
            registration.deprecated_sections,
            source=str(self.config.source or "<defaults>"),
        )
        model = registration.model() or registrations.NoSettings
        try:
            return model.model_validate(resolve_secrets(raw, self.config))
        except PydanticValidationError as exc:
            problem = exc.errors()[0]
            key = ".".join(str(p) for p in ("plugins", section, *problem["loc"]))
            raise ConfigError(
                problem["msg"], source=str(self.config.source or "<defaults>"), key=key
            ) from None
        except ConfigError:
            raise

    def validate_settings(self) -> list[str]:
        """Validate every ``[plugins.<section>]`` of the configuration now, at start.

        Raises :class:`ConfigError` (file, key, reason) for the first invalid section; returns
        the sections no installed plugin reads (a plugin uninstalled or misspelt), which callers
        warn about rather than refuse, so that a shared file can configure optional plugins.
        """
        if not self.config.plugins:
            # Nothing to check; asking every kind for its registrations would import every
            # plugin's settings module, which costs a small command a good part of its time.
            return []
        readers: dict[str, list[Registration[Any]]] = {}
        # Suggesters, question models and value proposers are asked for when used (their hooks
        # run per use) and validate their settings then; a section only they read is "unknown"
        # here only if no other capability of the plugin reads it too.
        for kind in START_KINDS:
            for _, registration in self.registrations(kind):
                readers.setdefault(registration.section, []).append(registration)
                # A deprecated name is read too, with a warning on every run (first, so that
                # it is seen even when the section's values are refused below).
                for old, new in deprecated_in_use(
                    self.config.plugins, registration.section, registration.deprecated_sections
                ):
                    warn(old, new)
                for old in registration.deprecated_sections:
                    readers.setdefault(old, []).append(registration)
        unknown = []
        for section in self.config.plugins:
            if section not in readers:
                unknown.append(section)
                continue
            for registration in readers[section]:
                if registration.settings_model is not None:  # a string is imported by settings_for
                    self.settings_for(registration)
        for section in unknown:
            warn_unknown(section)
        return unknown

    def _build(self, kind: Kind, name: str, *, optional: bool = False) -> tuple[str, Any] | None:
        for plugin, registration in self.registrations(kind):
            if registration.name != name:
                continue
            key = (kind, name)
            if key not in self._built:
                settings = self.settings_for(registration)
                self._built[key] = self.call(
                    kind,
                    plugin,
                    f"{kind.value}.build",
                    lambda r=registration, s=settings: r.build_factory()(s, self.context),  # type: ignore[misc]
                )
            built = self._built[key]
            return None if built is None else (plugin, built)
        if optional:
            return None
        broken = [f for f in self.failures if f.kind == kind.value and f.hook == kind.hook_name]
        if broken:
            # The capability may well be installed: its plugin's registration hook raised, so
            # nothing it registers is known. Say so, instead of "not installed".
            failure = broken[0]
            raise PluginError(
                f"{_CONFIG_KEYS.get(kind, f'core.{kind.value}')} selects {kind.value} {name!r}, "
                f"but plugin {failure.plugin!r} ({self.plugins.info(failure.plugin).distribution})"
                f" failed in {failure.hook}: {failure.error}",
                plugin=failure.plugin,
            )
        available = ", ".join(sorted(r.name for _, r in self.registrations(kind))) or "none"
        raise ConfigError(
            f"no {kind.value} named {name!r} is installed (available: {available})",
            source=str(self.config.source or "<defaults>"),
            key=f"core.{kind.value}",
        )

    def _selected(self, kind: Kind, names: Sequence[str] | None) -> list[tuple[str, Any]]:
        """Build every selected registration of a multi-valued kind.

        ``names=None`` selects all; a registration selected that way whose settings do not
        validate is skipped with a warning (e.g. a notifier nobody configured), except for
        decision kinds, which never skip silently.
        """
        built: list[tuple[str, Any]] = []
        wanted = names if names is not None else [r.name for _, r in self.registrations(kind)]
        for name in wanted:
            try:
                found = self._build(kind, name, optional=False)
            except ConfigError as exc:
                if names is None and not kind.decision:
                    log.debug("capability_skipped", kind=kind.value, name=name, reason=exc.message)
                    continue
                raise
            if found is not None:
                built.append((name, found[1]))
        return built

    def policy_engines(self) -> list[tuple[str, PolicyEngine]]:
        """The selected policy engines, built, by name (``[core] policy_engines``; unset: all).

        For questions about policy other than judging a request (``effective_policy``);
        judging goes through :meth:`evaluate_policy`, which traces and fails closed.
        """
        return self._selected(Kind.POLICY_ENGINE, self.config.core.policy_engines)

    def suggesters(self) -> list[tuple[str, Any]]:
        """``(plugin, suggester)`` for every registered suggester (isolated: broken ones skip)."""
        return self._objects(Kind.SUGGESTER)

    def question_models(self) -> list[tuple[str, Any]]:
        """``(plugin, model)`` for every registered question model, in registration order."""
        return self._objects(Kind.QUESTION_MODEL)

    def value_proposers(self) -> list[tuple[str, Any]]:
        """``(plugin, proposer)`` for every registered value proposer, in registration order."""
        return self._objects(Kind.VALUE_PROPOSER)

    def _objects(self, kind: Kind) -> list[tuple[str, Any]]:
        # Asked anew each time (these hooks were called per use in 0.1, and a plugin may offer
        # different objects as its configuration changes): nothing of the kind is cached.
        self._registrations.pop(kind, None)
        for key in [k for k in self._built if k[0] is kind]:
            del self._built[key]
        return [(self._plugin_of(kind, name), built) for name, built in self._selected(kind, None)]

    def prepare(self) -> None:
        """Build what a write will use (the store, the selected notifiers, the observers) now.

        Called before anything is stored, so that a selected capability whose plugin is broken
        stops the command (a :class:`PluginError`, exit 5) without leaving a half-done write.
        """
        self.store()
        self.notifiers()
        self._selected(Kind.EVENT_OBSERVER, None)

    def _traced(self, kind: Kind, name: str) -> Any:
        found = self._build(kind, name)
        assert found is not None  # decision kinds raise instead of returning None
        plugin, obj = found
        return _TracedProxy(self, kind, plugin, obj)

    # -- typed facade ------------------------------------------------------------------------

    def store(self) -> Store:
        """The configured store (``[core] store``), traced and failing closed."""
        return cast("Store", self._traced(Kind.STORE, self.config.core.store))

    def runner(self, name: str | None = None) -> Runner:
        """The configured runner (``[core] runner``), or the one named ``name``.

        Traced and failing closed. A job executing a dispatched attempt names the runner that
        runs Terraform where it is (``local``), not the configured dispatcher.
        """
        return cast("Runner", self._traced(Kind.RUNNER, name or self.config.core.runner))

    def identity_provider(self) -> IdentityProvider:
        """The configured identity provider (``[core] identity``), failing closed."""
        return cast(
            "IdentityProvider", self._traced(Kind.IDENTITY_PROVIDER, self.config.core.identity)
        )

    def has(self, kind: Kind, name: str) -> bool:
        """Whether a registration of ``kind`` named ``name`` is installed."""
        return any(r.name == name for _, r in self.registrations(kind))

    def evaluate_policy(self, subject: PolicyInput) -> list[PolicyFinding]:
        """Findings of every selected policy engine (fail closed: any error stops the action)."""
        findings: list[PolicyFinding] = []
        engines = self._selected(Kind.POLICY_ENGINE, self.config.core.policy_engines)
        request_id = subject.request.id
        with self._span("policy.evaluate", hook="policy_engine.evaluate", request_id=request_id):
            for name, engine in engines:
                plugin = self._plugin_of(Kind.POLICY_ENGINE, name)
                result = self.call(
                    Kind.POLICY_ENGINE,
                    plugin,
                    "policy_engine.evaluate",
                    lambda e=engine: list(cast("PolicyEngine", e).evaluate(subject)),  # type: ignore[misc]
                    request_id=request_id,
                )
                for finding in result or []:
                    findings.append(
                        finding if finding.engine else finding.model_copy(update={"engine": name})
                    )
        return findings

    def estimate_cost(self, request: Request, plan: Plan) -> CostEstimate | None:
        """The first estimate any selected estimator gives (isolated: failures are recorded).

        An estimate that failed (``error`` set) gives way to a later estimator's; it is returned
        only when no estimator succeeded, so the request records why. The request's environment
        may choose its own estimators (``cost_estimators`` on the environment); otherwise
        ``[core] cost_estimators`` (``None``: every installed one).
        """
        names = self.config.core.cost_estimators
        for env in self.config.core.environments:
            if env.key == request.placement.environment and env.cost_estimators is not None:
                names = env.cost_estimators
        estimators = self._selected(Kind.COST_ESTIMATOR, names)
        failed: CostEstimate | None = None
        with self._span("cost.estimate", hook="cost_estimator.estimate", request_id=request.id):
            for name, estimator in estimators:
                plugin = self._plugin_of(Kind.COST_ESTIMATOR, name)
                estimate = self.call(
                    Kind.COST_ESTIMATOR,
                    plugin,
                    "cost_estimator.estimate",
                    lambda e=estimator: cast("CostEstimator", e).estimate(request, plan),  # type: ignore[misc]
                    request_id=request.id,
                )
                if estimate is not None:
                    named = (
                        estimate
                        if estimate.estimator
                        else estimate.model_copy(update={"estimator": name})
                    )
                    if named.error is None:
                        return named
                    failed = failed or named
        return failed

    def summarize(
        self, request: Request, plan: Plan, context: SummaryContext
    ) -> PlanSummary | None:
        """The configured summariser's summary, falling back to ``rules`` if it fails."""
        order = [self.config.core.summarizer]
        if "rules" not in order:
            order.append("rules")
        # Why the configured summariser was not the one used: recorded on the summary (and so
        # on the request) unless the summary that is used says so itself.
        reason: str | None = None
        with self._span("plan.summarize", hook="summarizer.summarize", request_id=request.id):
            for name in order:
                try:
                    found = self._build(Kind.SUMMARIZER, name, optional=True)
                except ConfigError as exc:
                    self.failures.append(
                        Failure("summarizer", name, "summarizer.build", exc.message)
                    )
                    reason = reason or f"{name}: {exc.message}"
                    continue
                if found is None:
                    reason = reason or f"{name}: no summariser of this name is installed"
                    continue
                plugin, summarizer = found
                before = len(self.failures)
                summary = self.call(
                    Kind.SUMMARIZER,
                    plugin,
                    "summarizer.summarize",
                    lambda s=summarizer: cast("Summarizer", s).summarize(request, plan, context),  # type: ignore[misc]
                    request_id=request.id,
                )
                if summary is not None:
                    update: dict[str, Any] = {} if summary.summarizer else {"summarizer": name}
                    if reason is not None and summary.fallback_reason is None:
                        update["fallback_reason"] = scrub_secrets(reason)[:500]
                    return summary.model_copy(update=update) if update else summary
                failed = self.failures[before:]
                reason = reason or f"{name}: {failed[-1].error if failed else 'no summary'}"
        return None

    def explain_failure(
        self,
        kind: str,
        log: str,
        *,
        secrets: Sequence[str] = (),
        runbook: str | None = None,
        request_id: str | None = None,
    ) -> Explanation:
        """Why a run of ``kind`` failed: the configured summariser's explanation when it offers
        one (``explain_failure``, e.g. a model's, checked against the log), else the rules'.

        Isolated like summaries: a summariser that cannot be built or raises gives way to the
        rules, with the reason recorded as the explanation's ``fallback_reason``.
        """
        name = self.config.core.summarizer
        reason: str | None = None
        if name != "rules":
            with self._span(
                "failure.explain", hook="summarizer.explain_failure", request_id=request_id
            ):
                try:
                    found = self._build(Kind.SUMMARIZER, name, optional=True)
                except ConfigError as exc:
                    found, reason = None, f"{name}: {exc.message}"
                explainer = getattr(found[1], "explain_failure", None) if found else None
                if found is not None and callable(explainer):
                    before = len(self.failures)
                    explained = self.call(
                        Kind.SUMMARIZER,
                        found[0],
                        "summarizer.explain_failure",
                        lambda: cast("FailureExplainer", found[1]).explain_failure(
                            kind, log, secrets=secrets, runbook=runbook
                        ),
                        request_id=request_id,
                    )
                    if isinstance(explained, Explanation):
                        return explained
                    failed = self.failures[before:]
                    reason = f"{name}: {failed[-1].error if failed else 'no explanation'}"
        explained = explain_failure(kind, log, secrets=secrets, runbook=runbook)
        if reason is not None:
            return replace(explained, fallback_reason=scrub_secrets(reason)[:500])
        return explained

    def check_drift(self, spec: RunSpec, runner: Runner) -> DriftReport:
        """Run the configured drift detector; a failing detector yields an ``error`` report."""
        request = spec.request
        name = self.config.core.drift_detector
        found = self._build(Kind.DRIFT_DETECTOR, name)
        assert found is not None
        plugin, detector = found
        with self._span("drift.check", hook="drift_detector.check", request_id=request.id):
            report = self.call(
                Kind.DRIFT_DETECTOR,
                plugin,
                "drift_detector.check",
                lambda: cast("DriftDetector", detector).check(spec, runner),
                request_id=request.id,
            )
        if report is None:
            error = self.failures[-1].error if self.failures else "drift detector failed"
            return DriftReport(result=DriftResult.ERROR, error=error, detector=name)
        return report

    def notify(self, event: Event, request: Request) -> list[tuple[str, str | None]]:
        """Send ``event`` to every selected notifier; ``(name, error or None)`` per notifier."""
        outcomes: list[tuple[str, str | None]] = []
        notifiers = self._selected(Kind.NOTIFIER, self.config.core.notifiers)
        with self._span("notify", hook="notifier.notify", request_id=request.id):
            for name, notifier in notifiers:
                plugin = self._plugin_of(Kind.NOTIFIER, name)
                before = len(self.failures)
                self.call(
                    Kind.NOTIFIER,
                    plugin,
                    "notifier.notify",
                    lambda n=notifier: cast("Notifier", n).notify(event, request),  # type: ignore[misc]
                    request_id=request.id,
                )
                failed = self.failures[before:]
                outcomes.append((name, failed[-1].error if failed else None))
        return outcomes

    def notifiers(self) -> list[tuple[str, Any]]:
        """The selected notifiers, built: ``(name, notifier)`` (``[core] notifiers``)."""
        return self._selected(Kind.NOTIFIER, self.config.core.notifiers)

    def send(self, name: str, notifier: Any, delivery: Any) -> None:
        """Hand one outbox delivery to ``notifier`` (``deliver``, else the older ``notify``).

        Traced like every hook call (span ``notifier.deliver <plugin>``) but not isolated: it
        raises what the notifier raised, so that the outbox can retry, defer or dead-letter.
        """
        from opentelemetry.trace import Status, StatusCode

        plugin = self._plugin_of(Kind.NOTIFIER, name)
        deliver = getattr(notifier, "deliver", None)
        hook = "notifier.deliver" if callable(deliver) else "notifier.notify"
        request_id = delivery.request.id
        with self._span(
            f"{hook} {plugin}", hook=hook, plugin=plugin, request_id=request_id
        ) as span:
            try:
                if callable(deliver):
                    deliver(delivery)
                else:
                    cast("Notifier", notifier).notify(delivery.event, delivery.request)
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                raise

    def observe(self, event: Event, request: Request) -> None:
        """Give ``event`` to every event observer (isolated)."""
        observers = self._selected(Kind.EVENT_OBSERVER, None)
        for name, observer in observers:
            plugin = self._plugin_of(Kind.EVENT_OBSERVER, name)
            self.call(
                Kind.EVENT_OBSERVER,
                plugin,
                "event_observer.on_event",
                lambda o=observer: cast("EventObserver", o).on_event(event, request),  # type: ignore[misc]
                request_id=request.id,
            )

    def module_locations(self) -> list[tuple[str, ModuleLocation]]:
        """Every module offered by every module source, with the source's name (fail closed)."""
        result: list[tuple[str, ModuleLocation]] = []
        for name, source in self._selected(Kind.MODULE_SOURCE, None):
            plugin = self._plugin_of(Kind.MODULE_SOURCE, name)
            found = self.call(
                Kind.MODULE_SOURCE,
                plugin,
                "module_source.modules",
                lambda s=source: list(cast("ModuleSource", s).modules()),  # type: ignore[misc]
            )
            result += [(name, location) for location in found or []]
        return result

    def provider_mirrors(self) -> list[ProviderMirror]:
        """Every provider mirror plugins contribute (fail closed)."""
        return [m for _, m in self._selected(Kind.PROVIDER_MIRROR, None)]

    def routes(self) -> list[tuple[str, Routes]]:
        """Every configured route mount, with the plugin that made it (fail closed).

        A factory returning ``None`` (not configured) mounts nothing. Two mounts with one prefix
        raise :class:`DuplicateRegistrationError` naming both plugins.
        """
        found: list[tuple[str, Routes]] = []
        by_prefix: dict[str, str] = {}
        for name, routes in self._selected(Kind.ROUTE, None):
            plugin = self._plugin_of(Kind.ROUTE, name)
            if not isinstance(routes, Routes):
                raise PluginError(
                    f"plugin {plugin!r}: route {name!r} must build a Routes object, "
                    f"got {type(routes).__name__}",
                    plugin=plugin,
                )
            prefix = routes.prefix.rstrip("/") or "/"
            if not prefix.startswith("/") or prefix == "/":
                raise PluginError(
                    f"plugin {plugin!r}: route {name!r} needs a prefix like '/hooks/x', "
                    f"got {routes.prefix!r}",
                    plugin=plugin,
                )
            if prefix in by_prefix:
                raise DuplicateRegistrationError(
                    f"route prefix {prefix!r} is registered by both plugin "
                    f"{by_prefix[prefix]!r} and plugin {plugin!r}",
                    plugin=plugin,
                )
            by_prefix[prefix] = plugin
            found.append((plugin, routes))
        return found

    def _plugin_of(self, kind: Kind, name: str) -> str:
        for plugin, registration in self.registrations(kind):
            if registration.name == name:
                return plugin
        return "unknown"


def _legacy_registration(kind: Kind, plugin: str, item: Any) -> Any:
    """A 0.1-style object (a suggester, question model or proposer) as a registration."""
    name = getattr(item, "id", None)
    if not isinstance(name, str):
        return item  # not a registration and not an object with an id: refused by the caller
    warnings.warn(
        f"plugin {plugin!r}: {kind.hook_name}(host) returning {kind.value} objects is "
        "deprecated; return Registration objects from a hook that takes no argument",
        DeprecationWarning,
        stacklevel=2,
    )
    return Registration(
        name=name,
        factory=lambda settings, context: item,
        description=f"{kind.value} {name} (registered the 0.1 way)",
        # Not a section anyone configures: the object came built, with no settings.
        settings_section=f"{plugin}.{kind.value}.{name}",
    )


class _TracedProxy:
    """Wraps a decision capability so each method call is traced and fails closed."""

    def __init__(self, host: PluginHost, kind: Kind, plugin: str, target: Any) -> None:
        self._host = host
        self._kind = kind
        self._plugin = plugin
        self._target = target

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._target, attr)
        if not callable(value) or attr.startswith("_"):
            return value

        def traced(*args: Any, **kwargs: Any) -> Any:
            request_id = _request_id_of(args, kwargs)
            return self._host.call(
                self._kind,
                self._plugin,
                f"{self._kind.value}.{attr}",
                lambda: value(*args, **kwargs),
                request_id=request_id,
            )

        return traced

    @property
    def wrapped(self) -> Any:
        """The capability object itself (for tests and diagnostics)."""
        return self._target


def _request_id_of(args: Sequence[Any], kwargs: Mapping[str, Any]) -> str | None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, str) and value.startswith("req_"):
            return value
        found = getattr(value, "request_id", None) or (
            getattr(value, "id", None) if type(value).__name__ == "Request" else None
        )
        if isinstance(found, str):
            return found
    return None
