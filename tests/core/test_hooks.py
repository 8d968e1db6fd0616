"""One test per hook (named ``test_hook_<hook>``), each through the PluginHost facade.

Each test also checks the hook's error policy: decision hooks fail closed with an error naming the
plugin; side-effect hooks are isolated and recorded. ``test_every_hook_has_a_test`` keeps this
file complete.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click
import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from tfpilot_core import hookimpl, hookspecs
from tfpilot_core.errors import (
    ConfigError,
    DuplicateRegistrationError,
    NotFoundError,
    PluginFailedError,
)
from tfpilot_core.interfaces import ModuleLocation, PolicyInput, RunResult, RunSpec, SummaryContext
from tfpilot_core.models import (
    CostEstimate,
    DriftReport,
    DriftResult,
    Event,
    PlanSummary,
    PolicyFinding,
    PolicyLevel,
    Request,
)
from tfpilot_core.plan import Plan
from tfpilot_core.plugins import PluginHost, register_commands
from tfpilot_core.registrations import ProviderMirror, Registration, Routes
from tfpilot_core.testing import plugin_with

EMPTY_PLAN = Plan.parse({"format_version": "1.2", "resource_changes": []})


class Boom(Exception):
    """What a misbehaving plugin raises."""


def _raise(*_: Any, **__: Any) -> Any:
    raise Boom("plugin exploded")


class _Obj:
    def __init__(self, **methods: Any) -> None:
        for name, method in methods.items():
            setattr(self, name, method)


def test_hook_tfpilot_register_stores(
    tfpilot_host: PluginHost, register_plugin: Any, tfpilot_config: Any
) -> None:
    store = _Obj(get_request=lambda request_id: f"got {request_id}")
    broken = _Obj(get_request=_raise)
    register_plugin(
        plugin_with(
            "tfpilot_register_stores",
            lambda: [
                Registration(name="memory", factory=lambda s, c: store),
                Registration(name="broken", factory=lambda s, c: broken),
            ],
        ),
        name="stores_plugin",
    )
    tfpilot_config.core.store = "memory"
    assert tfpilot_host.store().get_request("req_dev_x_abcdef") == "got req_dev_x_abcdef"  # type: ignore[comparison-overlap]
    tfpilot_config.core.store = "broken"
    with pytest.raises(PluginFailedError, match="stores_plugin"):
        tfpilot_host.store().get_request("req_dev_x_abcdef")
    tfpilot_config.core.store = "nope"
    with pytest.raises(ConfigError, match="no store named 'nope'"):
        tfpilot_host.store()


def test_hook_tfpilot_register_stores_domain_errors_pass_through(
    tfpilot_host: PluginHost, register_plugin: Any, tfpilot_config: Any
) -> None:
    def missing(request_id: str) -> None:
        raise NotFoundError(f"no request {request_id}")

    register_plugin(
        plugin_with(
            "tfpilot_register_stores",
            lambda: [Registration(name="memory", factory=lambda s, c: _Obj(get_request=missing))],
        )
    )
    tfpilot_config.core.store = "memory"
    with pytest.raises(NotFoundError):
        tfpilot_host.store().get_request("req_dev_x_abcdef")


def _subject(request_doc: Request, tfpilot_config: Any) -> PolicyInput:
    return PolicyInput(
        request=request_doc, environment=tfpilot_config.environment("dev"), stage="request"
    )


def test_hook_tfpilot_register_policy_engines(
    tfpilot_host: PluginHost, register_plugin: Any, request_doc: Request, tfpilot_config: Any
) -> None:
    finding = PolicyFinding(rule_id="naming", level=PolicyLevel.MANDATORY, message="bad name")
    register_plugin(
        plugin_with(
            "tfpilot_register_policy_engines",
            lambda: [
                Registration(
                    name="strict", factory=lambda s, c: _Obj(evaluate=lambda subject: [finding])
                )
            ],
        ),
        name="good_policy",
    )
    found = tfpilot_host.evaluate_policy(_subject(request_doc, tfpilot_config))
    assert [f.rule_id for f in found] == ["naming"]
    assert found[0].engine == "strict"

    register_plugin(
        plugin_with(
            "tfpilot_register_policy_engines",
            lambda: [Registration(name="broken", factory=lambda s, c: _Obj(evaluate=_raise))],
        ),
        name="broken_policy",
    )
    tfpilot_host._registrations.clear()
    with pytest.raises(PluginFailedError, match=r"broken_policy.*plugin exploded"):
        tfpilot_host.evaluate_policy(_subject(request_doc, tfpilot_config))


def test_hook_tfpilot_register_cost_estimators(
    tfpilot_host: PluginHost, register_plugin: Any, request_doc: Request
) -> None:
    estimate = CostEstimate(monthly=None)
    register_plugin(
        plugin_with(
            "tfpilot_register_cost_estimators",
            lambda: [
                Registration(name="broken", factory=lambda s, c: _Obj(estimate=_raise)),
                Registration(
                    name="table", factory=lambda s, c: _Obj(estimate=lambda r, p: estimate)
                ),
            ],
        ),
        name="costs",
    )
    result = tfpilot_host.estimate_cost(request_doc, EMPTY_PLAN)
    assert result is not None and result.estimator == "table"
    assert [(f.plugin, f.kind) for f in tfpilot_host.failures] == [("costs", "cost_estimator")]


def test_hook_tfpilot_register_notifiers(
    tfpilot_host: PluginHost, register_plugin: Any, request_doc: Request, event: Event
) -> None:
    received: list[str] = []

    class Settings(BaseModel):
        url: str

    register_plugin(
        plugin_with(
            "tfpilot_register_notifiers",
            lambda: [
                Registration(name="broken", factory=lambda s, c: _Obj(notify=_raise)),
                Registration(
                    name="ok",
                    factory=lambda s, c: _Obj(notify=lambda e, r: received.append(e.type)),
                ),
                # Not configured (url is required): skipped, because nobody selected it.
                Registration(
                    name="unconfigured",
                    factory=lambda s, c: _Obj(notify=_raise),
                    settings_model=Settings,
                ),
            ],
        ),
        name="notes",
    )
    outcomes = dict(tfpilot_host.notify(event, request_doc))
    assert received == ["request_created"]
    assert outcomes["ok"] is None
    assert "plugin exploded" in (outcomes["broken"] or "")
    assert "unconfigured" not in outcomes


def test_hook_tfpilot_register_summarizers(
    tfpilot_host: PluginHost, register_plugin: Any, request_doc: Request, tfpilot_config: Any
) -> None:
    summary = PlanSummary(text="no changes", markdown="*no changes*")
    register_plugin(
        plugin_with(
            "tfpilot_register_summarizers",
            lambda: [
                Registration(name="llm", factory=lambda s, c: _Obj(summarize=_raise)),
                Registration(
                    name="fixed", factory=lambda s, c: _Obj(summarize=lambda r, p, x: summary)
                ),
            ],
        ),
        name="summaries",
    )
    tfpilot_config.core.summarizer = "fixed"
    assert tfpilot_host.summarize(request_doc, EMPTY_PLAN, SummaryContext()) == summary.model_copy(
        update={"summarizer": "fixed"}
    )
    # A failing summariser is recorded and the built-in rules summariser is the fallback.
    tfpilot_config.core.summarizer = "llm"
    result = tfpilot_host.summarize(request_doc, EMPTY_PLAN, SummaryContext())
    assert result is not None and result.summarizer == "rules"
    assert [(f.plugin, f.kind) for f in tfpilot_host.failures] == [("summaries", "summarizer")]


def test_hook_tfpilot_register_drift_detectors(
    tfpilot_host: PluginHost, register_plugin: Any, request_doc: Request, tfpilot_config: Any
) -> None:
    register_plugin(
        plugin_with(
            "tfpilot_register_drift_detectors",
            lambda: [
                Registration(
                    name="fixed",
                    factory=lambda s, c: _Obj(
                        check=lambda r, runner: DriftReport(result=DriftResult.NONE)
                    ),
                ),
                Registration(name="broken", factory=lambda s, c: _Obj(check=_raise)),
            ],
        )
    )
    spec = RunSpec(
        request=request_doc,
        environment=tfpilot_config.environment("dev"),
        module_name="sandbox/bucket",
        module_path=Path("."),
        module_version="x",
    )
    tfpilot_config.core.drift_detector = "fixed"
    assert tfpilot_host.check_drift(spec, runner=None).result is DriftResult.NONE  # type: ignore[arg-type]
    tfpilot_config.core.drift_detector = "broken"
    report = tfpilot_host.check_drift(spec, runner=None)  # type: ignore[arg-type]
    assert report.result is DriftResult.ERROR and "plugin exploded" in (report.error or "")


def test_hook_tfpilot_register_runners(
    tfpilot_host: PluginHost, register_plugin: Any, request_doc: Request, tfpilot_config: Any
) -> None:
    register_plugin(
        plugin_with(
            "tfpilot_register_runners",
            lambda: [
                Registration(
                    name="fake",
                    factory=lambda s, c: _Obj(plan=lambda r, **k: RunResult(success=True)),
                ),
                Registration(name="broken", factory=lambda s, c: _Obj(plan=_raise)),
            ],
        ),
        name="runners",
    )
    tfpilot_config.core.runner = "fake"
    assert tfpilot_host.runner().plan(request_doc).success
    tfpilot_config.core.runner = "broken"
    with pytest.raises(PluginFailedError, match=r"'runners' failed in runner\.plan"):
        tfpilot_host.runner().plan(request_doc)


def test_hook_tfpilot_register_module_sources(
    tfpilot_host: PluginHost, register_plugin: Any, tmp_path: Path
) -> None:
    location = ModuleLocation(name="test/thing", path=tmp_path)
    register_plugin(
        plugin_with(
            "tfpilot_register_module_sources",
            lambda: [
                Registration(name="mine", factory=lambda s, c: _Obj(modules=lambda: [location]))
            ],
        )
    )
    assert ("mine", location) in tfpilot_host.module_locations()
    register_plugin(
        plugin_with(
            "tfpilot_register_module_sources",
            lambda: [Registration(name="broken", factory=lambda s, c: _Obj(modules=_raise))],
        ),
        name="broken_source",
    )
    tfpilot_host._registrations.clear()
    with pytest.raises(PluginFailedError, match="broken_source"):
        tfpilot_host.module_locations()


def test_hook_tfpilot_register_provider_mirrors(
    tfpilot_host: PluginHost, register_plugin: Any, tmp_path: Path
) -> None:
    class Settings(BaseModel):
        directory: Path

    register_plugin(
        plugin_with(
            "tfpilot_register_provider_mirrors",
            lambda: [
                Registration(
                    name="mirror",
                    factory=lambda s, c: ProviderMirror(source="acme/thing", directory=s.directory),
                    settings_model=Settings,
                )
            ],
        )
    )
    # Provider mirrors are a decision kind: missing settings are an error, never a silent skip.
    with pytest.raises(ConfigError, match=r"plugins\.mirror\.directory"):
        tfpilot_host.provider_mirrors()
    tfpilot_host.config.plugins["mirror"] = {"directory": str(tmp_path)}
    assert tfpilot_host.provider_mirrors() == [
        ProviderMirror(source="acme/thing", directory=tmp_path)
    ]


def test_hook_tfpilot_register_event_observers(
    tfpilot_host: PluginHost, register_plugin: Any, request_doc: Request, event: Event
) -> None:
    seen: list[str] = []
    register_plugin(
        plugin_with(
            "tfpilot_register_event_observers",
            lambda: [
                Registration(name="a_broken", factory=lambda s, c: _Obj(on_event=_raise)),
                Registration(
                    name="metrics",
                    factory=lambda s, c: _Obj(on_event=lambda e, r: seen.append(e.type)),
                ),
            ],
        ),
        name="observers",
    )
    tfpilot_host.observe(event, request_doc)
    assert seen == ["request_created"]
    assert [f.kind for f in tfpilot_host.failures] == ["event_observer"]


def _objects_hook_test(
    host: PluginHost, register_plugin: Any, hook: str, read: Callable[[PluginHost], Any]
) -> None:
    """One object kind: registrations build objects, a broken factory is isolated, and the
    0.1 shape (``hook(host)`` returning the objects) still works with a DeprecationWarning."""
    item = SimpleNamespace(id="mine")
    register_plugin(
        plugin_with(
            hook,
            lambda: [
                Registration(name="mine", factory=lambda s, c: item),
                Registration(name="a_broken", factory=_raise),
            ],
        ),
        name="new_style",
    )
    old_item = SimpleNamespace(id="old")

    def legacy(host: Any) -> list[Any]:
        return [old_item]

    legacy.__name__ = hook
    register_plugin(SimpleNamespace(**{hook: hookimpl(legacy)}), name="old_style")
    with pytest.warns(DeprecationWarning, match="returning .* objects is deprecated"):
        found = read(host)
    assert sorted((p, o.id) for p, o in found) == [("new_style", "mine"), ("old_style", "old")]
    assert [f.plugin for f in host.failures] == ["new_style"]


def test_hook_tfpilot_register_suggesters(tfpilot_host: PluginHost, register_plugin: Any) -> None:
    _objects_hook_test(
        tfpilot_host, register_plugin, "tfpilot_register_suggesters", PluginHost.suggesters
    )


def test_hook_tfpilot_register_question_models(
    tfpilot_host: PluginHost, register_plugin: Any
) -> None:
    _objects_hook_test(
        tfpilot_host,
        register_plugin,
        "tfpilot_register_question_models",
        PluginHost.question_models,
    )


def test_hook_tfpilot_register_value_proposers(
    tfpilot_host: PluginHost, register_plugin: Any
) -> None:
    _objects_hook_test(
        tfpilot_host,
        register_plugin,
        "tfpilot_register_value_proposers",
        PluginHost.value_proposers,
    )


def test_hook_tfpilot_register_identity_providers(
    tfpilot_host: PluginHost, register_plugin: Any
) -> None:
    from tfpilot_core.errors import PluginFailedError
    from tfpilot_core.identity import Identity, IdentityRequest

    register_plugin(
        plugin_with(
            "tfpilot_register_identity_providers",
            lambda: [
                Registration(
                    name="badge",
                    factory=lambda s, c: _Obj(
                        identify=lambda r: Identity(actor=f"badge:{r.claimed}", provider="badge")
                    ),
                ),
                Registration(name="broken", factory=lambda s, c: _Obj(identify=_raise)),
            ],
        ),
        name="badges",
    )
    assert (
        tfpilot_host.identity_provider().identify(IdentityRequest(None, {"USER": "u"})).actor == "u"
    )
    tfpilot_host.config.core.identity = "badge"
    tfpilot_host._built.clear()
    found = tfpilot_host.identity_provider().identify(IdentityRequest("7", {}))
    assert found.actor == "badge:7"
    tfpilot_host.config.core.identity = "broken"
    with pytest.raises(PluginFailedError, match="badges"):  # fail closed: nobody is assumed
        tfpilot_host.identity_provider().identify(IdentityRequest(None, {}))


def test_hook_tfpilot_register_routes(tfpilot_host: PluginHost, register_plugin: Any) -> None:
    def app(platform: Any) -> Any:
        return f"app for {platform}"

    register_plugin(
        plugin_with(
            "tfpilot_register_routes",
            lambda: [
                Registration(name="hooks", factory=lambda s, c: Routes(prefix="/hooks/x", app=app)),
                # Not configured: the factory says so with None and nothing is mounted.
                Registration(name="idle", factory=lambda s, c: None),
            ],
        ),
        name="receiver",
    )
    [(plugin, routes)] = tfpilot_host.routes()
    assert plugin == "receiver" and routes.prefix == "/hooks/x" and routes.public
    assert routes.app("p") == "app for p"

    register_plugin(
        plugin_with(
            "tfpilot_register_routes",
            lambda: [
                Registration(name="same", factory=lambda s, c: Routes(prefix="/hooks/x/", app=app))
            ],
        ),
        name="other",
    )
    tfpilot_host._registrations.clear()
    tfpilot_host._built.clear()
    with pytest.raises(
        DuplicateRegistrationError,
        match=r"'/hooks/x' is registered by both plugin '(other|receiver)'",
    ):
        tfpilot_host.routes()

    register_plugin(
        plugin_with(
            "tfpilot_register_routes",
            lambda: [Registration(name="broken", factory=_raise)],
        ),
        name="broken_routes",
    )
    tfpilot_host._registrations.clear()
    tfpilot_host._built.clear()
    # Fail closed: a receiver that cannot be built stops the server, naming the plugin.
    with pytest.raises(PluginFailedError, match="broken_routes"):
        tfpilot_host.routes()


def test_hook_tfpilot_register_commands(tfpilot_plugins: Any, register_plugin: Any) -> None:
    class CommandPlugin:
        @hookimpl
        def tfpilot_register_commands(self, cli: click.Group) -> None:
            @cli.command()
            def hello() -> None:
                click.echo("hello from a plugin")

    class BrokenCommands:
        @hookimpl
        def tfpilot_register_commands(self, cli: click.Group) -> None:
            raise Boom("cannot add commands")

    register_plugin(CommandPlugin(), name="greeter")
    register_plugin(BrokenCommands(), name="broken_cli")
    group = click.Group("tfpilot")
    failures = register_commands(tfpilot_plugins, group)
    assert [f.plugin for f in failures] == ["broken_cli"]
    assert CliRunner().invoke(group, ["hello"]).output == "hello from a plugin\n"
    with pytest.raises(PluginFailedError, match="broken_cli"):
        register_commands(tfpilot_plugins, click.Group("tfpilot"), strict=True)


def test_every_hook_has_a_test() -> None:
    hooks = [
        name
        for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("tfpilot_")
    ]
    tests = {name for name in globals() if name.startswith("test_hook_")}
    missing = [h for h in hooks if f"test_hook_{h}" not in tests]
    assert hooks and not missing, f"hooks without a test_hook_<name>: {missing}"


def test_every_hook_is_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "hooks.md").read_text()
    hooks = [
        name
        for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("tfpilot_")
    ]
    missing = [h for h in hooks if f"`{h}`" not in doc]
    assert not missing, f"hooks missing from docs/hooks.md: {missing}"


class _PackSpecs:
    """A hook specification a plugin adds for other plugins (like policy packs)."""

    @hookspecs.hookspec
    def tfpilot_test_contribute(self, value: int) -> int:  # type: ignore[empty-body]
        """Return something for ``value``."""


def test_hook_tfpilot_add_hookspecs(tfpilot_plugins: Any, register_plugin: Any) -> None:
    class Defines:
        @hookimpl
        def tfpilot_add_hookspecs(self, pluginmanager: Any) -> None:
            pluginmanager.add_hookspecs(_PackSpecs)

    class Contributes:
        @hookimpl
        def tfpilot_test_contribute(self, value: int) -> int:
            return value * 2

    class Broken:
        @hookimpl
        def tfpilot_test_contribute(self, value: int) -> int:
            raise Boom("pack exploded")

    # Historic: the spec is added even though the defining plugin is registered later, and an
    # implementation registered after it is then accepted by check_pending().
    register_plugin(Defines(), name="defines")
    register_plugin(Contributes(), name="contributes")
    host = PluginHost(tfpilot_plugins, load_config_defaults(), context_for_tests())
    assert host.call_extension("tfpilot_test_contribute", value=21) == [("contributes", 42)]
    register_plugin(Broken(), name="broken_pack")
    with pytest.raises(PluginFailedError, match=r"broken_pack.*pack exploded"):
        host.call_extension("tfpilot_test_contribute", value=1)
    assert host.call_extension("tfpilot_test_contribute", decision=False, value=1) == [
        ("contributes", 2)
    ]
    assert host.context.host is host


def load_config_defaults() -> Any:
    from tfpilot_core.config import load_config

    return load_config(None, environ={"TFPILOT_HOME": "/nonexistent-home"})


def context_for_tests() -> Any:
    from tfpilot_core.registrations import PluginContext

    return PluginContext(home=Path("/nonexistent-home"))
