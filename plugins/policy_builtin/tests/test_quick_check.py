"""The quick ``tfpilot policy check`` (no pydantic) answers exactly as the full path does.

The CLI runs through its real entry point (``tfpilot_core.cli.main``) in a subprocess with a
temporary ``HOME`` and ``XDG_CACHE_HOME``: once with ``TFPILOT_NO_CACHE=1`` (the full path, never
a snapshot) and once with the configuration snapshot written by an earlier run (the quick path).
stdout, stderr (log timestamps aside), the ``--output`` file and the exit code must be equal, and
the quick run must not have imported pydantic or the domain models where it is meant to answer.
A hypothesis test compares the engine with the quick path's inputs (settings and environment as
the snapshot's JSON data) on generated plans and settings.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfpilot_core.errors import TfpilotError
from tfpilot_core.levels import PolicyLevel
from tfpilot_core.models import Environment, PolicyFinding
from tfpilot_core.plan import Plan
from tfpilot_policy_builtin.engine import STANDALONE_ENVIRONMENT, BuiltinPolicyEngine
from tfpilot_policy_builtin.formats import finding_record
from tfpilot_policy_builtin.judge import (
    STANDALONE,
    EnvironmentView,
    Finding,
    assemble_rules,
    judge_plan,
)
from tfpilot_policy_builtin.params import EffectiveParams
from tfpilot_policy_builtin.settings import PolicySettings
from tfpilot_policy_builtin.testing import PlanBuilder

#: Modules the quick path must not import (what it exists to avoid).
HEAVY = (
    "pydantic",
    "tfpilot_core.models",
    "tfpilot_core.config",
    "tfpilot_core.platform",
    "rich",
    "opentelemetry",
)

# Runs the console entry point as the installed script does, then writes which heavy modules were
# imported (in a ``finally``: ``main`` always ends with SystemExit).
DRIVER = f"""
import json, sys
HEAVY = {list(HEAVY)!r}
report, argv = sys.argv[1], sys.argv[2:]
from tfpilot_core.cli import main
try:
    main(argv)
finally:
    with open(report, "w") as handle:
        json.dump([m for m in HEAVY if m in sys.modules], handle)
"""

CONFIG = """
[core]
environments = [
  { key = "dev", slug = "development" },
  { key = "prod", slug = "production", protected = true },
]

[plugins.policy_builtin]
required_tags = ["team"]
allowed_regions = ["eu-west-1", "us-east-1"]
allowed_sizes = { "aws_instance.instance_type" = ["t3.micro"] }

[plugins.policy_builtin.environments.prod]
levels = { "tags.required" = "blocking" }
required_tags = ["team", "owner"]
"""
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?")
# The ids of the command's own trace: new in every run, and only where a trace is recorded (the
# full path joins the session trace; the quick path starts none), so not part of the answer.
_TRACE_IDS = re.compile(r" (?:span_id|trace_id)=[0-9a-f]+")


def _corpus() -> dict[str, dict[str, Any]]:
    """The hand-written corpus of tests/plans (every format version and provider shape)."""
    path = Path(__file__).resolve().parents[3] / "tests" / "plans" / "corpus_documents.py"
    if not path.exists():  # the plugin tested on its own, outside the repository
        return {}
    spec = importlib.util.spec_from_file_location("_policy_corpus_documents", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return {f"corpus-{case.name}": case.document for case in module.CASES}


def _fixture_plans() -> dict[str, dict[str, Any]]:
    """Plans as the policy tests build them: violations of every rule, and a clean plan."""
    bad = PlanBuilder()
    bad.s3_bucket("acme-open", module='module.data["b"]', tags={"team": "t"}, block=False)
    bad.s3_bucket("acme-untagged", module='module.data["c"]')
    bad.resource(
        "aws_instance",
        "web",
        {"instance_type": "m5.large", "associate_public_ip_address": True, "tags": {}},
    )
    bad.resource("aws_sqs_queue", "Bad_Name", {"name": "Bad_Name", "tags": {"team": "t"}})
    bad.resource("sandbox_bucket", "gone", {"name": "gone"}, actions=("delete",))
    good = PlanBuilder()
    good.s3_bucket("acme-good", module='module.data["a"]', tags={"team": "t", "owner": "o"})
    return {"bad": bad.build(), "good": good.build()}


@dataclass(frozen=True)
class Outcome:
    """What a user sees of one run."""

    code: int
    stdout: str
    stderr: str
    written: str | None
    heavy: tuple[str, ...]

    def seen(self) -> tuple[int, str, str, str | None]:
        """Everything but the imports."""
        return self.code, self.stdout, self.stderr, self.written


class Cli:
    """Runs ``tfpilot`` through ``tfpilot_core.cli.main`` in a fresh interpreter."""

    def __init__(self, base: Path) -> None:
        self.base = base
        # A directory of its own: it is sys.path[0] of each run, and the snapshot is keyed by the
        # modification times of sys.path entries (the reports written below must not touch it).
        (base / "driver").mkdir()
        self.driver = base / "driver" / "driver.py"
        self.driver.write_text(DRIVER)
        (base / "runs").mkdir()
        self.config = base / "tfpilot.toml"
        self.config.write_text(CONFIG)
        (base / "home").mkdir()
        self.runs = 0

    def env(self, *, quick: bool, plugins: str = "policy_builtin") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TFPILOT_", "OTEL_"))}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(
            HOME=str(self.base / "home"),
            XDG_CACHE_HOME=str(self.base / "cache"),
            TFPILOT_CONFIG=str(self.config),
            # Only this plugin's entry point (and the core's defaults): no policy pack.
            TFPILOT_LOAD_PLUGINS=plugins,
        )
        if not quick:
            env["TFPILOT_NO_CACHE"] = "1"
        return env

    def run(
        self, *args: str, quick: bool, stdin: bytes | None = None, plugins: str = "policy_builtin"
    ) -> Outcome:
        self.runs += 1
        report = self.base / "runs" / f"report-{self.runs}.json"
        output = self.base / "runs" / f"out-{self.runs}.txt"
        argv = [a.replace("{output}", str(output)) for a in args]
        done = subprocess.run(
            [sys.executable, str(self.driver), str(report), *argv],
            cwd=self.base,
            env=self.env(quick=quick, plugins=plugins),
            input=stdin,
            capture_output=True,
            timeout=120,
        )
        heavy = tuple(json.loads(report.read_text())) if report.exists() else ("?",)
        return Outcome(
            done.returncode,
            done.stdout.decode(),
            _TRACE_IDS.sub("", _TIMESTAMP.sub("<time>", done.stderr.decode())),
            output.read_text() if output.exists() else None,
            heavy,
        )

    def both(self, *args: str, stdin: bytes | None = None) -> tuple[Outcome, Outcome]:
        """The full path's outcome and the quick path's (after a run that wrote the snapshot)."""
        full = self.run(*args, quick=False, stdin=stdin)
        self.run("policy", "check", str(self.base / "good.json"), quick=True)  # the snapshot
        return full, self.run(*args, quick=True, stdin=stdin)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    runner = Cli(tmp_path_factory.mktemp("quick-check"))
    for name, document in {**_corpus(), **_fixture_plans()}.items():
        (runner.base / f"{name}.json").write_text(json.dumps(document))
    (runner.base / "broken.json").write_text('{"format_version": "1.2", "resource_changes": 5}')
    (runner.base / "notjson.json").write_text("{nope")
    (runner.base / "future.json").write_text('{"format_version": "2.0"}')
    return runner


PLAN_NAMES = [*_corpus(), *_fixture_plans()]
#: (arguments after ``policy check PLAN``, whether the quick path is meant to answer).
VARIANTS = [
    (["--format", "json"], True),
    (["--format", "text"], True),
    (["--format", "sarif"], True),
    (["--format", "junit"], True),
    (["--env", "prod", "--format", "json"], True),
    (["--env", "dev", "--fail-on", "advisory"], True),
    (["--fail-on", "blocking", "--format", "sarif"], True),
    (["--fail-on", "never", "-o", "{output}"], True),
    (["--env", "nowhere"], False),  # unknown environment: the full path reports it
]


@pytest.mark.parametrize("plan", PLAN_NAMES)
def test_every_plan_gets_the_same_answer_quickly(cli: Cli, plan: str) -> None:
    path = str(cli.base / f"{plan}.json")
    full, quick = cli.both("policy", "check", path, "--format", "json")
    assert quick.seen() == full.seen()
    assert full.code in (0, 9) and full.stdout.startswith("{"), full
    assert "pydantic" in full.heavy
    heavy = set(quick.heavy)
    if "policy_shape_unreadable" in quick.stderr:
        # A warning was logged (the same line as the full path's): logging it imports structlog,
        # which brings rich and the OpenTelemetry log bridge, but the domain model stays out.
        heavy -= {"rich", "opentelemetry"}
    assert not heavy, f"the quick path imported {sorted(heavy)}"


@pytest.mark.parametrize(("args", "meant_quick"), VARIANTS)
@pytest.mark.parametrize("plan", ["bad", "good"])
def test_every_option_gets_the_same_answer(
    cli: Cli, plan: str, args: list[str], meant_quick: bool
) -> None:
    full, quick = cli.both("policy", "check", str(cli.base / f"{plan}.json"), *args)
    assert quick.seen() == full.seen()
    if meant_quick:
        assert quick.heavy == (), f"the quick path imported {quick.heavy}"
    else:
        assert full.code == 3 and "nowhere" in full.stderr  # an unknown environment is input


def test_the_bad_plan_blocks_in_prod(cli: Cli) -> None:
    # Guards the comparisons above against two equally empty answers.
    full, quick = cli.both("policy", "check", str(cli.base / "bad.json"), "--env", "prod")
    assert quick.seen() == full.seen()
    assert full.code == 9
    for rule in ("public_access.blocked", "destroy.protected", "size.allowed", "naming.pattern"):
        assert rule in full.stdout
    assert "BLOCKING   tags.required" in full.stdout


@pytest.mark.parametrize(
    ("plan", "args"),
    [
        ("broken", []),
        ("notjson", ["--format", "sarif"]),
        ("future", []),
        ("missing", []),
        ("broken", ["--json"]),
    ],
)
def test_refused_plans_are_refused_alike(cli: Cli, plan: str, args: list[str]) -> None:
    root = ["--json"] if "--json" in args else []
    rest = [a for a in args if a != "--json"]
    full, quick = cli.both(*root, "policy", "check", str(cli.base / f"{plan}.json"), *rest)
    assert quick.seen() == full.seen()
    assert full.code == 3 and full.stderr.startswith("Error: "), full


def test_stdin_and_the_root_json_flag(cli: Cli) -> None:
    document = (cli.base / "bad.json").read_bytes()
    full, quick = cli.both("--json", "policy", "check", "-", stdin=document)
    assert quick.seen() == full.seen()
    assert full.code == 9 and json.loads(full.stdout)["summary"]["blocking"] > 0
    assert quick.heavy == ()


def test_a_changed_policy_section_misses_the_snapshot(tmp_path: Path) -> None:
    runner = Cli(tmp_path)
    plan = PlanBuilder()
    plan.resource("aws_sqs_queue", "q", {"name": "q", "tags": {"team": "t"}})
    (tmp_path / "good.json").write_text(json.dumps(plan.build()))
    args = ("policy", "check", str(tmp_path / "good.json"), "--format", "json")
    runner.run(*args, quick=True)  # writes the snapshot
    before = runner.run(*args, quick=True)
    assert before.heavy == () and json.loads(before.stdout)["summary"]["mandatory"] == 1

    runner.config.write_text(
        CONFIG.replace(
            "[plugins.policy_builtin]\n",
            '[plugins.policy_builtin]\nlevels = { "naming.pattern" = "advisory" }\n',
        )
    )
    after = runner.run(*args, quick=True)
    assert after.seen() == runner.run(*args, quick=False).seen()
    assert json.loads(after.stdout)["summary"] == {"blocking": 0, "mandatory": 0, "advisory": 1}
    assert after.code == 0
    assert "pydantic" in after.heavy  # the snapshot missed: the full path answered
    again = runner.run(*args, quick=True)
    assert again.seen() == after.seen() and again.heavy == ()

    # A level the engine refuses: the full path's configuration error, exit 4, both ways.
    runner.config.write_text(
        CONFIG.replace(
            "[plugins.policy_builtin]\n",
            '[plugins.policy_builtin]\nlevels = { "no.such" = "advisory" }\n',
        )
    )
    refused = runner.run(*args, quick=True)
    assert refused.seen() == runner.run(*args, quick=False).seen()
    assert refused.code == 4 and "no policy rule 'no.such'" in refused.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("tfpilot_cost_infracost") is None, reason="no policy pack installed"
)
def test_an_installed_policy_pack_is_judged_quickly_too(tmp_path: Path) -> None:
    runner = Cli(tmp_path)
    (tmp_path / "good.json").write_text(json.dumps(_fixture_plans()["good"]))
    args = ("policy", "check", str(tmp_path / "good.json"), "--format", "junit")
    plugins = "policy_builtin,cost_infracost"
    runner.run(*args, quick=True, plugins=plugins)
    quick = runner.run(*args, quick=True, plugins=plugins)
    full = runner.run(*args, quick=False, plugins=plugins)
    assert quick.seen() == full.seen()
    assert 'name="cost.budget"' in quick.stdout  # the pack's rules are in force
    # The pack is called directly (its module imports no pydantic until a budget is judged).
    assert "pydantic" not in quick.heavy and "pydantic" in full.heavy


# -- the two entry layers agree ------------------------------------------------------------------


def test_records_and_models_are_the_same_data() -> None:
    assert [f.name for f in fields(Finding)] == list(PolicyFinding.model_fields)
    record = Finding("naming.pattern", PolicyLevel.MANDATORY, "m", "a.b", "policy_builtin", "plan")
    model = PolicyFinding(**{f.name: getattr(record, f.name) for f in fields(record)})
    assert finding_record(record) == finding_record(model) == model.model_dump(mode="json")
    assert PolicyFinding.model_fields["level"].annotation is PolicyLevel
    assert STANDALONE_ENVIRONMENT.model_dump(mode="json") == {
        **Environment(key="any").model_dump(mode="json"),
        **STANDALONE,
    }


_TYPES = [
    "aws_s3_bucket",
    "aws_sqs_queue",
    "aws_instance",
    "aws_db_instance",
    "aws_ebs_volume",
    "aws_ecr_repository",
    "aws_cloudwatch_log_group",
    "sandbox_bucket",
    "sandbox_instance",
    "sandbox_queue",
]
_NAMES = st.sampled_from(["q", "good-name", "Bad_Name", "acme-data-1", "x" * 70])
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    _NAMES,
    st.sampled_from(["eu-west-1", "us-east-1", "ap-south-1", "t3.micro", "m5.large", "AES256"]),
    st.dictionaries(st.sampled_from(["team", "owner", "env"]), st.text(max_size=3), max_size=3),
    st.lists(st.sampled_from(["web", "ssh"]), max_size=2),
    st.dictionaries(st.sampled_from(["prefix", "key"]), st.text(max_size=3), max_size=2),
)
_ATTRIBUTES = st.sampled_from(
    [
        "name",
        "bucket",
        "identifier",
        "tags",
        "region",
        "encrypted",
        "storage_encrypted",
        "encryption",
        "public_access",
        "public_ip",
        "associate_public_ip_address",
        "publicly_accessible",
        "instance_type",
        "kms_key_id",
        "kms_master_key_id",
        "sqs_managed_sse_enabled",
        "acl",
    ]
)


@st.composite
def plan_documents(draw: st.DrawFn) -> dict[str, Any]:
    changes = []
    for i in range(draw(st.integers(0, 5))):
        rtype = draw(st.sampled_from(_TYPES))
        actions = draw(
            st.sampled_from([["create"], ["update"], ["delete"], ["delete", "create"], ["no-op"]])
        )
        after = draw(st.dictionaries(_ATTRIBUTES, _VALUES, max_size=6))
        unknown = draw(st.dictionaries(_ATTRIBUTES, st.just(True), max_size=2))
        changes.append(
            {
                "address": f"{rtype}.r{i}",
                "mode": "managed",
                "type": rtype,
                "name": f"r{i}",
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {
                    "actions": actions,
                    "before": None if actions == ["create"] else dict(after),
                    "after": None if actions == ["delete"] else after,
                    "after_unknown": unknown,
                },
            }
        )
    return {"format_version": "1.2", "terraform_version": "1.9.8", "resource_changes": changes}


_LEVELS = st.dictionaries(
    st.sampled_from(["naming.pattern", "tags.required", "size.allowed", "region.allowed"]),
    st.sampled_from(["advisory", "mandatory", "blocking", "off"]),
    max_size=3,
)
_SETTINGS = st.fixed_dictionaries(
    {},
    optional={
        "required_tags": st.lists(st.sampled_from(["team", "owner", "tfpilot:request_id"])),
        "allowed_regions": st.none() | st.lists(st.sampled_from(["eu-west-1", "us-east-1"])),
        "allowed_sizes": st.just({"aws_instance.instance_type": ["t3.micro"]}),
        "kms_required_types": st.lists(st.sampled_from(_TYPES[:7]), max_size=3),
        "naming_pattern": st.sampled_from([r"^[a-z]+$", r"^[a-z][a-z0-9-]{1,61}[a-z0-9]$"]),
        "levels": _LEVELS,
        "environments": st.dictionaries(
            st.sampled_from(["dev", "prod", "any"]),
            st.fixed_dictionaries(
                {},
                optional={
                    "levels": _LEVELS,
                    "required_tags": st.lists(st.sampled_from(["team", "owner"])),
                    "allowed_regions": st.lists(st.sampled_from(["eu-west-1"])),
                },
            ),
            max_size=2,
        ),
    },
)
_ENVIRONMENTS = st.sampled_from(
    [
        STANDALONE_ENVIRONMENT,
        Environment(key="dev", slug="development"),
        Environment(key="prod", slug="production", protected=True),
    ]
)


def _outcome(call: Any) -> Any:
    try:
        return ("findings", call())
    except TfpilotError as exc:
        return ("error", type(exc).__name__, exc.message)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=plan_documents(), raw=_SETTINGS, environment=_ENVIRONMENTS)
def test_the_quick_inputs_judge_as_the_engine(
    document: dict[str, Any], raw: dict[str, Any], environment: Environment
) -> None:
    """The engine (settings model, ``Environment``, ``PolicyFinding``) and the quick path's view
    (the snapshot's JSON data, :class:`EnvironmentView`, plain records) give the same findings."""
    policy = PolicySettings.model_validate(raw)
    engine = BuiltinPolicyEngine(policy)
    dump = json.loads(json.dumps(policy.model_dump(mode="json")))  # as the snapshot stores it
    view = EnvironmentView.from_dump(environment.model_dump(mode="json"))
    params = EffectiveParams.from_settings(dump, view.key)
    assert params == policy.effective(environment.key)
    data = json.dumps(document).encode()

    def slow() -> list[dict[str, Any]]:
        found = engine.evaluate_plan(Plan.parse(data), environment)
        assert all(isinstance(f, PolicyFinding) for f in found)
        return [f.model_dump(mode="json") for f in found]

    def fast() -> list[dict[str, Any]]:
        found = judge_plan(assemble_rules(), params, Plan.parse(data), view)  # type: ignore[arg-type]
        assert all(isinstance(f, Finding) for f in found)
        return [finding_record(f) for f in found]

    assert _outcome(fast) == _outcome(slow)


def test_a_pack_that_fails_leaves_the_answer_to_the_full_path() -> None:
    # The quick path calls packs through the core's one hook caller: a pack that raises is a
    # PluginFailedError naming it (fail closed), which sends the command to the full path,
    # which reports the same failure as always.
    import tfpilot_policy_builtin.plugin as policy_plugin
    from tfpilot_core import hookimpl
    from tfpilot_core.cli.app import App
    from tfpilot_core.errors import PluginFailedError
    from tfpilot_core.hookcalls import HookCaller
    from tfpilot_core.plugins import load_plugins
    from tfpilot_policy_builtin.judge import collect_pack_rules

    class Broken:
        @hookimpl
        def tfpilot_register_policy_rules(self) -> list[object]:
            raise RuntimeError("boom")

    state = App()
    state.loaded = load_plugins(
        entry_points=False, extra=[("policy_builtin", policy_plugin), ("broken", Broken())]
    )
    assert state.loaded is not None
    with pytest.raises(PluginFailedError, match="broken"):
        collect_pack_rules(HookCaller(state.loaded))
