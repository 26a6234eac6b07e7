"""Registry settings: every setting of the registry, its workers and its verifier, read once
from ``CLAWFT_*`` environment variables (and an optional TOML file named by ``CLAWFT_CONFIG``)
into one frozen tree, and passed in — never a global. ``serve``, ``worker`` (with or without
``--beat``), ``mirror``, ``admin`` and the app all take a :class:`RegistrySettings`.

The tree::

    RegistrySettings      data_dir, host, port, blob_accel_prefix, worker_metrics_*
      .http               HttpSettings: workers, timeouts          CLAWFT_WORKERS, CLAWFT_HTTP_*
      .database           DatabaseSettings                         CLAWFT_DATABASE_*
      .storage            StorageSettings (.local | .s3)           CLAWFT_STORAGE_*, CLAWFT_S3_*
      .worker             WorkerSettings: broker, task limits      CLAWFT_BROKER_*, CLAWFT_TASK_*
        .verifier         VerifierSettings (.isolation)            CLAWFT_VERIFIER_*, *_TRUST_CONFIG
      .tuf                TufSettings                              CLAWFT_TUF_*
      .queue, .uploads, .rates                                     fixed limits, no variables

The README's settings table lists every variable with its default; a test keeps the two in step.
The embedded defaults (``clawft-registry serve``) put everything under one data directory:
SQLite, a local blob directory, an embedded Valkey broker; production names PostgreSQL, an S3
endpoint and a Redis broker instead. The same code paths run either way.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from registry.db.settings import DatabaseSettings
from registry.serving import HttpSettings
from registry.storage.settings import StorageSettings
from registry.tuf.settings import TufSettings
from verifier.celery_app import WorkerSettings
from verifier.settings_source import SettingsError, SettingsSource

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
    """How verification jobs that never reached the broker are sent again (the broker itself
    is ``worker.broker_url``)."""

    sweep_interval_s: float = 15.0
    """How often jobs that never reached the broker are sent again (the outbox sweep)."""


HOST = r"[A-Za-z0-9.:%\[\]-]+"
"""What ``CLAWFT_HOST`` may be: a host name or address."""

HOST_NAME = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(?:\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*"
"""A DNS host name: labels of letters, digits and inner hyphens."""


def bind_address(source: SettingsSource, name: str, default: str) -> str:
    """An address a socket can bind: an IPv4 or IPv6 address (no brackets, no port), or a
    host name."""
    value = source.text(name)
    if value is None:
        return default
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(value)
        return value
    if len(value) <= 253 and re.fullmatch(HOST_NAME, value):
        return value
    raise SettingsError(
        f"{name} must be an IP address without brackets or port, or a host name, such as "
        f"127.0.0.1, 0.0.0.0 or ::1, not {value[:60]!r}"
    )


BLOB_ACCEL_PREFIX = r"/(?:[A-Za-z0-9_/-]*/)?"
"""What ``CLAWFT_BLOB_ACCEL_PREFIX`` may be: starts and ends with "/", only [A-Za-z0-9_/-]."""


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    """Everything the registry server, its workers and its verifier need: the root of the tree."""

    data_dir: Path = Path("registry-data")
    """Where the embedded defaults keep their files (``CLAWFT_DATA_DIR``)."""
    host: str = "127.0.0.1"
    """Address ``serve`` binds (``CLAWFT_HOST``)."""
    port: int = 8750
    """Port ``serve`` binds (``CLAWFT_PORT``)."""
    http: HttpSettings = field(default_factory=HttpSettings)
    """HTTP worker processes and client timeouts (``CLAWFT_WORKERS``, ``CLAWFT_HTTP_*``)."""
    database: DatabaseSettings = field(
        default_factory=lambda: DatabaseSettings.from_env({}, data_dir=Path("registry-data"))
    )
    storage: StorageSettings = field(
        default_factory=lambda: StorageSettings.from_env(
            {}, default_dir=Path("registry-data") / "blobs"
        )
    )
    blob_accel_prefix: str | None = None
    """When set (e.g. ``/_blobs/``), by-digest blob downloads are answered with an nginx
    ``X-Accel-Redirect: <prefix><hex>`` header and no body (``CLAWFT_BLOB_ACCEL_PREFIX``);
    ``None``: the registry sends the bytes itself."""
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    """The broker, the Celery task limits and the verifier's limits and Sigstore instance
    (``CLAWFT_BROKER_*``, ``CLAWFT_RESULT_BACKEND``, ``CLAWFT_TASK_*``, ``CLAWFT_VERIFIER_*``,
    ``CLAWFT_TRUST_CONFIG``): ``worker`` builds its Celery app from exactly this."""
    tuf: TufSettings = field(default_factory=TufSettings)
    """The TUF repository devices sync from (``CLAWFT_TUF_*``)."""
    queue: QueueSettings = field(default_factory=QueueSettings)
    uploads: UploadLimits = field(default_factory=UploadLimits)
    rates: RateLimits = field(default_factory=RateLimits)
    token_default_days: int = 90
    """Lifetime of API tokens unless the request says otherwise."""
    worker_metrics_port: int | None = None
    """Where ``worker`` serves its own ``/metrics`` (``CLAWFT_WORKER_METRICS_PORT``): the
    verdicts, verification latency and TUF signing times of its pool processes, for a worker
    that does not share ``PROMETHEUS_MULTIPROC_DIR`` with the registry (its own container).
    ``None``: it serves none."""
    worker_metrics_host: str = "127.0.0.1"
    """The address that port is bound on (``CLAWFT_WORKER_METRICS_HOST``)."""

    @property
    def presign_downloads(self) -> bool:
        """With an S3 store: answer downloads with a redirect to a presigned URL
        (``CLAWFT_S3_PRESIGN``, kept in ``storage.s3``)."""
        return self.storage.s3 is not None and self.storage.s3.presign_downloads

    def with_broker(self, url: str) -> RegistrySettings:
        """These settings with ``url`` as broker and result backend (the embedded broker)."""
        return replace(self, worker=replace(self.worker, broker_url=url, result_backend=url))

    def with_trust_config(self, path: Path) -> RegistrySettings:
        """These settings verifying against the Sigstore instance of ``path``."""
        verifier = replace(self.worker.verifier, trust_config=path)
        return replace(self, worker=replace(self.worker, verifier=verifier))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RegistrySettings:
        """Every setting, from the environment over the ``CLAWFT_CONFIG`` file. A bad value
        raises one ``ValueError`` naming the variable and what it must be."""
        source = SettingsSource.from_environ(os.environ if environ is None else environ)
        settings = cls.from_source(source)
        source.check_file_was_read()
        return settings

    @classmethod
    def from_source(cls, source: SettingsSource) -> RegistrySettings:
        """The tree from ``source``; each variable is read exactly once, here or in the
        ``from_source`` of the sub-tree that owns it."""
        data_dir = source.path("CLAWFT_DATA_DIR") or Path("registry-data")
        source.retired(
            "CLAWFT_HTTP_KEEP_ALIVE_S",
            use="CLAWFT_HTTP_HEADER_TIMEOUT_S (an idle connection is closed after it)",
        )
        http = HttpSettings(
            workers=source.optional_integer("CLAWFT_WORKERS", low=1, high=256),
            header_timeout_s=source.seconds("CLAWFT_HTTP_HEADER_TIMEOUT_S", 10.0, high=60.0),
            upload_body_timeout_s=source.seconds("CLAWFT_HTTP_UPLOAD_BODY_TIMEOUT_S", 60.0),
            json_body_timeout_s=source.seconds("CLAWFT_HTTP_JSON_BODY_TIMEOUT_S", 10.0),
        )
        return cls(
            data_dir=data_dir,
            host=source.matching(
                "CLAWFT_HOST",
                HOST,
                "a host name or IP address such as 127.0.0.1 or 0.0.0.0",
                "127.0.0.1",
            )
            or "127.0.0.1",
            port=source.integer("CLAWFT_PORT", 8750, low=1, high=65_535),
            http=http,
            database=DatabaseSettings.from_source(source, data_dir=data_dir),
            storage=StorageSettings.from_source(source, default_dir=data_dir / "blobs"),
            blob_accel_prefix=source.matching(
                "CLAWFT_BLOB_ACCEL_PREFIX",
                BLOB_ACCEL_PREFIX,
                'a path that starts and ends with "/" of letters, digits, "_", "-" and "/", '
                "such as /_blobs/",
            ),
            worker=WorkerSettings.from_source(source),
            tuf=TufSettings.from_source(source),
            worker_metrics_port=source.optional_integer(
                "CLAWFT_WORKER_METRICS_PORT", low=1, high=65_535
            ),
            worker_metrics_host=bind_address(source, "CLAWFT_WORKER_METRICS_HOST", "127.0.0.1"),
        )
