"""``tfpilot demo``: the whole request lifecycle, offline, on the sandbox, with real Terraform.

Runs in a fresh temporary home (or ``--keep DIR``), with its own configuration and users, and
checks that every step behaves as it says: the command exits non-zero at the first step that
does not. Nothing here is simulated: requests go through :class:`~tfpilot_core.Platform`, the
embedded store, the configured runner (Terraform) and the sandbox provider.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tfpilot_core.errors import ExitCode, TfpilotError

if TYPE_CHECKING:
    from tfpilot_core.models import Request
    from tfpilot_core.platform import Platform

T = TypeVar("T")

DEMO_CONFIG = """\
# Written by `tfpilot demo`: three people, the default environments (prod is protected).
[users.alice]
role = "approver"   # the author: an approver, so only four eyes stops her own approval

[users.bob]
role = "approver"

[users.carol]
role = "admin"

# Priced by the sandbox's static price list (offline); a budget reports the increase.
[core]
cost_estimators = ["sandbox"]

[plugins.policy_builtin.rule_params."cost.budget"]
increase = [{ above = "1", level = "advisory" }]
"""

MODULE = "sandbox/bucket"
ENVIRONMENT = "prod"


class DemoFailed(TfpilotError):
    """A demo step did not behave as the demo says it should."""

    exit_code = ExitCode.INTERNAL


class Demo:
    """Prints each step and checks its outcome."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.number = 0

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """A numbered step, timed."""
        self.number += 1
        click.secho(f"\n[{self.number}] {title}", bold=True)
        started = time.perf_counter()
        yield
        click.secho(f"    ok ({time.perf_counter() - started:.1f}s)", fg="green")

    def expect_error(self, error: type[TfpilotError], action: Callable[[], Any]) -> TfpilotError:
        """Run ``action``, which must fail with ``error``; print the message people would see."""
        try:
            action()
        except error as exc:
            for line in exc.message.splitlines():
                click.echo(f"    refused: {line}")
            return exc
        raise DemoFailed(f"step {self.number}: expected {error.__name__}, but it succeeded")

    def expect(self, condition: bool, what: str) -> None:
        """Fail the demo unless ``condition``."""
        if not condition:
            raise DemoFailed(f"step {self.number}: expected {what}")

    def status(self, request: Request) -> str:
        """The derived status, printed."""
        status = self.platform.status(request).value
        click.echo(f"    status: {status}")
        return status


def _say(text: str) -> None:
    for line in text.splitlines():
        click.echo(f"    {line}")


def run_demo(home: Path) -> None:
    """The demo story, in ``home`` (a fresh tfpilot home)."""
    from tfpilot_core.cli.progress import progress
    from tfpilot_core.errors import ForbiddenError, ValidationError
    from tfpilot_core.models import DriftResult, RunKind
    from tfpilot_core.platform import Platform

    (home / "tfpilot.toml").write_text(DEMO_CONFIG)
    environ = {
        **os.environ,
        "TFPILOT_HOME": str(home),
        "TFPILOT_CONFIG": str(home / "tfpilot.toml"),
        "CHECKPOINT_DISABLE": "1",
    }
    platform = Platform.from_config(environ=environ)
    demo = Demo(platform)
    if MODULE not in platform.catalog.names():
        raise DemoFailed(
            f"the demo needs module {MODULE} from the tfpilot-sandbox plugin: pip install "
            "tfpilot-sandbox (in a checkout of tfpilot, python3 dev.py setup installs every plugin)"
        )

    with demo.step("The catalog: modules people can request"):
        for spec in platform.catalog.list():
            click.echo(f"    {spec.name:<28} {spec.description}")

    with demo.step("A bad request is rejected, with every problem named"):
        demo.expect_error(
            ValidationError,
            lambda: platform.create(
                "alice",
                module=MODULE,
                environment=ENVIRONMENT,
                project="shop",
                inputs={"name": "Logs_Bucket", "region": "mars-1", "colour": "blue"},
            ),
        )
        demo.expect(not platform.list("carol").items, "nothing stored for a rejected request")

    with demo.step("A request that breaks policy is refused (a public instance)"):
        from tfpilot_core.errors import PolicyBlockedError
        from tfpilot_core.registrations import Kind

        if platform.host.registrations(Kind.POLICY_ENGINE):
            demo.expect_error(
                PolicyBlockedError,
                lambda: platform.create(
                    "alice",
                    module="sandbox/instance",
                    environment=ENVIRONMENT,
                    project="shop",
                    inputs={"name": "web", "public_ip": True},
                ),
            )
        else:
            click.echo("    (skipped: no policy engine installed; try tfpilot-policy-builtin)")

    with demo.step(f"alice requests a private bucket in {ENVIRONMENT}"):
        request = platform.create(
            "alice", module=MODULE, environment=ENVIRONMENT, project="shop", inputs={"name": "logs"}
        )
        click.echo(f"    {request.id}: inputs {request.inputs}")
        demo.expect(demo.status(request) == "request_created", "status request_created")

    with demo.step("Plan it with real Terraform: summary and cost"):
        with progress("planning with Terraform"):
            request = platform.plan("alice", request.id)
        if request.summary:
            _say(request.summary.text)
        if request.cost:
            from tfpilot_core.cost import delta_phrase

            click.echo(f"    cost: {delta_phrase(request.cost)}")
        demo.expect(demo.status(request) == "plan_ready", "status plan_ready")

    with demo.step("alice tries to approve her own request (prod is protected)"):
        demo.expect_error(ForbiddenError, lambda: platform.approve("alice", request.id))

    with demo.step("bob approves the plan he reviewed (by its digest)"):
        plan = request.latest(RunKind.PLAN)
        digest = plan.plan_digest if plan else None
        request = platform.approve("bob", request.id, plan_digest=digest, comment="looks good")
        click.echo(f"    approved plan {str(digest)[:12]}")
        demo.expect(demo.status(request) == "approved", "status approved")

    with demo.step("Apply exactly the approved plan"):
        with progress("applying with Terraform"):
            request = platform.apply("bob", request.id)
        demo.expect(demo.status(request) == "applied", "status applied")
        bucket = _sandbox_object(platform, "sandbox_bucket", request.inputs["name"])
        click.echo(f"    in the sandbox: {bucket}")
        demo.expect(bucket is not None and bucket.get("public_access") is False, "a private bucket")

    with demo.step("Someone makes the bucket public, outside Terraform"):
        _edit_sandbox_object(
            platform, "sandbox_bucket", request.inputs["name"], {"public_access": True}
        )
        click.echo("    public_access = true (edited out of band)")

    with demo.step("Drift is detected"):
        with progress("checking drift"):
            request = platform.check_drift("carol", request.id)
        drift = request.drift
        demo.expect(drift is not None and drift.result is DriftResult.DRIFTED, "drift detected")
        click.echo(f"    drifted: {', '.join(drift.addresses) if drift else ''}")

    with demo.step("alice updates the request (new revision; earlier approvals no longer count)"):
        request = platform.update("alice", request.id, {"tags": {"team": "payments"}})
        click.echo(f"    revision {request.revision}")
        demo.expect(request.revision == 2, "revision 2")

    with demo.step("Plan, approve and apply revision 2 (this also reverts the drift)"):
        with progress("planning with Terraform"):
            request = platform.plan("alice", request.id)
        if request.summary:
            _say(request.summary.text)
        plan = request.latest(RunKind.PLAN)
        request = platform.approve(
            "bob", request.id, plan_digest=plan.plan_digest if plan else None
        )
        with progress("applying with Terraform"):
            request = platform.apply("bob", request.id)
        demo.expect(demo.status(request) == "applied", "status applied")
        with progress("checking drift"):
            request = platform.check_drift("carol", request.id)
        demo.expect(
            request.drift is not None and request.drift.result is DriftResult.NONE, "no drift"
        )
        bucket = _sandbox_object(platform, "sandbox_bucket", request.inputs["name"])
        demo.expect(bucket is not None and bucket.get("public_access") is False, "private again")
        click.echo("    drift cleared: the bucket is private again")

    with demo.step("bob may not destroy (admins only); carol asks for a destroy plan"):
        demo.expect_error(ForbiddenError, lambda: platform.destroy("bob", request.id))
        with progress("planning the destroy"):
            request = platform.destroy("carol", request.id)
        if request.summary:
            _say(request.summary.text)
        demo.expect(demo.status(request) == "plan_ready", "a destroy plan, waiting for review")

    with demo.step("A destroy is a reviewed change: carol may not approve her own"):
        demo.expect_error(ForbiddenError, lambda: platform.approve("carol", request.id))
        plan = request.latest(RunKind.PLAN)
        # Deleting in prod is a mandatory finding: the approver overrides it, in writing.
        request = platform.approve(
            "bob",
            request.id,
            plan_digest=plan.plan_digest if plan else None,
            overrides=[{"rule_id": "destroy.protected", "reason": "decommissioned, as asked"}],
        )
        click.echo("    bob approves the destroy plan, overriding destroy.protected with a reason")
        with progress("applying the destroy"):
            request = platform.apply("carol", request.id)
        demo.expect(demo.status(request) == "destroyed", "status destroyed")
        demo.expect(
            _sandbox_object(platform, "sandbox_bucket", request.inputs["name"]) is None,
            "the bucket is gone",
        )

    with demo.step("The timeline: every step, recorded"):
        from tfpilot_core.cli.requests import format_event

        for event in platform.timeline("carol", request.id):
            click.echo("    " + format_event(event, request))
        audit = platform.audit("carol", request.id)
        click.echo(
            f"    audit: {len(audit['changes'])} applies, each bound to its plan and approvers"
        )


def _sandbox_root(platform: Platform) -> Path:
    for mirror in platform.host.provider_mirrors():
        root = mirror.env.get("TFPILOT_SANDBOX_ROOT")
        if root:
            return Path(root)
    raise DemoFailed("the sandbox provider mirror is not registered")


def _sandbox_object(platform: Platform, type_name: str, name: str) -> dict[str, Any] | None:
    from tfpilot_sandbox.objects import ObjectStore

    return ObjectStore(_sandbox_root(platform)).get(type_name, name)


def _edit_sandbox_object(
    platform: Platform, type_name: str, name: str, changes: dict[str, Any]
) -> None:
    from tfpilot_sandbox.objects import ObjectStore

    ObjectStore(_sandbox_root(platform)).update(type_name, name, changes)


@click.command("demo")
@click.option(
    "--keep",
    "keep",
    type=click.Path(path_type=Path, file_okay=False),
    help="Use DIR as tfpilot's home and leave everything there for inspection.",
)
def demo_command(keep: Path | None) -> None:
    """The whole request lifecycle on the offline sandbox, with real Terraform.

    On a terminal, a spinner shows the step Terraform is in while it works.

    \b
    Examples:
      tfpilot demo
      tfpilot demo --keep ./demo-home && TFPILOT_HOME=./demo-home tfpilot --as carol requests list
    """
    started = time.perf_counter()
    if keep is not None:
        if keep.exists() and any(keep.iterdir()):
            raise click.UsageError(f"--keep {keep}: the directory must be new or empty")
        keep.mkdir(parents=True, exist_ok=True)
        home = keep.resolve()
    else:
        home = Path(tempfile.mkdtemp(prefix="tfpilot-demo-"))
    click.secho(f"tfpilot demo (home: {home})", bold=True)
    try:
        run_demo(home)
    finally:
        if keep is None:
            shutil.rmtree(home, ignore_errors=True)
    click.secho(
        f"\nDemo complete in {time.perf_counter() - started:.1f}s: every step behaved as shown.",
        fg="green",
        bold=True,
    )
    if keep is not None:
        click.echo(f"Everything is in {home} (tfpilot.toml, tfpilot.db, work/, sandbox/).")
        click.echo(f"Try: TFPILOT_HOME={home} tfpilot --as carol requests list")
