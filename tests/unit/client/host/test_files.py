"""read-file / write-file containment inside the plugin's data directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from client.host.sandbox.decisions import HostCallFailed, PolicyDenied
from client.host.sandbox.files import PluginFiles
from client.host.settings import DataQuota

MB = 1024 * 1024


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "today.txt").write_text("buy milk", encoding="utf-8")
    (root / "private.txt").write_text("not declared", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("host secret", encoding="utf-8")
    return root


@pytest.fixture
def files(data_dir: Path) -> PluginFiles:
    return PluginFiles(data_dir, ["notes/"], max_read_bytes=MB, max_write_bytes=4 * MB)


def test_reads_and_writes_inside_declared_prefix(files: PluginFiles, data_dir: Path) -> None:
    assert files.read("notes/today.txt") == "buy milk"
    files.write("notes/sub/new.txt", "hello ✓")
    assert (data_dir / "notes" / "sub" / "new.txt").read_text(encoding="utf-8") == "hello ✓"
    files.write("notes/today.txt", "replaced")
    assert files.read("notes/today.txt") == "replaced"
    assert not [p for p in (data_dir / "notes").iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    "path",
    [
        "../outside.txt",
        "notes/../../outside.txt",
        "notes/../private.txt",
        "/etc/passwd",
        "notes/./today.txt",
        "private.txt",
        "notes\\..\\private.txt",
        "notes/today.txt\x00",
        "",
        "a/" * 40 + "x",
    ],
)
def test_escapes_are_denied(files: PluginFiles, path: str) -> None:
    with pytest.raises(PolicyDenied):
        files.read(path)
    with pytest.raises(PolicyDenied):
        files.write(path, "x")


def test_symlink_leading_outside_is_refused(files: PluginFiles, data_dir: Path) -> None:
    (data_dir / "notes" / "link.txt").symlink_to(data_dir.parent / "outside.txt")
    (data_dir / "notes" / "linkdir").symlink_to(data_dir.parent)
    with pytest.raises(PolicyDenied, match="symbolic link"):
        files.read("notes/link.txt")
    with pytest.raises(PolicyDenied, match="symbolic link"):
        files.read("notes/linkdir/outside.txt")
    with pytest.raises(PolicyDenied, match="symbolic link"):
        files.write("notes/linkdir/planted.txt", "x")
    with pytest.raises(PolicyDenied):
        files.write("notes/link.txt", "overwrite through the link")
    assert (data_dir.parent / "outside.txt").read_text(encoding="utf-8") == "host secret"
    assert not (data_dir.parent / "planted.txt").exists()


def test_declared_prefix_that_is_a_symlink_is_refused(data_dir: Path, tmp_path: Path) -> None:
    (data_dir / "escape").symlink_to(tmp_path)
    files = PluginFiles(data_dir, ["escape/"], max_read_bytes=MB, max_write_bytes=MB)
    with pytest.raises(PolicyDenied, match="symbolic link"):
        files.read("escape/outside.txt")


def test_oversized_write_is_refused_and_loses_nothing(files: PluginFiles, data_dir: Path) -> None:
    with pytest.raises(PolicyDenied, match="limit"):
        files.write("notes/today.txt", "x" * (4 * MB + 1))
    assert (data_dir / "notes" / "today.txt").read_text(encoding="utf-8") == "buy milk"


def test_oversized_read_fails(data_dir: Path) -> None:
    (data_dir / "notes" / "big.txt").write_bytes(b"x" * 2048)
    files = PluginFiles(data_dir, ["notes"], max_read_bytes=1024, max_write_bytes=MB)
    with pytest.raises(HostCallFailed, match="read limit"):
        files.read("notes/big.txt")


def test_fifo_is_refused_without_hanging(files: PluginFiles, data_dir: Path) -> None:
    os.mkfifo(data_dir / "notes" / "pipe")
    with pytest.raises(PolicyDenied, match="regular file"):
        files.read("notes/pipe")


def test_missing_file_and_no_data_dir(data_dir: Path, files: PluginFiles) -> None:
    with pytest.raises(HostCallFailed, match="does not exist"):
        files.read("notes/missing.txt")
    no_dir = PluginFiles(None, ["notes/"], max_read_bytes=MB, max_write_bytes=MB)
    with pytest.raises(PolicyDenied, match="no data directory"):
        no_dir.read("notes/today.txt")


def test_no_declared_paths_means_no_access(data_dir: Path) -> None:
    files = PluginFiles(data_dir, [], max_read_bytes=MB, max_write_bytes=MB)
    with pytest.raises(PolicyDenied, match="outside the paths declared"):
        files.read("notes/today.txt")


def test_scratch_writes_without_fsync_are_still_atomic(data_dir: Path) -> None:
    files = PluginFiles(data_dir, ["notes/"], max_read_bytes=MB, max_write_bytes=MB, durable=False)
    files.write("notes/today.txt", "scratch")
    assert files.read("notes/today.txt") == "scratch"
    assert not [p for p in (data_dir / "notes").iterdir() if p.name.endswith(".tmp")]


def test_write_budget_bounds_what_a_plugin_writes_in_total(data_dir: Path) -> None:
    files = PluginFiles(
        data_dir, ["notes/"], max_read_bytes=MB, max_write_bytes=MB, write_budget=10
    )
    files.write("notes/a.txt", "12345")
    files.write("notes/a.txt", "12345")  # rewriting the same file counts too
    with pytest.raises(HostCallFailed, match="has written 10 of the 10 bytes it may write"):
        files.write("notes/b.txt", "x")
    assert not (data_dir / "notes" / "b.txt").exists()


def test_a_failed_write_does_not_spend_the_budget(data_dir: Path) -> None:
    files = PluginFiles(data_dir, ["notes/"], max_read_bytes=MB, max_write_bytes=MB, write_budget=8)
    with pytest.raises(HostCallFailed, match=r"today\.txt"):
        files.write("notes/today.txt/x", "12345678")  # a file is in the way of the directory
    files.write("notes/ok.txt", "12345678")
    assert (data_dir / "notes" / "ok.txt").read_text(encoding="utf-8") == "12345678"


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    root = tmp_path / "empty"
    root.mkdir()
    return root


def quota_files(
    empty_dir: Path, *, entries: int | None = None, size: int | None = None
) -> PluginFiles:
    return PluginFiles(
        empty_dir,
        ["notes/"],
        max_read_bytes=MB,
        max_write_bytes=MB,
        quota=DataQuota(bytes=size, entries=entries),
        durable=False,
    )


def test_empty_files_and_directories_count_against_the_entry_quota(empty_dir: Path) -> None:
    files = quota_files(empty_dir, entries=5)
    files.write("notes/a", "")  # notes/ and a: two entries, no bytes
    files.write("notes/b", "")
    files.write("notes/a", "")  # rewriting a file adds no entry
    with pytest.raises(HostCallFailed, match="quota of 5 files and directories"):
        files.write("notes/d/e/x", "")  # d, e and x would make six
    assert not (empty_dir / "notes" / "d").exists()  # refused before anything was made
    files.write("notes/c", "")
    files.write("notes/f", "")  # five: the quota
    with pytest.raises(HostCallFailed, match="holds 5 files and directories, its quota"):
        files.write("notes/g", "")
    assert sorted(p.name for p in (empty_dir / "notes").iterdir()) == ["a", "b", "c", "f"]


def test_the_byte_quota_counts_what_the_directory_holds(empty_dir: Path) -> None:
    files = quota_files(empty_dir, size=10)
    files.write("notes/a", "12345678")
    files.write("notes/a", "12")  # shrinking gives bytes back
    files.write("notes/b", "12345678")
    with pytest.raises(HostCallFailed, match="to 11 bytes, past its quota of 10"):
        files.write("notes/c", "1")
    assert not (empty_dir / "notes" / "c").exists()


def test_the_quota_counts_what_was_there_before(empty_dir: Path) -> None:
    (empty_dir / "notes").mkdir()
    for i in range(3):
        (empty_dir / "notes" / f"old{i}").write_text("x" * 4, encoding="utf-8")
    files = quota_files(empty_dir, entries=5, size=100)
    files.write("notes/new", "")
    with pytest.raises(HostCallFailed, match="holds 5 files and directories"):
        files.write("notes/newer", "")


def test_a_failed_write_gives_back_its_quota(empty_dir: Path) -> None:
    files = quota_files(empty_dir, entries=3)
    (empty_dir / "notes").mkdir()
    (empty_dir / "notes" / "blocker").write_text("", encoding="utf-8")
    with pytest.raises(HostCallFailed):
        files.write("notes/blocker/x", "")  # a file is in the way of the directory
    files.write("notes/ok", "")  # notes, blocker, ok: three
