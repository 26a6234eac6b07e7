"""The size budget checked at load: component bytes, gzipped bytes, plugin directory."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from client.host.errors import SizeBudgetExceeded
from client.host.settings import SizeBudget


def gzipped_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def gzip_upper_bound(size: int) -> int:
    """The most ``size`` bytes can take gzipped: zlib falls back to stored blocks of at
    most 16 KiB that cost 5 bytes each, and gzip adds a header and trailer (18+ bytes)."""
    return size + 5 * (size // 16000 + 1) + 32


def check_raw_size(size: int, budget: SizeBudget) -> None:
    """Checked first, so gzip never runs on more than the budget allows."""
    if size > budget.component_bytes:
        raise SizeBudgetExceeded("the component", size, budget.component_bytes)


def check_gzipped_size(data: bytes, known: int | None, budget: SizeBudget) -> int | None:
    """Raise when ``data`` gzipped is over budget; returns its gzipped size, or ``None`` when
    it was not needed. ``known``: the size computed before (for the same bytes), used instead
    of compressing again. gzip does not run at all when even incompressible data of this size
    would fit."""
    if known is None:
        if gzip_upper_bound(len(data)) <= budget.component_gzip_bytes:
            return None
        known = gzipped_size(data)
    if known > budget.component_gzip_bytes:
        raise SizeBudgetExceeded("the gzipped component", known, budget.component_gzip_bytes)
    return known


def directory_size(directory: Path, *, stop_after: int) -> int:
    """Bytes of the regular files under ``directory`` (links not followed).

    Stops counting once past ``stop_after``: the answer is then only known to be larger.
    """
    total = 0
    pending = [directory]
    while pending:
        current = pending.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
                if total > stop_after:
                    return total
    return total


def check_plugin_directory(directory: Path, budget: SizeBudget) -> int:
    size = directory_size(directory, stop_after=budget.plugin_dir_bytes)
    if size > budget.plugin_dir_bytes:
        raise SizeBudgetExceeded(
            f"the plugin directory {directory} (at least)", size, budget.plugin_dir_bytes
        )
    return size
