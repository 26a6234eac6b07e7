"""Fleet sync, the device side: the plugins a selection asks for, trusted only through the
registry's TUF metadata (:mod:`client.sync.repository`, :func:`sync`), installed as atomic
generations, with rollback.

::

    generations = Generations(Path("/var/lib/clawft/plugins"))
    with generations.stage() as staging:
        staging.keep("acme/weather")  # unchanged: hard-linked from the current generation
        staging.add(InstalledPlugin("acme/hello", "1.2.0", digests), verified_files)
        staging.commit()  # DEST/current now names the new set, DEST/previous the old one
    generations.rollback()  # and back

A device runs plugins from ``DEST/current/<namespace>/<name>/``; a crash at any point leaves
that path on a complete set. What the registry's TUF repository lists, as a device reads it, is
in ``client.sync.schemas``.
"""

from client.sync.generations import (
    RECORD_FILE_NAME,
    GenerationError,
    GenerationLimits,
    Generations,
    InstalledPlugin,
    Staging,
)
from client.sync.repository import (
    RepositoryUntrusted,
    RootNotPinned,
    TrustedRepository,
    pin_root,
)
from client.sync.selection import Selection, SelectionError, VersionRange, parse_selection
from client.sync.syncer import STATE_DIR, Change, ChangeKind, SyncSummary, sync

__all__ = [
    "RECORD_FILE_NAME",
    "STATE_DIR",
    "Change",
    "ChangeKind",
    "GenerationError",
    "GenerationLimits",
    "Generations",
    "InstalledPlugin",
    "RepositoryUntrusted",
    "RootNotPinned",
    "Selection",
    "SelectionError",
    "Staging",
    "SyncSummary",
    "TrustedRepository",
    "VersionRange",
    "parse_selection",
    "pin_root",
    "sync",
]
