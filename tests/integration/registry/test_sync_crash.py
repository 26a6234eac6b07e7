"""`clawft-registry sync` killed with SIGKILL at points spread over its whole run (start-up,
metadata, downloads, signature checks, compiling, the generation switch): after each kill the
device runs a complete set, the old one or the new one, never a mix; the next sync finishes
the job. Against the embedded registry and the production shape."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from client.host import PluginHost
from client.sync import STATE_DIR, Generations, pin_root
from tests.conftest import RunningAuthority
from tests.integration.registry.harness import Registry, publish, variant
from tests.integration.registry.tuf_harness import snapshot_of

CLAWFT_REGISTRY = Path(sys.executable).parent / "clawft-registry"
FRACTIONS = (0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98)
"""Kill points, as fractions of an uninterrupted sync's time."""


def test_a_sync_killed_at_any_point_leaves_a_complete_set_running(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CLAWFT_")},
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    root = (registry.data_dir / "tuf" / "1.root.json").read_bytes()

    def command(dest: Path) -> list[str]:
        return [
            str(CLAWFT_REGISTRY),
            "sync",
            "--registry",
            registry.url,
            "--dest",
            str(dest),
            "--select",
            "clawft",
            "--trust-config",
            str(dev_authority.trust_config_path),
        ]

    def runs(dest: Path, expected: str) -> None:
        component = dest / "current" / "clawft" / "hello" / "hello.wasm"
        assert snapshot_of(dest)[1] == {"clawft/hello": expected}
        output = PluginHost().load(component).invoke("greet", '{"name": "Oslo"}')
        assert output == '{"greeting":"Hello, Oslo!"}'

    def sync_to_the_end(dest: Path) -> None:
        if not (dest / STATE_DIR).exists():
            pin_root(dest / STATE_DIR, root)
        subprocess.run(command(dest), env=env, check=True, capture_output=True, timeout=120)

    with registry.client() as client:
        publish(client, variant(built, dev_authority, tmp_path / "src", version="0.1.0"))
    registry.verify_queued()
    dest = tmp_path / "device"
    sync_to_the_end(dest)
    runs(dest, "0.1.0")

    with registry.client() as client:
        publish(client, variant(built, dev_authority, tmp_path / "src", version="0.2.0"))
    registry.verify_queued()
    # How long an uninterrupted sync of the update takes, on a device of its own (after one
    # that fills the compiled cache, as the device's own syncs will find it).
    sync_to_the_end(tmp_path / "timing")
    started = time.monotonic()
    sync_to_the_end(tmp_path / "timing-2")
    whole = time.monotonic() - started

    outcomes = []
    for fraction in FRACTIONS:
        process = subprocess.Popen(
            command(dest), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            process.wait(timeout=whole * fraction)
        except subprocess.TimeoutExpired:
            process.kill()  # SIGKILL: no handler, no cleanup
        process.wait()
        installed = snapshot_of(dest)[1]["clawft/hello"]
        runs(dest, installed)  # whichever it is, complete and runnable
        outcomes.append(installed)
        if installed == "0.2.0":  # go back, so the next kill lands in an install again
            Generations(dest).rollback()
            runs(dest, "0.1.0")
    sync_to_the_end(dest)
    runs(dest, "0.2.0")
    assert "0.1.0" in outcomes, outcomes  # some kills came before the switch
