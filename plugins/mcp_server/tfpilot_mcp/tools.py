"""What the MCP tools do, as plain functions over a :class:`~tfpilot_core.platform.Platform`.

Kept apart from the MCP wiring (:mod:`tfpilot_mcp.server`) so that they are tested directly as
well as over stdio. Every read goes through the platform's checked reads or the query layer, so
an agent sees exactly what the server's identity may read; every output is the platform's masked
view (sensitive inputs show as ``(sensitive)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfpilot_core.platform import Platform

#: Acting tools that may be turned on. Approve, apply and destroy are deliberately absent.
ACTING = ("create", "plan")
#: Names that are never exposed, whatever the configuration says (checked by the tests).
NEVER = ("approve", "apply", "destroy", "override", "delete")


class Tools:
    """The tool implementations for one identity."""

    def __init__(self, platform: Platform, actor: str) -> None:
        self.platform = platform
        self.actor = actor

    def catalog(self) -> dict[str, Any]:
        """Every catalog module: name, description, category, risk and its inputs."""
        modules = []
        for spec in self.platform.catalog.list():
            modules.append(
                {
                    "name": spec.name,
                    "description": spec.description,
                    "category": spec.category,
                    "risk": spec.risk.value,
                    "inputs": [
                        {"name": n, "required": i.required, "description": i.description}
                        for n, i in spec.inputs.items()
                        if not i.read_only
                    ],
                }
            )
        return {"modules": modules}

    def module_schema(self, module: str) -> dict[str, Any]:
        """The JSON Schema of a module's inputs (allowlists as ``enum``)."""
        return self.platform.catalog.get(module).input_json_schema()

    def list_requests(
        self,
        environment: str | None = None,
        project: str | None = None,
        module: str | None = None,
        status: str | None = None,
        author: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """Readable requests, newest first, as listing rows."""
        from tfpilot_core.query import Query

        query = Query.model_validate(
            {
                "environments": [environment] if environment else [],
                "projects": [project] if project else [],
                "modules": [module] if module else [],
                "statuses": [status] if status else [],
                "authors": [author] if author else [],
                "limit": limit,
            }
        )
        result = self.platform.query(self.actor, query)
        return {
            "count": result.count,
            "items": [r.model_dump(mode="json") for r in result.rows],
        }

    def show_request(self, request_id: str) -> dict[str, Any]:
        """One request (masked), if the identity may read it."""
        return self.platform.view(self.platform.read(self.actor, request_id))

    def timeline(self, request_id: str) -> dict[str, Any]:
        """The request's events, oldest first, if the identity may read it."""
        events = self.platform.timeline(self.actor, request_id)
        return {"events": [e.model_dump(mode="json") for e in events]}

    def policy_show(self, environment: str | None = None) -> dict[str, Any]:
        """The effective policy per environment (rules, levels, parameters)."""
        config = self.platform.config
        envs = [config.environment(environment)] if environment else list(config.core.environments)
        try:
            from tfpilot_policy_builtin.engine import BuiltinPolicyEngine, collect_pack_rules
            from tfpilot_policy_builtin.registration import registration
            from tfpilot_policy_builtin.settings import PolicySettings
        except ImportError:
            return {"engines": self.platform.kernel.policy_engines(), "environments": {}}
        host = self.platform.host
        settings = host.settings_for(registration())
        assert isinstance(settings, PolicySettings)
        engine = BuiltinPolicyEngine(settings, collect_pack_rules(host, settings.packs))
        data: dict[str, Any] = engine.effective_policy(envs)
        return data

    def query(self, query: dict[str, Any]) -> dict[str, Any]:
        """Run a structured query (the :class:`tfpilot_core.query.Query` fields)."""
        from tfpilot_core.query import Query

        result = self.platform.query(self.actor, Query.model_validate(query))
        return result.model_dump(mode="json")

    def ask(self, question: str) -> dict[str, Any]:
        """Answer an English question offline; the answer carries the query it ran."""
        from tfpilot_core.ask import ask

        return ask(self.platform, self.actor, question).to_dict()

    def draft_request(
        self, module: str, environment: str, project: str, inputs: dict[str, Any]
    ) -> dict[str, Any]:
        """Validate inputs and preview policy; creates nothing."""
        from tfpilot_core.assistant.draft import draft_request

        return draft_request(
            self.platform,
            self.actor,
            module=module,
            environment=environment,
            project=project,
            inputs=inputs,
        ).to_dict()

    def create_request(
        self,
        module: str,
        environment: str,
        project: str,
        inputs: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Create a request as the server's identity (only when ``create`` is turned on)."""
        request = self.platform.create(
            self.actor,
            module=module,
            environment=environment,
            project=project,
            inputs=inputs,
            idempotency_key=idempotency_key,
        )
        return self.platform.view(request)

    def plan_request(self, request_id: str) -> dict[str, Any]:
        """Plan a request as the server's identity (only when ``plan`` is turned on)."""
        self.platform.read(self.actor, request_id)
        return self.platform.view(self.platform.plan(self.actor, request_id))
