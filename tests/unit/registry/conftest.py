"""Fixtures for the blob store contract: one store per backend, S3 over HTTP on 127.0.0.1.

The S3 backend talks to moto's standalone server, started once per session on a free loopback
port, or to the endpoint in ``CLAWFT_TEST_S3_ENDPOINT`` (e.g. a MinIO) with the credentials in
``CLAWFT_TEST_S3_ACCESS_KEY_ID`` / ``CLAWFT_TEST_S3_SECRET_ACCESS_KEY``. Each test gets a fresh
bucket.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from registry.storage import (
    BlobStore,
    InMemoryBlobStore,
    LocalDirectoryBlobStore,
    S3BlobStore,
    S3Settings,
)
from tests.conftest import S3Endpoint


@dataclass
class Backend:
    """A store under test, and what only its backend can tell about leftovers."""

    name: str
    store: BlobStore
    leftovers: Callable[[], list[str]]

    def visible(self) -> list[str]:
        return sorted(self.store.iter_digests())


@pytest.fixture
def make_s3_store(s3_endpoint: S3Endpoint) -> Callable[..., S3BlobStore]:
    """An S3 store on a fresh bucket of the test endpoint; keyword arguments go to S3Settings."""

    def make(**overrides: Any) -> S3BlobStore:
        options: dict[str, Any] = {
            "bucket": f"clawft-test-{uuid.uuid4().hex[:16]}",
            "endpoint_url": s3_endpoint.url,
            "access_key_id": s3_endpoint.access_key_id,
            "secret_access_key": s3_endpoint.secret_access_key,
            "create_bucket": True,
            "presign_downloads": True,
            "connect_timeout_s": 2.0,
            "read_timeout_s": 10.0,
            "max_attempts": 2,
        }
        options.update(overrides)
        store = S3BlobStore(S3Settings(**options))
        store.check()  # creates the bucket
        return store

    return make


def s3_leftovers(store: S3BlobStore) -> list[str]:
    """Objects outside the blob addresses, and multipart uploads still open, in its bucket."""
    client = store._client
    bucket = store.settings.bucket
    blob_prefix = store.settings.prefix + "blobs/sha256/"
    listing = client.list_objects_v2(Bucket=bucket)
    stray = [
        f"object {item['Key']}"
        for item in listing.get("Contents", [])
        if not item["Key"].startswith(blob_prefix)
    ]
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return stray + [f"multipart upload of {upload['Key']}" for upload in uploads]


def local_leftovers(store: LocalDirectoryBlobStore) -> list[str]:
    return sorted(str(path) for path in (store.root / "tmp").iterdir())


BACKENDS = [
    pytest.param("memory"),
    pytest.param("local"),
    pytest.param("s3", marks=pytest.mark.network),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "memory":
        return Backend("memory", InMemoryBlobStore(), list)
    if request.param == "local":
        local = LocalDirectoryBlobStore(tmp_path / "store")
        return Backend("local", local, lambda: local_leftovers(local))
    make_s3_store: Callable[..., S3BlobStore] = request.getfixturevalue("make_s3_store")
    s3 = make_s3_store()
    return Backend("s3", s3, lambda: s3_leftovers(s3))
