"""``ephemeral = true`` inputs (Terraform 1.10+) never reach a saved plan or a rendered file:
they are given to Terraform at plan and again at apply, as Terraform requires (issue 27 item 18).

Real Terraform (embedded 1.15, and the ``terraform`` binary when on PATH) with the sandbox
bucket module plus one ephemeral variable.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tfpilot_core.catalog.spec import load_module
from tfpilot_core.interfaces import ModuleLocation, RunSpec
from tfpilot_core.terraform.render import TFVARS_FILE
from tfpilot_core.terraform.runner import LocalRunner

SECRET = "EPHEMERAL-db-password-4f8a2c"

EPHEMERAL_TF = f"""
variable "db_password" {{
  type      = string
  default   = null
  ephemeral = true
  # Proves the value itself reached Terraform (not, say, a reference's text).
  validation {{
    condition     = var.db_password == null || length(var.db_password) == {len(SECRET)}
    error_message = "db_password is not the test's value"
  }}
}}
"""


@pytest.fixture
def module_path(tmp_path: Path) -> Path:
    """The sandbox bucket module with an ephemeral variable added."""
    from tfpilot_sandbox.source import MODULES_DIR

    path = tmp_path / "modules" / "bucket"
    shutil.copytree(MODULES_DIR / "bucket", path)
    (path / "ephemeral.tf").write_text(EPHEMERAL_TF)
    return path


def test_the_catalog_reads_ephemeral_as_ephemeral_and_sensitive(module_path: Path) -> None:
    spec = load_module(ModuleLocation(name="bucket", path=module_path))
    assert spec.inputs["db_password"].ephemeral and spec.inputs["db_password"].sensitive
    assert spec.ephemeral_inputs == ["db_password"]
    assert not spec.inputs["name"].ephemeral


def _contains(blob: bytes, needle: bytes) -> bool:
    """Whether ``needle`` is in ``blob`` or in any member of it as a zip (plans are zips)."""
    if needle in blob:
        return True
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            return any(needle in archive.read(name) for name in archive.namelist())
    except zipfile.BadZipFile:
        return False


@pytest.mark.slow
def test_an_ephemeral_input_is_never_in_the_plan_and_is_given_again_at_apply(
    make_spec: Callable[..., RunSpec],
    make_runner: Callable[..., LocalRunner],
    engine: str | None,
    home: Path,
) -> None:
    runner = make_runner(binary=engine)
    spec = make_spec({"name": "logs", "db_password": SECRET})
    planned = runner.plan(spec)
    assert planned.success, planned.error
    assert planned.plan_file is not None
    assert not _contains(planned.plan_file, SECRET.encode()), "the saved plan holds the value"
    assert SECRET not in str(planned.plan_json) and SECRET not in planned.log
    written = [p for p in (home / "work").rglob("*") if p.is_file()]
    assert any(p.name == TFVARS_FILE for p in written)
    assert not [p for p in written if _contains(p.read_bytes(), SECRET.encode())]
    # Terraform refuses to apply a plan whose ephemeral variables are not set again: it works.
    applied = runner.apply(spec, planned.plan_file, rendered_digest=planned.rendered_digest)
    assert applied.success, applied.error
    assert SECRET not in applied.log


REFERENCE = {"$env": "TFPILOT_INPUT_DB_PASSWORD"}


@pytest.mark.slow
def test_an_ephemeral_reference_is_read_where_terraform_runs_at_plan_and_at_apply(
    make_spec: Callable[..., RunSpec],
    make_runner: Callable[..., LocalRunner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The request holds only the reference (issue 27 item 18): the value is the runner's.
    monkeypatch.setenv("TFPILOT_INPUT_DB_PASSWORD", SECRET)
    runner = make_runner()
    spec = make_spec({"name": "logs", "db_password": dict(REFERENCE)})
    assert SECRET not in spec.request.model_dump_json()
    planned = runner.plan(spec)
    assert planned.success, planned.error
    assert planned.plan_file is not None and not _contains(planned.plan_file, SECRET.encode())
    assert SECRET not in str(planned.plan_json) and SECRET not in planned.log
    applied = runner.apply(spec, planned.plan_file, rendered_digest=planned.rendered_digest)
    assert applied.success, applied.error
    assert SECRET not in applied.log


def test_an_unset_ephemeral_reference_names_the_input_and_the_variable(
    make_spec: Callable[..., RunSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tfpilot_core.errors import ValidationError
    from tfpilot_core.terraform.render import render

    monkeypatch.delenv("TFPILOT_INPUT_DB_PASSWORD", raising=False)
    with pytest.raises(ValidationError, match="TFPILOT_INPUT_DB_PASSWORD") as refused:
        render(make_spec({"name": "logs", "db_password": dict(REFERENCE)}))
    assert refused.value.problems[0].field == "inputs.db_password"
    monkeypatch.setenv("TFPILOT_INPUT_DB_PASSWORD", SECRET)
    rendered = render(make_spec({"name": "logs", "db_password": dict(REFERENCE)}))
    assert rendered.environment == {"TF_VAR_db_password": SECRET}
    assert not [n for n, data in rendered.files.items() if SECRET.encode() in data]
