"""Scratch directories: locked while in use, swept once their owner is gone."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from verifier.isolation.scratch import PREFIX, ScratchDirectory, sweep_abandoned

HOLD = """
import sys, time
from pathlib import Path
from verifier.isolation.scratch import ScratchDirectory
scratch = ScratchDirectory(Path(sys.argv[1]))
(scratch.path / "left-behind.txt").write_text("plugin data")
print(scratch.path, flush=True)
time.sleep(60)
"""


def holder(root: Path) -> tuple[subprocess.Popen[str], Path]:
    """A process that made a scratch directory (with a file in it) and holds it."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert process.stdout is not None
    return process, Path(process.stdout.readline().strip())


def test_a_directory_in_use_is_kept_and_one_whose_owner_died_is_swept(tmp_path: Path) -> None:
    process, held = holder(tmp_path)
    try:
        assert sweep_abandoned(tmp_path) == []
        assert (held / "left-behind.txt").exists()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert sweep_abandoned(tmp_path) == [held]
    assert not held.exists()


def test_own_directory_is_kept_until_removed(tmp_path: Path) -> None:
    scratch = ScratchDirectory(tmp_path)
    assert scratch.path.parent == tmp_path and scratch.path.name.startswith(PREFIX)
    assert sweep_abandoned(tmp_path) == []
    scratch.remove()
    assert not scratch.path.exists()
    scratch.remove()  # twice is harmless


def test_sweep_leaves_links_files_and_other_names_alone(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    (tmp_path / f"{PREFIX}link").symlink_to(victim, target_is_directory=True)
    (tmp_path / f"{PREFIX}file").write_text("not a directory")
    (tmp_path / "unrelated").mkdir()
    assert sweep_abandoned(tmp_path) == []
    assert (victim / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{PREFIX}file", f"{PREFIX}link", "unrelated", "victim"]
    )


def test_sweeping_a_missing_root_finds_nothing(tmp_path: Path) -> None:
    assert sweep_abandoned(tmp_path / "not-there") == []
    assert list(tmp_path.iterdir()) == []
