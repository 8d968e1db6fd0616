"""Request ids: ``req_<env>_<modulecode>_<6 random chars>``, e.g. ``req_dev_bucket_k3x9pq``.

An id is used as a file and directory name, in object-store keys and as (part of) Terraform
identifiers, so every id that comes from outside is checked against one strict pattern before it
is used anywhere: lowercase letters, digits and underscores only, which excludes ``/``, ``..``,
spaces and every character a shell or a path would treat specially.
"""

from __future__ import annotations

import re
import secrets

from tfpilot_core.errors import FieldProblem, ValidationError

__all__ = [
    "ID_ALPHABET",
    "REQUEST_ID_PATTERN",
    "SUFFIX_LENGTH",
    "is_valid_request_id",
    "module_code",
    "new_request_id",
    "request_suffix",
    "validate_request_id",
]

#: Lowercase letters and digits without look-alikes (no 0/o, 1/l/i). Lowercase only, so that ids
#: stay distinct on case-insensitive file systems and valid in resource names.
ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
SUFFIX_LENGTH = 6
_ENV = r"[a-z][a-z0-9]{0,11}"  # as tfpilot_core.models.Environment.key
_CODE = r"[a-z0-9]{1,12}"
REQUEST_ID_PATTERN = re.compile(
    rf"req_(?P<env>{_ENV})_(?P<code>{_CODE})_(?P<suffix>[{ID_ALPHABET}]{{{SUFFIX_LENGTH}}})"
)
_MODULE_NAME = re.compile(r"[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)*")


def is_valid_request_id(value: object) -> bool:
    """True when ``value`` is a well-formed request id."""
    # fullmatch on a str only: "\Z"-style anchoring, so a trailing newline is refused too.
    return isinstance(value, str) and REQUEST_ID_PATTERN.fullmatch(value) is not None


def validate_request_id(value: object, *, field: str = "request_id") -> str:
    """Return ``value`` if it is a well-formed request id, else raise a ValidationError."""
    if is_valid_request_id(value):
        assert isinstance(value, str)
        return value
    shown = repr(value)[:80]
    raise ValidationError(
        [
            FieldProblem(
                field,
                "id_pattern",
                f"{shown} is not a request id (expected req_<env>_<module code>_<suffix>, e.g. "
                f"req_dev_bucket_k3x9pq: env and module code in lowercase letters and digits, the "
                f"suffix {SUFFIX_LENGTH} of {ID_ALPHABET})",
            )
        ],
        subject="request id",
    )


def module_code(module: str) -> str:
    """A short code for a module name: its last segment's letters and digits, at most 12.

    ``aws/s3-bucket`` -> ``s3bucket``, ``sandbox/bucket`` -> ``bucket``. It only makes ids
    readable; uniqueness comes from the random part.
    """
    last = module.rsplit("/", 1)[-1].lower()
    code = re.sub(r"[^a-z0-9]", "", last)[:12]
    return code or "mod"


def new_request_id(env: str, module: str) -> str:
    """A fresh request id for a request in environment ``env`` for module ``module``."""
    problems = []
    if not isinstance(env, str) or not re.fullmatch(_ENV, env):
        problems.append(
            FieldProblem("environment", "env_pattern", f"{env!r} is not an environment key")
        )
    if not isinstance(module, str) or not _MODULE_NAME.fullmatch(module):
        problems.append(FieldProblem("module", "module_name", f"{module!r} is not a module name"))
    if problems:
        raise ValidationError(problems, subject="request id")
    suffix = "".join(secrets.choice(ID_ALPHABET) for _ in range(SUFFIX_LENGTH))
    return f"req_{env}_{module_code(module)}_{suffix}"


def request_suffix(request_id: str) -> str:
    """The random part of a (valid) request id: what resource names get as their suffix."""
    match = REQUEST_ID_PATTERN.fullmatch(validate_request_id(request_id))
    assert match is not None
    return match.group("suffix")
