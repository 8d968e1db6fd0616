"""The logger facade: structlog is imported only when a line is logged at an enabled level.

Each case runs in a fresh interpreter, because this test process has imported structlog already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )


def test_a_line_below_the_level_does_not_import_structlog() -> None:
    result = _run(
        "import sys\n"
        "from tfpilot_core.telemetry import setup_logging\n"
        "from tfpilot_core.log import get_logger, bound\n"
        "setup_logging(fmt='json', level='warning')\n"
        "with bound(plugin='p'):\n"
        "    get_logger('t').bind(k=1).info('quiet')\n"
        "    get_logger('t').debug('quiet')\n"
        "print('structlog' in sys.modules)\n"
    )
    assert result.stdout.strip() == "False"
    assert result.stderr == ""


def test_an_enabled_line_imports_and_configures_structlog_with_bound_fields() -> None:
    result = _run(
        "from tfpilot_core.telemetry import setup_logging\n"
        "from tfpilot_core.log import get_logger, bound\n"
        "setup_logging(fmt='json', level='info')\n"
        "with bound(plugin='p1'):\n"
        "    get_logger('t').bind(k=2).info('hello', a=1)\n"
        "get_logger('t').debug('dropped')\n"
    )
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert len(lines) == 1
    assert lines[0]["event"] == "hello"
    assert (lines[0]["plugin"], lines[0]["k"], lines[0]["a"]) == ("p1", 2, 1)
    assert lines[0]["level"] == "info" and "timestamp" in lines[0]


def test_structlog_imported_directly_later_gets_the_configuration() -> None:
    # Code that still imports structlog itself (plugins do) must not log unfiltered or to stdout.
    result = _run(
        "from tfpilot_core.telemetry import setup_logging\n"
        "setup_logging(fmt='json', level='warning')\n"
        "import structlog\n"
        "structlog.get_logger().info('filtered')\n"
        "structlog.get_logger().warning('shown', secretish='x')\n"
    )
    assert result.stdout == ""
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [line["event"] for line in lines] == ["shown"]


@pytest.mark.parametrize(
    "args",
    [["requests", "list"], ["modules", "list"]],
    ids=["requests-list", "modules-list"],
)
def test_read_commands_do_not_import_structlog(args: list[str], tmp_path: Path) -> None:
    (tmp_path / "tfpilot.toml").write_text('[users.alice]\nrole = "developer"\n')
    code = (
        "import sys, tfpilot_core.cli\n"
        "try:\n"
        f"    tfpilot_core.cli.main({args!r})\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "else:\n"
        "    code = 0\n"
        "print('RESULT', code, 'structlog' in sys.modules, 'asyncio' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            **os.environ,
            "HOME": str(tmp_path),
            "TFPILOT_HOME": str(tmp_path / ".tfpilot"),
            "TFPILOT_USER": "alice",
        },
    )
    last = result.stdout.strip().splitlines()[-1]
    assert last == "RESULT 0 False False", result.stdout + result.stderr


def test_embedded_as_a_library_it_leaves_output_to_the_hosts_logging() -> None:
    # Nothing configured by the host: Python's default (warnings and above, on stderr) applies,
    # so debug and info lines print nothing; a warning goes through logging.
    quiet = _run(
        "from tfpilot_core.log import get_logger\n"
        "get_logger('tfpilot.lifecycle').debug('capability_skipped', name='slack')\n"
        "get_logger('tfpilot.lifecycle').info('event', type='request_created')\n"
        "get_logger('tfpilot.lifecycle').warning('log_capture_failed', attempt='a1')\n"
    )
    assert quiet.stdout == ""
    assert "capability_skipped" not in quiet.stderr and "request_created" not in quiet.stderr
    assert "log_capture_failed" in quiet.stderr and "attempt='a1'" in quiet.stderr
    # A host that asks logging for info gets tfpilot's info lines, under the logger's name.
    chatty = _run(
        "import logging\n"
        "logging.basicConfig(level=logging.INFO, format='%(name)s %(levelname)s %(message)s')\n"
        "from tfpilot_core.log import bound, get_logger\n"
        "with bound(request_id='req_dev_x'):\n"
        "    get_logger('tfpilot.lifecycle').info('event', type='request_created')\n"
        "get_logger('tfpilot.lifecycle').debug('capability_skipped')\n"
    )
    assert chatty.stdout == ""
    assert "tfpilot.lifecycle INFO" in chatty.stderr and "request_created" in chatty.stderr
    assert "request_id='req_dev_x'" in chatty.stderr
    assert "capability_skipped" not in chatty.stderr
