"""Which object store the registry uses and how to reach it: frozen settings read once.

``StorageSettings.from_env(os.environ)`` reads::

    CLAWFT_STORAGE_BACKEND       "local" (default) or "s3"
    CLAWFT_STORAGE_DIR           local: the blob directory (else the caller's default_dir)
    CLAWFT_S3_ENDPOINT_URL       s3: e.g. http://minio:9000; unset for AWS S3
    CLAWFT_S3_BUCKET             s3: required
    CLAWFT_S3_REGION             s3: default us-east-1
    CLAWFT_S3_ACCESS_KEY_ID      s3: both or neither (neither: boto3's credential chain)
    CLAWFT_S3_SECRET_ACCESS_KEY
    CLAWFT_S3_PREFIX             s3: a key prefix inside the bucket, e.g. "registry/"
    CLAWFT_S3_CREATE_BUCKET      s3: "1" to create a missing bucket on check()
    CLAWFT_S3_PRESIGN            s3: "1" to hand out presigned download URLs

(The README's settings table has them all, with their defaults.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from verifier.settings_source import SettingsSource

MIB = 1024 * 1024
S3_MIN_PART_BYTES = 5 * MIB  # S3 refuses smaller parts (except the last one)
S3_MAX_PRESIGN_EXPIRES_S = 7 * 24 * 3600  # SigV4's limit
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True, kw_only=True)
class LocalStoreSettings:
    """A blob store in a local directory (the embedded default)."""

    root: Path
    """The directory that holds ``blobs/`` and ``tmp/``; created if missing."""


@dataclass(frozen=True, kw_only=True)
class S3Settings:
    """A blob store in an S3-compatible bucket (AWS S3, MinIO, moto) through boto3."""

    bucket: str
    """The bucket's name (3-63 characters of lowercase letters, digits, '.' and '-')."""

    endpoint_url: str | None = None
    """The S3 endpoint, e.g. ``http://minio:9000``; ``None`` for AWS S3 in :attr:`region`."""

    region: str = "us-east-1"
    """The region to sign requests for (MinIO accepts the default)."""

    access_key_id: str | None = field(default=None, repr=False)
    """The access key; ``None`` (with no secret) uses boto3's chain (env, profile, IAM role).
    Not shown in ``repr`` either."""

    secret_access_key: str | None = field(default=None, repr=False)
    """The secret key; never shown in ``repr``."""

    prefix: str = ""
    """A key prefix inside the bucket; blobs live at ``<prefix>blobs/sha256/<hex>``."""

    create_bucket: bool = False
    """Create the bucket in :meth:`~registry.storage.s3.S3BlobStore.check` if it is missing."""

    presign_downloads: bool = False
    """Hand out presigned GET URLs, so downloads bypass the registry (``CLAWFT_S3_PRESIGN``)."""

    presign_expires_s: int = 300
    """Lifetime of a presigned URL, in seconds (at most 7 days)."""

    connect_timeout_s: float = 5.0
    """Seconds to wait for a TCP connection to the endpoint."""

    read_timeout_s: float = 30.0
    """Seconds to wait for data on an open connection."""

    max_attempts: int = 3
    """Attempts per request, counting the first (botocore's standard retry mode)."""

    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    """``auto``: path-style with a custom endpoint (MinIO, moto), virtual-host for AWS."""

    spool_memory_bytes: int = 8 * MIB
    """An upload is buffered in memory up to this many bytes, then in a temporary file."""

    multipart_threshold_bytes: int = 64 * MIB
    """Blobs larger than this are sent as a multipart upload instead of one PUT."""

    multipart_part_bytes: int = 16 * MIB
    """The size of each part of a multipart upload (at least 5 MiB)."""

    def __post_init__(self) -> None:
        if not _BUCKET_NAME.fullmatch(self.bucket):
            raise ValueError(
                f"S3 bucket name {self.bucket!r} is not valid: set CLAWFT_S3_BUCKET to 3-63 "
                "lowercase letters, digits, '.' and '-'"
            )
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError(
                "set both CLAWFT_S3_ACCESS_KEY_ID and CLAWFT_S3_SECRET_ACCESS_KEY, or neither "
                "to use boto3's credential chain"
            )
        if self.endpoint_url is not None and not re.match(r"https?://[^/]", self.endpoint_url):
            raise ValueError(
                f"S3 endpoint {self.endpoint_url!r} is not a URL: set CLAWFT_S3_ENDPOINT_URL "
                "to e.g. http://minio:9000, or leave it unset for AWS S3"
            )
        prefix = self.prefix.strip("/")
        if ".." in prefix.split("/") or "\x00" in prefix:
            raise ValueError(
                f"S3 prefix {self.prefix!r} may not contain '..' or NUL: fix CLAWFT_S3_PREFIX"
            )
        object.__setattr__(self, "prefix", f"{prefix}/" if prefix else "")
        if not 1 <= self.presign_expires_s <= S3_MAX_PRESIGN_EXPIRES_S:
            raise ValueError(f"presign_expires_s must be 1-{S3_MAX_PRESIGN_EXPIRES_S} seconds")
        if self.connect_timeout_s <= 0 or self.read_timeout_s <= 0 or self.max_attempts < 1:
            raise ValueError("S3 timeouts must be positive and max_attempts at least 1")
        if self.multipart_part_bytes < S3_MIN_PART_BYTES:
            raise ValueError(f"multipart_part_bytes must be at least {S3_MIN_PART_BYTES}")
        if self.multipart_threshold_bytes < 0 or self.spool_memory_bytes < 0:
            raise ValueError("multipart_threshold_bytes and spool_memory_bytes must be >= 0")


@dataclass(frozen=True, kw_only=True)
class StorageSettings:
    """The registry's object store: exactly the settings of the chosen backend."""

    backend: Literal["local", "s3"]
    """``local`` (a directory; the embedded default) or ``s3`` (an S3-compatible bucket)."""

    local: LocalStoreSettings | None = None
    """Required when :attr:`backend` is ``local``."""

    s3: S3Settings | None = None
    """Required when :attr:`backend` is ``s3``."""

    def __post_init__(self) -> None:
        if self.backend not in ("local", "s3"):
            raise ValueError(
                f"unknown storage backend {self.backend!r}: set CLAWFT_STORAGE_BACKEND to "
                "'local' or 's3'"
            )
        if self.backend == "local" and self.local is None:
            raise ValueError("the local blob store needs a directory: set CLAWFT_STORAGE_DIR")
        if self.backend == "s3" and self.s3 is None:
            raise ValueError("the s3 blob store needs its settings: set CLAWFT_S3_BUCKET")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, default_dir: Path | None = None
    ) -> StorageSettings:
        """Read the ``CLAWFT_STORAGE_*`` and ``CLAWFT_S3_*`` variables (see the module doc).

        ``default_dir`` is the blob directory when ``CLAWFT_STORAGE_DIR`` is unset.
        Raises ``ValueError`` naming the variable to set when the configuration is invalid.
        """
        return cls.from_source(SettingsSource(environ), default_dir=default_dir)

    @classmethod
    def from_source(
        cls, source: SettingsSource, *, default_dir: Path | None = None
    ) -> StorageSettings:
        """As :meth:`from_env`. Every variable is read (and checked) whichever the backend."""
        backend = (source.text("CLAWFT_STORAGE_BACKEND") or "local").lower()
        root = source.path("CLAWFT_STORAGE_DIR") or default_dir
        bucket = source.text("CLAWFT_S3_BUCKET")
        endpoint_url = source.text("CLAWFT_S3_ENDPOINT_URL")
        region = source.matching(
            "CLAWFT_S3_REGION", r"[a-z0-9-]+", "a region name such as eu-north-1", "us-east-1"
        )
        access_key_id = source.text("CLAWFT_S3_ACCESS_KEY_ID")
        secret_access_key = source.text("CLAWFT_S3_SECRET_ACCESS_KEY")
        prefix = source.text("CLAWFT_S3_PREFIX") or ""
        create_bucket = source.flag("CLAWFT_S3_CREATE_BUCKET")
        presign_downloads = source.flag("CLAWFT_S3_PRESIGN")
        if backend == "local":
            if root is None:
                raise ValueError("the local blob store needs a directory: set CLAWFT_STORAGE_DIR")
            return cls(backend="local", local=LocalStoreSettings(root=root))
        if backend != "s3":
            raise ValueError(
                f"unknown storage backend {backend!r}: set CLAWFT_STORAGE_BACKEND to 'local' "
                "or 's3'"
            )
        if bucket is None:
            raise ValueError("the s3 blob store needs a bucket: set CLAWFT_S3_BUCKET")
        s3 = S3Settings(
            bucket=bucket,
            endpoint_url=endpoint_url,
            region=region or "us-east-1",
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            prefix=prefix,
            create_bucket=create_bucket,
            presign_downloads=presign_downloads,
        )
        return cls(backend="s3", s3=s3)
