"""Request ids: format, validation, and that no id can escape its folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tfpilot_core.catalog.ids import (
    ID_ALPHABET,
    is_valid_request_id,
    module_code,
    new_request_id,
    request_suffix,
    validate_request_id,
)
from tfpilot_core.errors import ValidationError

TERRAFORM_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _is_safe(request_id: str, tmp_path: Path) -> bool:
    base = tmp_path.resolve()
    target = (base / request_id).resolve()
    return (
        TERRAFORM_IDENTIFIER.fullmatch(request_id) is not None
        and target.parent == base
        and "/" not in request_id
        and ".." not in request_id
        and not any(c.isspace() for c in request_id)
    )


def test_new_request_id_format() -> None:
    rid = new_request_id("dev", "aws/s3-bucket")
    assert re.fullmatch(r"req_dev_s3bucket_[a-z2-9]{6}", rid)
    assert validate_request_id(rid) == rid
    assert request_suffix(rid) == rid[-6:]
    assert not set(rid[-6:]) & set("01ilo")


def test_module_code() -> None:
    assert module_code("sandbox/bucket") == "bucket"
    assert module_code("aws/s3-bucket") == "s3bucket"
    assert module_code("x/a-very-long-module-name") == "averylongmod"


@pytest.mark.parametrize(
    "bad",
    [
        "req_dev_bucket_k3x9p",
        "req_dev_bucket_k3x9pq/",
        "req_dev_bucket_k3x9pq\n",
        "../req_dev_bucket_k3x9pq",
        "req_dev_bucket_k3x9p0",  # 0 is a look-alike, not in the alphabet
        "req_Dev_bucket_k3x9pq",
        "req_dev_buc ket_k3x9pq",
        "req_dev__k3x9pq",
        "",
        None,
        42,
    ],
)
def test_bad_ids_are_refused(bad: object) -> None:
    assert not is_valid_request_id(bad)
    with pytest.raises(ValidationError) as info:
        validate_request_id(bad)
    assert info.value.problems[0].rule == "id_pattern"


def test_new_request_id_refuses_bad_parts() -> None:
    with pytest.raises(ValidationError) as info:
        new_request_id("Prod!", "../x")
    assert {p.field for p in info.value.problems} == {"environment", "module"}


@given(st.text(max_size=60) | st.from_regex(r"req_[a-z0-9_./ -]{1,30}", fullmatch=True))
@example("req_dev_bucket_k3x9pq")
@example("req_dev_../_k3x9pq")
def test_any_text_is_a_safe_id_or_a_clear_error(text: str) -> None:
    try:
        result = validate_request_id(text)
    except ValidationError as exc:
        assert exc.problems and exc.problems[0].field == "request_id"
    else:
        assert result == text
        assert _is_safe(result, Path("/tmp/tfpilot-id-check"))


@given(
    st.from_regex(r"[a-z][a-z0-9]{0,11}", fullmatch=True),
    st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}(/[a-z0-9][a-z0-9-]{0,20}){0,2}", fullmatch=True),
)
def test_generated_ids_are_valid_and_safe(env: str, module: str) -> None:
    rid = new_request_id(env, module)
    assert is_valid_request_id(rid)
    assert _is_safe(rid, Path("/tmp/tfpilot-id-check"))
    assert set(request_suffix(rid)) <= set(ID_ALPHABET)
