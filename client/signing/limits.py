"""Every size bound of the signing library, in one place, and the one bounded file reader."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SigningLimits:
    """Hard limits on what signing and verification read into memory."""

    max_bundle_bytes: int = 1_048_576  # bytes; a Sigstore bundle is a few KiB
    max_manifest_bytes: int = 65_536  # bytes; the manifest parser's own bound
    max_component_bytes: int = 10 * 1024 * 1024  # bytes; the seed's whole-plugin budget
    max_trust_config_bytes: int = 1_048_576  # bytes; the public trusted root is ~20 KiB


DEFAULT_LIMITS = SigningLimits()


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """The bytes of ``path`` if it holds at most ``limit``; never reads more than ``limit + 1``.

    Raises ``OSError`` when the file cannot be read and ``ValueError`` when it is too large.
    """
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{what} {path} is larger than the {limit}-byte limit")
    return data
