"""Registry settings: read once from ``CLAWFT_*`` environment variables (and an optional TOML
file named by ``CLAWFT_CONFIG``) into frozen dataclasses, and passed in — never a global.

The embedded defaults (``clawft-registry serve``) put everything under one data directory:
SQLite, a local blob directory, an embedded Valkey broker; production names PostgreSQL, an S3
endpoint and a Redis broker instead. The same code paths run either way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from client.decoding import Undecodable, loads_toml
from registry.db.settings import DatabaseSettings
from registry.serving import HttpTimeouts
from registry.storage.settings import StorageSettings
from registry.tuf.settings import TufSettings
from verifier.settings import VerifierSettings

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """Bounds of ``POST /api/v1/plugins``, enforced while the body streams in."""

    max_manifest_bytes: int = 64 * KIB
    max_component_bytes: int = 300 * KIB
    """The seed's size budget; larger components are refused before they are stored."""
    max_bundle_bytes: int = 1 * MIB

    @property
    def max_body_bytes(self) -> int:
        """The whole multipart body: the parts plus room for their headers."""
        return self.max_manifest_bytes + self.max_component_bytes + self.max_bundle_bytes + 16 * KIB


MAX_JSON_BODY_BYTES = 16 * KIB
"""The JSON request bodies (tokens, yank) are a few hundred bytes; larger ones are refused."""


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per-client request rates (token buckets, per API token or client address)."""

    publish_per_minute: int = 30
    tokens_per_minute: int = 10


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """How verification jobs reach the verifier workers."""

    broker_url: str | None = None
    """Celery broker (``CLAWFT_BROKER_URL``); ``None``: the embedded Valkey of ``serve``."""
    result_backend: str | None = None
    """Celery result backend (``CLAWFT_RESULT_BACKEND``); ``None``: same as the broker."""
    sweep_interval_s: float = 15.0
    """How often jobs that never reached the broker are sent again (the outbox sweep)."""


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    """Everything the registry server needs."""

    data_dir: Path = Path("registry-data")
    """Where the embedded defaults keep their files (``CLAWFT_DATA_DIR``)."""
    host: str = "127.0.0.1"
    """Address ``serve`` binds (``CLAWFT_HOST``)."""
    port: int = 8750
    """Port ``serve`` binds (``CLAWFT_PORT``)."""
    database: DatabaseSettings = field(
        default_factory=lambda: DatabaseSettings.from_env({}, data_dir=Path("registry-data"))
    )
    storage: StorageSettings = field(
        default_factory=lambda: StorageSettings.from_env(
            {}, default_dir=Path("registry-data") / "blobs"
        )
    )
    queue: QueueSettings = field(default_factory=QueueSettings)
    uploads: UploadLimits = field(default_factory=UploadLimits)
    http: HttpTimeouts = field(default_factory=HttpTimeouts)
    rates: RateLimits = field(default_factory=RateLimits)
    verifier: VerifierSettings = field(default_factory=VerifierSettings)
    trust_config: Path | None = None
    """ClientTrustConfig of the Sigstore instance uploads are signed with
    (``CLAWFT_TRUST_CONFIG``); ``None``: public Sigstore."""
    token_default_days: int = 90
    """Lifetime of API tokens unless the request says otherwise."""
    presign_downloads: bool = False
    """With an S3 store: answer downloads with a redirect to a presigned URL."""
    tuf: TufSettings = field(default_factory=TufSettings)
    """The TUF repository devices sync from (``CLAWFT_TUF_*``)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RegistrySettings:
        env = dict(os.environ if environ is None else environ)
        config = env.get("CLAWFT_CONFIG")
        if config:
            env = {**_toml_as_env(Path(config)), **env}
        data_dir = Path(env.get("CLAWFT_DATA_DIR", "registry-data"))
        trust = env.get("CLAWFT_TRUST_CONFIG")
        verifier = VerifierSettings(trust_config=Path(trust) if trust else None)
        try:
            port = int(env.get("CLAWFT_PORT", "8750"))
        except ValueError:
            raise ValueError("CLAWFT_PORT must be a port number") from None
        timeouts = HttpTimeouts(
            header_timeout_s=_seconds(env, "CLAWFT_HTTP_HEADER_TIMEOUT_S", 10.0),
            keep_alive_s=_seconds(env, "CLAWFT_HTTP_KEEP_ALIVE_S", 5.0),
            upload_body_timeout_s=_seconds(env, "CLAWFT_HTTP_UPLOAD_BODY_TIMEOUT_S", 60.0),
            json_body_timeout_s=_seconds(env, "CLAWFT_HTTP_JSON_BODY_TIMEOUT_S", 10.0),
        )
        return cls(
            data_dir=data_dir,
            host=env.get("CLAWFT_HOST", "127.0.0.1"),
            port=port,
            database=DatabaseSettings.from_env(env, data_dir=data_dir),
            storage=StorageSettings.from_env(env, default_dir=data_dir / "blobs"),
            queue=QueueSettings(
                broker_url=env.get("CLAWFT_BROKER_URL") or None,
                result_backend=env.get("CLAWFT_RESULT_BACKEND") or None,
            ),
            verifier=verifier,
            http=timeouts,
            trust_config=Path(trust) if trust else None,
            presign_downloads=env.get("CLAWFT_S3_PRESIGN", "") in ("1", "true", "yes"),
            tuf=TufSettings.from_env(env),
        )


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {text[:40]!r}") from None
    if not 0 < value <= 3600:
        raise ValueError(f"{name} must be more than 0 and at most 3600 seconds")
    return value


def _toml_as_env(path: Path) -> dict[str, str]:
    """A TOML file of ``key = value`` pairs, as ``CLAWFT_KEY`` environment entries."""
    try:
        data = loads_toml(path.read_text(encoding="utf-8"), what=str(path))
    except (OSError, UnicodeDecodeError, Undecodable) as exc:
        raise ValueError(f"cannot read registry config {path}: {exc}") from None
    out: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict | list):
            raise ValueError(f"{path}: {key} must be a plain value")
        out[f"CLAWFT_{key.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return out
