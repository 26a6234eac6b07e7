"""Build the example plugins for a benchmark run (the same build the tests use)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def build_examples(out: Path) -> dict[str, Path]:
    spec = importlib.util.spec_from_file_location(
        "clawft_plugin_build", ROOT / "examples" / "plugins" / "build.py"
    )
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    built: dict[str, Path] = module.build_all(ROOT / "examples" / "plugins", out)
    return built
