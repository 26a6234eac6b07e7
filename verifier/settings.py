"""Verifier settings: every limit the verifier applies, in one frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from client.host.settings import SizeBudget
from verifier.settings_source import SettingsError, SettingsSource

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class IsolationLimits:
    """Bounds of the child process that compiles and runs untrusted components."""

    cpu_seconds: int = 20
    """CPU time one verification may use in the child (whole seconds: RLIMIT_CPU;
    ``CLAWFT_VERIFIER_CPU_SECONDS``)."""
    memory_bytes: int = 1024 * MIB
    """Data segment of the child (RLIMIT_DATA): compiler and plugin memory together
    (``CLAWFT_VERIFIER_MEMORY_BYTES``)."""
    wall_seconds: float = 60.0
    """Wall-clock bound of one verification in the child; past it the child is killed
    (``CLAWFT_VERIFIER_WALL_SECONDS``)."""
    scratch_bytes: int = 16 * MIB
    """What a plugin may write (``write-file``, in total) to its scratch data directory in one
    verification (``CLAWFT_VERIFIER_SCRATCH_BYTES``)."""
    scratch_entries: int = 1_000
    """Files and directories a plugin may make in its scratch data directory in one
    verification (``CLAWFT_VERIFIER_SCRATCH_ENTRIES``): empty ones cost no bytes."""
    scratch_root: Path | None = None
    """Where the child's scratch data directory is made (``CLAWFT_VERIFIER_SCRATCH_DIR``);
    ``None``: ``/dev/shm`` when it is writable with room to spare (memory-backed, so a
    plugin's writes cost no disk I/O), else the temp directory."""

    @classmethod
    def from_source(cls, source: SettingsSource) -> IsolationLimits:
        """The ``CLAWFT_VERIFIER_*`` limits; unset ones keep their defaults."""
        d = cls()
        root = source.path("CLAWFT_VERIFIER_SCRATCH_DIR")
        if root is not None and not root.is_dir():
            raise SettingsError(
                f"CLAWFT_VERIFIER_SCRATCH_DIR ({root}) is not a directory; create it or unset it"
            )
        return cls(
            cpu_seconds=source.integer(
                "CLAWFT_VERIFIER_CPU_SECONDS", d.cpu_seconds, low=1, high=3600
            ),
            memory_bytes=source.integer(
                "CLAWFT_VERIFIER_MEMORY_BYTES", d.memory_bytes, low=64 * MIB
            ),
            wall_seconds=source.seconds("CLAWFT_VERIFIER_WALL_SECONDS", d.wall_seconds),
            scratch_bytes=source.integer("CLAWFT_VERIFIER_SCRATCH_BYTES", d.scratch_bytes, low=0),
            scratch_entries=source.integer(
                "CLAWFT_VERIFIER_SCRATCH_ENTRIES", d.scratch_entries, low=0
            ),
            scratch_root=root,
        )


@dataclass(frozen=True, slots=True)
class VerifierSettings:
    """What the verifier enforces; the same values for the CLI and the Celery task."""

    size_budget: SizeBudget = field(default_factory=SizeBudget)
    isolation: IsolationLimits = field(default_factory=IsolationLimits)
    max_manifest_bytes: int = 64 * 1024
    max_bundle_bytes: int = 1 * MIB
    max_description_chars: int = 1024
    max_name_chars: int = 64
    """Longest namespace, and longest plugin name, each."""
    max_tools: int = 64
    """Most tools a plugin's describe() may list."""
    max_probes: int = 16
    """Described tools without a test vector that are called once with ``{}``."""
    max_describe_bytes: int = 256 * 1024
    trust_config: Path | None = None
    """ClientTrustConfig JSON of the Sigstore instance uploads are signed with, for a private
    or local instance (``CLAWFT_TRUST_CONFIG``); ``None``: public Sigstore."""
    staging: bool = False
    """Use the public staging Sigstore instance (tests and pre-production;
    ``CLAWFT_VERIFIER_STAGING``)."""

    @classmethod
    def from_source(cls, source: SettingsSource) -> VerifierSettings:
        """The isolation limits and the Sigstore instance; the rest are fixed defaults."""
        source.retired("CLAWFT_VERIFIER_TRUST_CONFIG", use="CLAWFT_TRUST_CONFIG")
        trust = source.path("CLAWFT_TRUST_CONFIG")
        if trust is not None and not trust.is_file():
            raise SettingsError(
                f"CLAWFT_TRUST_CONFIG must name a ClientTrustConfig JSON file; {trust} is not a "
                "file"
            )
        return cls(
            isolation=IsolationLimits.from_source(source),
            trust_config=trust,
            staging=source.flag("CLAWFT_VERIFIER_STAGING"),
        )
