"""Build the plugins of a benchmark run: the examples (the same build the tests use) and the
benchmark's own generated plugins under ``bench/assets`` (built the same way)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
BENCH_ASSETS = ROOT / "bench" / "assets"


def _build_module() -> ModuleType:
    """``examples/plugins/build.py``, imported once."""
    name = "clawft_plugin_build"
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / "plugins" / "build.py")
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def build_examples(out: Path) -> dict[str, Path]:
    """Build ``examples/plugins`` into ``out``; maps a plugin's directory name to its output."""
    built: dict[str, Path] = _build_module().build_all(ROOT / "examples" / "plugins", out)
    return built


def build_bench_assets(out: Path) -> dict[str, Path]:
    """Build ``bench/assets`` (e.g. ``heavy``) into ``out``, like :func:`build_examples`."""
    built: dict[str, Path] = _build_module().build_all(BENCH_ASSETS, out)
    return built


def build_all_plugins(out: Path) -> dict[str, Path]:
    """The examples and the benchmark's own plugins, side by side in ``out``."""
    examples = build_examples(out)
    assets = build_bench_assets(out)
    clash = sorted(set(examples) & set(assets))
    if clash:
        raise ValueError(f"bench/assets and examples/plugins both have {', '.join(clash)}")
    return {**examples, **assets}


def with_custom_section(data: bytes, name: str, payload: bytes) -> bytes:
    """``data`` (a component) with one more custom section at its end."""

    def uleb(value: int) -> bytes:
        out = bytearray()
        while True:
            byte, value = value & 0x7F, value >> 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                return bytes(out)

    encoded = name.encode()
    body = uleb(len(encoded)) + encoded + payload
    return data + b"\x00" + uleb(len(body)) + body
