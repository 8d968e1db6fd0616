"""Strict checks for the identifiers that a store turns into keys, rows or object names.

Request ids and artifact names come from outside (the CLI, an embedding portal, a workflow
input) and end up in file paths, S3 object keys and Terraform identifiers, so every store checks
them before use, with one shared pattern: a letter or digit first, then letters, digits, ``_``,
``.`` and ``-``, at most 128 characters, and never ``..`` (no path traversal, no separators, no
spaces). A bad value raises :class:`~tfpilot_core.errors.ValidationError`, never a lookup miss.
"""

from __future__ import annotations

import re

from tfpilot_core.errors import FieldProblem, ValidationError

#: The pattern of request ids, artifact names and record namespaces.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

#: Record keys are freer (``<actor>:<idempotency key>``, ``lock/<request id>``) but bounded and
#: printable: no control characters, at most 512 characters.
_KEY_MAX = 512
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_name(value: object, *, field: str, what: str) -> str:
    # `fullmatch` on a str only: a non-str (None, bytes) must not slip through as a "miss".
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value) or ".." in value:
        raise ValidationError(
            [
                FieldProblem(
                    field=field,
                    rule="pattern",
                    message=(
                        f"{value!r} is not a valid {what}: use 1-128 letters, digits, '_', '.'"
                        " or '-', starting with a letter or digit, without '..'"
                    ),
                )
            ],
            subject=what,
        )
    return value


def check_request_id(value: object, *, field: str = "request_id") -> str:
    """``value`` if it is a valid request id, else :class:`ValidationError`."""
    return _check_name(value, field=field, what="request id")


def check_artifact_name(value: object, *, field: str = "name") -> str:
    """``value`` if it is a valid artifact name, else :class:`ValidationError`."""
    return _check_name(value, field=field, what="artifact name")


def check_namespace(value: object, *, field: str = "namespace") -> str:
    """``value`` if it is a valid record namespace, else :class:`ValidationError`."""
    return _check_name(value, field=field, what="record namespace")


def check_record_key(value: object, *, field: str = "key") -> str:
    """``value`` if it is a valid record key (1-512 printable characters), else an error."""
    if (
        not isinstance(value, str)
        or not value
        or len(value) > _KEY_MAX
        or _CONTROL.search(value) is not None
    ):
        raise ValidationError(
            [
                FieldProblem(
                    field=field,
                    rule="pattern",
                    message=f"{value!r} is not a valid record key: use 1-512 printable characters",
                )
            ],
            subject="record key",
        )
    return value


def encode_cursor(created_us: int, request_id: str) -> str:
    """An opaque listing cursor: the (creation time in µs, id) of the last request of a page.

    Stores list newest first by ``(created_at, id)``; the cursor says where the next page starts,
    so inserts between pages neither repeat nor skip a request.
    """
    import base64
    import json

    raw = json.dumps({"t": created_us, "id": request_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The ``(created_us, request_id)`` of a cursor; ``ValidationError`` if it is not one."""
    import base64
    import binascii
    import json

    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        created_us, request_id = data["t"], data["id"]
        if not isinstance(created_us, int) or not isinstance(request_id, str):
            raise TypeError("bad cursor fields")
        check_request_id(request_id)
    except (binascii.Error, ValueError, TypeError, KeyError, ValidationError) as exc:
        raise ValidationError(
            [FieldProblem(field="cursor", rule="cursor", message="not a cursor of this store")],
            subject="request query",
        ) from exc
    return created_us, request_id
