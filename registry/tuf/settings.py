"""Settings of the registry's TUF repository: how many hash bins, how long each role's
metadata lives, and where the online signing key is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from verifier.settings_source import SettingsSource

__all__ = ["DEFAULT_BINS", "TufSettings", "online_key_uri"]

DEFAULT_BINS = 256


@dataclass(frozen=True, slots=True)
class TufSettings:
    """The repository's shape and lifetimes (RSTUF's defaults, longer for the bins)."""

    bins: int = DEFAULT_BINS
    """Number of succinct hash bins (a power of two, 2 to 65,536), chosen when the
    repository is created (``CLAWFT_TUF_BINS``); it is fixed in the targets metadata after."""
    online_key_uri: str | None = None
    """The online key that signs the bins, the snapshot and the timestamp, as a
    securesystemslib signer URI (``CLAWFT_TUF_ONLINE_KEY_URI``): ``file2:<path>`` for a key
    file, or a KMS/HSM URI (``awskms:``, ``gcpkms:``, ``azurekms:``, ``hsm:``). ``None``: the
    key file the embedded default created under the data directory."""
    root_expiry: timedelta = timedelta(days=365)
    targets_expiry: timedelta = timedelta(days=365)
    bins_expiry: timedelta = timedelta(days=30)
    snapshot_expiry: timedelta = timedelta(days=7)
    timestamp_expiry: timedelta = timedelta(days=1)
    refresh_margin: float = 0.5
    """An online role is re-signed once less than this share of its lifetime is left (the
    timestamp of a one-day lifetime: with less than 12 hours to go)."""

    def __post_init__(self) -> None:
        if self.bins < 2 or self.bins > 65_536 or self.bins & (self.bins - 1):
            raise ValueError("CLAWFT_TUF_BINS must be a power of two from 2 to 65536")
        if not 0 < self.refresh_margin < 1:
            raise ValueError("the refresh margin is a share of a lifetime, between 0 and 1")

    @property
    def bit_length(self) -> int:
        return self.bins.bit_length() - 1

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TufSettings:
        return cls.from_source(SettingsSource(env))

    @classmethod
    def from_source(cls, source: SettingsSource) -> TufSettings:
        bins = source.integer("CLAWFT_TUF_BINS", DEFAULT_BINS, low=2, high=65_536)
        uri = source.matching(
            "CLAWFT_TUF_ONLINE_KEY_URI",
            r"[a-z][a-z0-9+.-]*:\S*",
            "a signer URI such as file2:/path/to/key.pem or awskms:KEY",
        )
        return cls(bins=bins, online_key_uri=uri)


def online_key_uri(settings: TufSettings, data_dir: Path) -> str:
    """The online key's signer URI: the configured one, or the embedded default's key file."""
    if settings.online_key_uri:
        return settings.online_key_uri
    return f"file2:{(data_dir / 'tuf' / 'online.pem').resolve()}"
