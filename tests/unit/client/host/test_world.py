"""The host's copy of the plugin world matches wit/clawft-plugin.wit exactly."""

from __future__ import annotations

import re

from client.host.world import HOST_FUNCTIONS, TOOL_FUNCTIONS, WORLD_VERSION, is_world_interface
from tests.conftest import ROOT

WIT = ROOT / "wit" / "clawft-plugin.wit"


def _functions(interface: str) -> dict[str, str]:
    text = WIT.read_text(encoding="utf-8")
    body = re.search(rf"interface {interface} \{{(.*?)\n\}}", text, re.S)
    assert body is not None
    code = "\n".join(
        line for line in body.group(1).splitlines() if not line.strip().startswith("///")
    )
    out: dict[str, str] = {}
    for name, sig in re.findall(r"([a-z-]+):\s*(func\(.*?\)(?:\s*->\s*[^;]+)?);", code, re.S):
        out[name] = re.sub(r"\s+", " ", sig).replace("( ", "(").strip()
    return out


def test_world_package_and_version() -> None:
    assert f"package clawft:plugin@{WORLD_VERSION};" in WIT.read_text(encoding="utf-8")


def test_host_functions_match_wit() -> None:
    assert _functions("host") == HOST_FUNCTIONS


def test_tool_functions_match_wit() -> None:
    assert _functions("tool") == TOOL_FUNCTIONS


def test_compatible_versions() -> None:
    assert is_world_interface("clawft:plugin/tool@0.1.0", "clawft:plugin/tool")
    assert is_world_interface("clawft:plugin/tool@0.1.7", "clawft:plugin/tool")
    assert not is_world_interface("clawft:plugin/tool@0.2.0", "clawft:plugin/tool")
    assert not is_world_interface("clawft:plugin/tool", "clawft:plugin/tool")
