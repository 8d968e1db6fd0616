"""The one scrubber: credentials and secret-named values never survive, lines stay bounded."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from tfpilot_core import scrub

secret_values = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=12
).map(lambda s: "S3cr" + s)
names = st.sampled_from(
    ["password", "db_password", "token", "api_key", "x-api-key", "client_secret", "Cookie",
     "signing_secret", "authorization", "session", "private_key", "access_token"]
)  # fmt: skip


@given(names, secret_values)
def test_a_secret_named_value_never_survives_any_rendering(name: str, value: str) -> None:
    renderings = [
        f"{name}={value}",
        f"GET /x?a=1&{urlencode({name: value})} HTTP/1.1",
        json.dumps({name: value, "other": "kept"}),
        repr({name: value, "other": "kept"}),
        repr([(name.lower().encode(), value.encode())]),
        f"{name}: {value}",
        f"call({name}={value!r})",
    ]
    for text in renderings:
        out = scrub.scrub_text(text)
        assert value not in out, (text, out)
    assert scrub.scrub_value({name: value, "n": {"deep": [{name: value}]}}) == {
        name: scrub.REDACTED,
        "n": {"deep": [{name: scrub.REDACTED}]},
    }


def test_token_shapes_are_redacted_and_ordinary_words_kept() -> None:
    for secret in [
        "Bearer tfp_abcdefghijklmnopqrstuvwxyz",
        "xoxb-1234567890-abcdefghij",
        "ghp_abcdefghijklmnopqrstuvwxyz012345",
        "sha256=" + "0f" * 32,
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
    ]:
        assert scrub.REDACTED in scrub.scrub_text(f"x {secret} y")
    text = "token_id=tok_1 prompt_tokens=12 name=web"
    assert scrub.scrub_text(text) == text


def test_registered_values_are_redacted_wherever_they_stand() -> None:
    scrub.register(["value-of-a-sensitive-input"])
    assert "value-of-a-sensitive-input" not in scrub.scrub_text("got value-of-a-sensitive-input")


def test_an_exception_is_text_without_locals_and_bounded() -> None:
    def fail(password: str) -> None:
        padding = "x" * 100_000  # noqa: F841 - a big local, never printed
        raise ValueError("failed " + "y" * 50_000)

    try:
        fail("hunter2-" + "hunter2")  # built at run time: not on the source line
    except ValueError as exc:
        event = scrub.scrub_event(None, "error", {"event": "boom", "exc_info": exc})
    assert "exc_info" not in event
    assert "hunter2-hunter2" not in event["exception"]
    assert "ValueError" in event["exception"]
    assert len(event["exception"]) <= scrub.MAX_EXCEPTION_CHARS + 100


def test_the_logging_filter_keeps_the_arguments_formatters_unpack() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", "/api?token=abcdef123456", "1.1", 500), None,
    )  # fmt: skip
    assert scrub.ScrubFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:1 - "GET /api?token=(redacted) HTTP/1.1" 500'
