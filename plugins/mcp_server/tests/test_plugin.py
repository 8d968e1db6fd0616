"""The plugin's shape: `tfpilot --help` does not load `mcp`; tools refuse what is not theirs."""

from __future__ import annotations

import subprocess
import sys

from mcp_helpers import World

from tfpilot_mcp.tools import ACTING, NEVER, Tools


def test_help_does_not_import_mcp() -> None:
    code = (
        "import sys\n"
        "from tfpilot_core.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'mcp' not in sys.modules, 'mcp imported'\n"
        "assert 'tfpilot_mcp.server' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("ok")
    assert "  mcp " in out.stdout


def test_no_approving_or_destructive_tool_exists() -> None:
    names = {n for n in dir(Tools) if not n.startswith("_")}
    assert not {n for n in names for word in NEVER if word in n}
    assert set(ACTING) == {"create", "plan"}


def test_tools_read_through_the_platform_checks(world: World) -> None:
    from tfpilot_core.errors import ForbiddenError
    from tfpilot_core.platform import Platform

    platform = Platform.from_config(
        world.config,
        environ={"TFPILOT_HOME": str(world.home), "TFPILOT_CONFIG": str(world.config)},
    )
    tools = Tools(platform, "pat")
    assert tools.list_requests(limit=100)["count"] == 2
    assert tools.query({"aggregate": "sum_cost"})["total_cost"] == "300"
    try:
        tools.show_request(world.ids[1])
    except ForbiddenError as exc:
        assert "pat may not read" in str(exc)
    else:
        raise AssertionError("pat read a shop request")
