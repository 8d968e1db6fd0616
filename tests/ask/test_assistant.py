"""The request assistant: module by description, inputs one at a time, refusals explained and
asked again, policy preview, created only on confirmation; model proposals pass the schema and
allowlists first."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tfpilot_core.assistant import AnswersConversation, rank_modules, run_assistant
from tfpilot_core.catalog.spec import ModuleSpec
from tfpilot_core.errors import ValidationError
from tfpilot_core.models import RequestQuery
from tfpilot_core.platform import Platform

MODULE_TF = """
variable "name" {
  type = string
}
variable "region" {
  type    = string
  default = "local-1"
}
variable "size" {
  type    = number
  default = 1
}
variable "tags" {
  type    = map(string)
  default = {}
}
variable "password" {
  type      = string
  default   = null
  sensitive = true
}
"""

MODULE_TOML = """
description = "A test bucket for files and logs"
category = "storage"
name_input = "name"
tags_input = "tags"
[inputs.region]
allowed = ["local-1", "local-2"]
"""

QUEUE_TF = 'variable "name" {\n  type = string\n}\n'
QUEUE_TOML = 'description = "A message queue"\ncategory = "messaging"\nname_input = "name"\n'


@pytest.fixture
def platform(modules_platform: Callable[..., Platform]) -> Platform:
    """A bucket and a queue module; alice (developer) and viv (viewer)."""
    return modules_platform(
        {"bucket": (MODULE_TF, MODULE_TOML), "queue": (QUEUE_TF, QUEUE_TOML)},
        '[users.alice]\nrole = "developer"\n[users.viv]\nrole = "viewer"\n',
    )


def count(platform: Platform) -> int:
    return len(platform.list("alice", RequestQuery()).items)


def test_modules_are_ranked_by_description(platform: Platform) -> None:
    modules = [m for m in platform.catalog.list() if m.name.startswith("test/")]
    assert rank_modules(modules, "somewhere to keep log files")[0].name == "test/bucket"
    assert rank_modules(modules, "a message queue for orders")[0].name == "test/queue"


def test_refused_answers_are_explained_and_asked_again(platform: Platform) -> None:
    conv = AnswersConversation(
        {
            "describe": "a bucket for logs",
            "module": ["7", "test/bucket"],
            "environment": ["moon", "dev"],
            "project": ["Shop!", "shop"],
            "inputs": {
                "name": {"attempts": ["Not A Name", "logs"]},
                "region": {"attempts": ["mars-1", "local-2"]},
                "size": {"attempts": ["big", "3"]},
                "password": "hunter22",
            },
            "confirm": "yes",
        }
    )
    result = run_assistant(platform, "alice", conv)
    assert result.created is not None
    stored = platform.read("alice", result.created.id)
    assert stored.inputs["region"] == "local-2"
    assert stored.inputs["size"] == 3
    assert stored.inputs["name"].startswith("logs-")
    refusals = {t["question"]: t["refused"] for t in result.transcript if "refused" in t}
    assert set(refusals) == {"module", "environment", "project", "input:name", "input:region",
                             "input:size"}  # fmt: skip
    assert "must be one of 'local-1', 'local-2'" in refusals["input:region"]
    assert any("not accepted: inputs.region" in line for line in conv.said)
    # The policy preview and the cost note were shown before the confirmation.
    assert any(line.startswith("  policy") for line in conv.said)
    assert any(line.startswith("  cost:") for line in conv.said)
    # The sensitive answer is never echoed or recorded.
    text = json.dumps(result.transcript) + "\n".join(conv.said)
    assert "hunter22" not in text
    assert result.draft is not None and result.draft.inputs["password"] == "(sensitive)"


def test_nothing_is_created_without_confirmation(platform: Platform) -> None:
    answers = {"environment": "dev", "project": "shop", "inputs": {"name": "logs"}}
    result = run_assistant(
        platform, "alice", AnswersConversation({**answers, "confirm": "no"}), module="test/bucket"
    )
    assert result.created is None and result.draft is not None and result.draft.valid
    # Without an answer the default is "no".
    result = run_assistant(platform, "alice", AnswersConversation(answers), module="test/bucket")
    assert result.created is None
    assert count(platform) == 0


def test_a_missing_required_answer_names_the_field(platform: Platform) -> None:
    conv = AnswersConversation({"environment": "dev", "project": "shop", "confirm": "yes"})
    with pytest.raises(ValidationError) as err:
        run_assistant(platform, "alice", conv, module="test/bucket")
    assert err.value.problems[0].field == "inputs.name"
    assert count(platform) == 0


def test_a_viewer_is_told_they_may_not_create(platform: Platform) -> None:
    conv = AnswersConversation(
        {"environment": "dev", "project": "shop", "inputs": {"name": "x1"}, "confirm": "yes"}
    )
    result = run_assistant(platform, "viv", conv, module="test/bucket")
    assert result.created is None
    assert any("viv may not create" in line for line in conv.said)


class Proposer:
    """Stands in for a model: proposes fixed values, some of them outside the schema."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.asked: list[str] = []

    def propose(self, module: ModuleSpec, name: str, description: str) -> Any:
        self.asked.append(name)
        return self.values.get(name)


def test_a_proposed_value_outside_the_allowlist_is_refused_and_the_user_asked(
    platform: Platform,
) -> None:
    proposer = Proposer({"name": "logs", "region": "eu-west-1", "size": "lots"})
    conv = AnswersConversation(
        {
            "environment": "dev",
            "project": "shop",
            # An empty answer takes the offered value: the valid proposal for name is taken,
            # while region and size were refused, so the user's own answers are used.
            "inputs": {"name": "", "region": "local-1", "size": "2"},
            "confirm": "yes",
        }
    )
    result = run_assistant(platform, "alice", conv, module="test/bucket", proposer=proposer)
    assert result.created is not None
    assert result.created.inputs["region"] == "local-1"
    assert result.created.inputs["size"] == 2
    assert result.created.inputs["name"].startswith("logs-")
    refused = {t["question"]: t for t in result.transcript if "proposed" in t}
    assert set(refused) == {"input:region", "input:size"}
    assert "must be one of" in refused["input:region"]["refused"]
    assert any("proposed region = eu-west-1 was refused" in line for line in conv.said)
    # The model is asked about schema fields only and never about the sensitive one.
    assert proposer.asked == ["name", "region", "size"]


def test_requests_new_from_an_answers_file(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tfpilot_core.cli import cli
    from tfpilot_core.cli.app import App

    answers = tmp_path / "answers.yaml"
    answers.write_text(
        "environment: dev\nproject: shop\ninputs:\n  name: logs\n  region: local-2\nconfirm: yes\n"
    )
    monkeypatch.setenv("TFPILOT_USER", "alice")
    state = App(json=True)
    state._platform = platform
    result = CliRunner().invoke(
        cli,
        ["requests", "new", "--assist", "--module", "test/bucket", "--answers", str(answers)],
        obj=state,
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["created"] is True, data["transcript"]
    assert data["request"]["inputs"]["region"] == "local-2"
    assert data["draft"]["valid"] is True
    refused = CliRunner().invoke(cli, ["requests", "new", "--module", "test/bucket"], obj=state)
    assert refused.exit_code == 2
    assert "use --assist" in refused.output


def test_modules_are_ranked_with_synonyms_over_all_fields() -> None:
    # The shipped catalog (sandbox and AWS modules): issue 28's "a small vm for builds" kept
    # the instance module out of the top 5 with word overlap.
    import tempfile
    from pathlib import Path

    home = Path(tempfile.mkdtemp())
    (home / "home").mkdir()
    config = home / "tfpilot.toml"
    config.write_text('[users.alice]\nrole = "developer"\n')
    platform = Platform.from_config(
        config, environ={"TFPILOT_HOME": str(home / "home"), "TFPILOT_CONFIG": ""}
    )
    modules = platform.catalog.list()
    names = {m.name for m in modules}
    assert {"sandbox/instance", "aws/sqs-queue", "aws/s3-bucket", "aws/ecr-repo"} <= names

    def top(description: str) -> str:
        return rank_modules(modules, description)[0].name

    assert top("a small vm for builds") == "sandbox/instance"
    assert top("a server for the demo") == "sandbox/instance"
    assert top("an sqs for orders") == "aws/sqs-queue"
    assert top("storage for backups") == "aws/s3-bucket"
    assert top("container images") == "aws/ecr-repo"
    assert top("permissions for the ci") == "aws/iam-role"


def test_with_a_module_given_the_description_still_informs_proposals(
    platform: Platform,
) -> None:
    class Listener(Proposer):
        def __init__(self) -> None:
            super().__init__({})
            self.descriptions: list[str] = []

        def propose(self, module: ModuleSpec, name: str, description: str) -> Any:
            self.descriptions.append(description)
            return None

    proposer = Listener()
    answers = {
        "describe": "audit logs kept for a year",
        "environment": "dev",
        "project": "shop",
        "inputs": {"name": "logs", "region": "local-1", "size": "2"},
        "confirm": "no",
    }
    run_assistant(
        platform, "alice", AnswersConversation(answers), module="test/bucket", proposer=proposer
    )
    assert proposer.descriptions and set(proposer.descriptions) == {"audit logs kept for a year"}
    # Without an answer, the module's own description is what the proposer gets.
    proposer = Listener()
    del answers["describe"]
    run_assistant(
        platform, "alice", AnswersConversation(answers), module="test/bucket", proposer=proposer
    )
    spec = platform.catalog.get("test/bucket")
    assert set(proposer.descriptions) == {spec.description}


def test_the_previewed_name_is_the_created_name(platform: Platform) -> None:
    conv = AnswersConversation(
        {"environment": "dev", "project": "shop", "inputs": {"name": "builder"}, "confirm": "yes"}
    )
    result = run_assistant(platform, "alice", conv, module="test/bucket")
    assert result.created is not None and result.draft is not None
    # The preview named the id and the name (its suffix comes from the id): both are created.
    assert result.created.id == result.draft.request_id
    assert f"Request {result.created.id}: test/bucket in dev, project shop" in conv.said
    assert f"  name = {result.created.inputs['name']}" in conv.said
    assert result.draft.inputs["name"] == result.created.inputs["name"]
    assert result.draft.to_dict()["request_id"] == result.created.id


def test_create_with_a_reserved_id_checks_it(platform: Platform) -> None:
    from tfpilot_core.errors import AlreadyExistsError
    from tfpilot_core.lifecycle import changes

    def create(request_id: str, environment: str = "dev") -> Any:
        return changes.create(
            platform.kernel,
            "alice",
            module="test/bucket",
            environment=environment,
            project="shop",
            inputs={"name": "logs"},
            request_id=request_id,
        )

    created = create("req_dev_bucket_abc234")
    assert created.id == "req_dev_bucket_abc234"
    assert created.inputs["name"] == "logs-abc234"
    for bad, rule in [
        ("req_dev_bucket_ABC!", "id_pattern"),  # not a request id
        ("req_dev_queue_abc235", "id_placement"),  # another module's code
        ("req_prod_bucket_abc235", "id_placement"),  # another environment
    ]:
        with pytest.raises(ValidationError) as err:
            create(bad)
        assert [(p.field, p.rule) for p in err.value.problems] == [("request_id", rule)], bad
    with pytest.raises(AlreadyExistsError, match="req_dev_bucket_abc234 already exists"):
        create("req_dev_bucket_abc234")
    assert count(platform) == 1
