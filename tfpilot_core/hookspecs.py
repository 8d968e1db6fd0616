"""The hook specifications: everything a plugin can contribute to tfpilot.

Every capability hook returns a list of :class:`~tfpilot_core.registrations.Registration`
objects and takes no arguments. The core collects the registrations of every plugin, refuses two
registrations of one kind under one name (naming both plugins), validates each registration's
``[plugins.<name>]`` settings, and builds only what the configuration selects. Nothing calls these
hooks but :class:`~tfpilot_core.plugins.PluginHost`, which traces each call and applies the error
policy of its kind (see ``docs/hooks.md``):

* decision kinds (stores, policy engines, runners, module sources, provider mirrors) fail closed:
  an exception stops the action with an error naming the plugin;
* side-effect kinds (notifiers, summarisers, cost estimators, drift detectors, event observers)
  are isolated: an exception is logged, traced and recorded, and the caller carries on.

Implement a hook with ``from tfpilot_core import hookimpl``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from tfpilot_core.interfaces import (
        CostEstimator,
        DriftDetector,
        EventObserver,
        IdentityProvider,
        ModuleSource,
        Notifier,
        PolicyEngine,
        Runner,
        Store,
        Summarizer,
    )
    from tfpilot_core.registrations import ProviderMirror, Registration, Routes

PROJECT_NAME = "tfpilot"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def tfpilot_register_stores() -> list[Registration[Store]]:
    """Register stores: where requests, events, artifacts and keyed records live.

    Called once, when the host is built. Exactly one store is used, the one named by
    ``[core] store`` (default ``embedded``). The factory returns a
    :class:`~tfpilot_core.interfaces.Store`.

    :return: registrations; an empty list if this plugin offers none.

    If this hook, the factory or a store method raises, the action stops with a
    :class:`~tfpilot_core.errors.PluginFailedError` naming the plugin (fail closed).
    """


@hookspec
def tfpilot_register_policy_engines() -> list[Registration[PolicyEngine]]:
    """Register policy engines, which judge requests before a plan and plans after one.

    Every registered engine is used unless ``[core] policy_engines`` lists a subset. Each engine's
    ``evaluate`` is called on create and update (stage ``request``) and after every plan (stage
    ``plan``).

    :return: registrations; an empty list if this plugin offers none.

    Fail closed: an engine that raises stops the action with an error naming the plugin; it is
    never read as "no findings".
    """


@hookspec
def tfpilot_register_cost_estimators() -> list[Registration[CostEstimator]]:
    """Register cost estimators, called after every successful plan with the parsed plan.

    Every registered estimator is used unless the request's environment (``cost_estimators``)
    or ``[core] cost_estimators`` lists a subset; the first estimate that is not ``None`` and
    did not fail (``error`` unset) is recorded on the request, before plan-stage policy runs.

    :return: registrations; an empty list if this plugin offers none.

    Isolated: an estimator that raises is recorded (``cost_failed`` in the log and trace) and the
    plan still succeeds, without a cost from that estimator.
    """


@hookspec
def tfpilot_register_notifiers() -> list[Registration[Notifier]]:
    """Register notifiers, fed by the notification outbox (``docs/notifications.md``).

    Every registered notifier whose settings are valid is used unless ``[core] notifiers`` lists a
    subset (then their settings must be valid). Stored events are routed to deliveries, recorded
    in the store and sent after the action, outside the request lock, within
    ``[notifications] budget_seconds``; ``tfpilot notify deliver`` retries the rest. A notifier
    with ``deliver(delivery)`` gets one call per recipient; one with only ``notify(event,
    request)`` (deprecated, still supported) gets every event.

    :return: registrations; an empty list if this plugin offers none.

    Isolated: a notifier that raises is recorded as a ``notification_failed`` event, retried with
    backoff and dead-lettered after ``max_attempts`` (at once for
    :class:`~tfpilot_core.notifications.DeliveryRejected`); it never breaks the lifecycle, and
    the event itself is already stored.
    """


@hookspec
def tfpilot_register_summarizers() -> list[Registration[Summarizer]]:
    """Register plan summarisers (rules by default; an LLM when configured).

    The summariser named by ``[core] summarizer`` is tried first, then the built-in ``rules``
    summariser. Sensitive values are masked before the plan reaches a summariser.

    :return: registrations; an empty list if this plugin offers none.

    Isolated: a summariser that raises is recorded and the next one is used.
    """


@hookspec
def tfpilot_register_drift_detectors() -> list[Registration[DriftDetector]]:
    """Register drift detectors, which check applied requests for out-of-band changes.

    The detector named by ``[core] drift_detector`` (default ``refresh``) is used.

    :return: registrations; an empty list if this plugin offers none.

    Isolated: a detector that raises is recorded as a drift check with result ``error``.
    """


@hookspec
def tfpilot_register_runners() -> list[Registration[Runner]]:
    """Register runners: where Terraform executes (in-process, a binary, GitHub Actions).

    The runner named by ``[core] runner`` (default ``local``) is used.

    :return: registrations; an empty list if this plugin offers none.

    Fail closed: a runner that raises fails the run attempt and stops the action with an error
    naming the plugin.
    """


@hookspec
def tfpilot_register_module_sources() -> list[Registration[ModuleSource]]:
    """Register module sources, which add modules to the catalog.

    Every registered source is used; two sources offering one module name is an error naming
    both.

    :return: registrations; an empty list if this plugin offers none.

    Fail closed: a source that raises stops catalog loading with an error naming the plugin.
    """


@hookspec
def tfpilot_register_provider_mirrors() -> list[Registration[ProviderMirror]]:
    """Register Terraform providers available offline from a filesystem mirror.

    Runners add every mirror to the Terraform CLI configuration they write, so that ``init``
    never reaches for a registry for these providers.

    :return: registrations; an empty list if this plugin offers none.

    Fail closed: a mirror whose factory raises stops the run with an error naming the plugin.
    """


@hookspec
def tfpilot_register_event_observers() -> list[Registration[EventObserver]]:
    """Register event observers (metrics, audit sinks), called with every stored event.

    :return: registrations; an empty list if this plugin offers none.

    Isolated: an observer that raises is logged and traced; other observers still run.
    """


@hookspec
def tfpilot_register_routes() -> list[Registration[Routes]]:
    """Register HTTP routes for ``tfpilot serve`` (webhook receivers, callbacks, pages).

    Called once when the server (the ``tfpilot-web`` plugin) starts. Every registration is
    built; its factory returns a :class:`~tfpilot_core.registrations.Routes` (a prefix and a
    ``platform -> ASGI app or APIRouter`` callable), or ``None`` when it is not configured
    (nothing is mounted then). Two registrations with one prefix are an error naming both.

    :return: registrations; an empty list if this plugin offers none.

    Fail closed: a factory that raises, or settings that do not validate, stop the server from
    starting with an error naming the plugin (a webhook receiver must not go missing silently).
    """


@hookspec
def tfpilot_register_identity_providers() -> list[Registration[IdentityProvider]]:
    """Register identity providers, which say who is acting.

    Called once, when the host is built. The provider named by ``[core] identity`` (default
    ``local``) is used by the CLI (and by servers) to establish the actor of every action;
    its ``identify`` receives an :class:`~tfpilot_core.identity.IdentityRequest` (the name
    given with ``--as``, if any, and the environment) and returns an
    :class:`~tfpilot_core.identity.Identity`. Built in: ``local`` (a name taken as given:
    one operator's tool) and ``github_actions`` (the actor of a verified Actions OIDC token).

    :return: registrations; an empty list if this plugin offers none.

    Fail closed: a provider that raises refuses the action (a verified identity that cannot be
    established is never replaced by a claimed one).
    """


@hookspec
def tfpilot_register_suggesters(host: Any) -> list[Registration[Any]]:
    """Register suggesters: safer or cheaper inputs, offered as checked patches.

    Called the first time suggestions are computed (``tfpilot suggest``,
    ``platform.suggestions``). A suggester has an ``id`` (unique across every suggester: a
    duplicate is an error naming both plugins) and ``suggest(ctx)``. Every proposal is checked
    by the core like the built-in ones: schema, then policy on the patched inputs, then cost
    after a plan. Settings come from ``[plugins.<name>]`` like any registration; a factory may
    return ``None`` when its plugin is not configured.

    :param host: deprecated (0.1): a hook that names it may return the suggesters themselves
        instead of registrations; each becomes a registration named after its ``id``, with a
        ``DeprecationWarning``. New hooks take no argument.
    :return: registrations; an empty list if this plugin offers none.

    Isolated: a plugin that raises here, or a suggester that raises while suggesting, is logged
    and skipped; suggestions are advice and never block anything.
    """


@hookspec
def tfpilot_register_question_models(host: Any) -> list[Registration[Any]]:
    """Register question models, asked in order when ``tfpilot ask``'s offline parser cannot.

    Called when a question is asked. A question model
    (:class:`tfpilot_core.ask.hookspecs.QuestionModel`) turns a question into the fields of a
    :class:`~tfpilot_core.query.Query`, which the core validates and runs scoped by the
    asker's read grants. A factory may return ``None`` when its plugin is not configured.

    :param host: deprecated (0.1), as for :func:`tfpilot_register_suggesters`.
    :return: registrations; an empty list if this plugin offers none.

    Isolated: a plugin or model that raises is logged and skipped; the question is then answered
    with "cannot answer" and the forms that work.
    """


@hookspec
def tfpilot_register_value_proposers(host: Any) -> list[Registration[Any]]:
    """Register value proposers for the request assistant; the first one is used.

    Called when the assistant starts. A proposer (:class:`tfpilot_core.assistant.ValueProposer`)
    proposes input values; a proposal is offered only after it passed the module schema and the
    allowlist, like a typed answer. Sensitive inputs are never asked of a proposer.

    :param host: deprecated (0.1), as for :func:`tfpilot_register_suggesters`.
    :return: registrations; an empty list if this plugin offers none.

    Isolated: a plugin or proposer that raises is logged and skipped.
    """


@hookspec(historic=True)
def tfpilot_add_hookspecs(pluginmanager: pluggy.PluginManager) -> None:
    """Add hook specifications of your own, for other plugins to implement.

    Called once per plugin (historic: also for plugins registered later), after discovery and
    before pluggy's ``check_pending()``, so implementations of the new hooks are accepted. Call
    ``pluginmanager.add_hookspecs(module_or_class)``. Call the new hooks only through
    :meth:`tfpilot_core.plugins.PluginHost.call_extension` (which a factory reaches as
    ``context.host``), so they are traced and fail closed like the core's.

    :param pluginmanager: tfpilot's pluggy plugin manager.

    Fail closed: a plugin that raises here stops discovery with an error naming it.
    """


@hookspec
def tfpilot_register_commands(cli: click.Group) -> None:
    """Add commands to the ``tfpilot`` command line.

    Called once when the CLI starts, after the built-in commands exist. Add commands with
    ``cli.add_command(...)`` or the ``@cli.command()`` decorator; import heavy libraries inside the
    command functions, not at module level, to keep ``tfpilot --help`` fast.

    :param cli: the root ``tfpilot`` click group.

    Fail closed at start-up: a plugin that raises here is reported by name (and with
    ``--strict-plugins`` the CLI stops).
    """
