"""The BlobStore contract, run against every backend: in memory, a local directory, and S3 over
HTTP (moto's server on 127.0.0.1, or CLAWFT_TEST_S3_ENDPOINT)."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

import registry.storage
from registry.storage import (
    BlobInfo,
    BlobNotFound,
    BlobStore,
    BlobTooLarge,
    DigestMismatch,
    InMemoryBlobStore,
    InvalidDigest,
    LocalDirectoryBlobStore,
    LocalStoreSettings,
    S3BlobStore,
    S3Settings,
    StorageSettings,
    StorageUnavailable,
    StoreCorrupted,
    create_blob_store,
)
from tests.unit.registry.conftest import Backend, local_leftovers, s3_leftovers

MIB = 1024 * 1024
TEST_KEY = "testing"
CONTENT = b"\x00asm\x01\x00\x00\x00" + bytes(range(256)) * 64
DIGEST = hashlib.sha256(CONTENT).hexdigest()
OTHER_DIGEST = hashlib.sha256(b"other").hexdigest()
EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()

HOSTILE_DIGESTS: list[Any] = [
    "../x",
    "../../../../etc/passwd",
    "blobs/sha256/" + DIGEST,
    DIGEST.upper(),
    DIGEST[:63],
    DIGEST + "0",
    DIGEST[:63] + "\x00",
    "sha256:" + DIGEST,
    DIGEST + "\n",
    "",
    None,
    DIGEST.encode(),
]


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class PullCounter:
    """A generator of ``total`` bytes in 1 MiB chunks that counts what was pulled from it."""

    def __init__(self, total: int, *, fail_after: int | None = None) -> None:
        self.total = total
        self.fail_after = fail_after
        self.pulled = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for _ in range(self.total // MIB):
                if self.fail_after is not None and self.pulled >= self.fail_after:
                    raise ConnectionResetError("the client went away mid-upload")
                self.pulled += 1
                yield b"x" * MIB
        finally:
            self.closed = True


# -- the contract, on every backend ------------------------------------------------------------


def test_round_trip(backend: Backend) -> None:
    store = backend.store
    info = store.put_stream(chunked(CONTENT, 1000), max_bytes=len(CONTENT), expected_sha256=DIGEST)

    assert info == BlobInfo(sha256=DIGEST, size=len(CONTENT))
    assert info.key == f"blobs/sha256/{DIGEST}"
    assert store.get(DIGEST, max_bytes=len(CONTENT)) == CONTENT
    with store.open(DIGEST) as stream:
        assert stream.read(8) == CONTENT[:8]
        assert stream.read() == CONTENT[8:]
    assert store.stat(DIGEST) == info
    assert store.exists(DIGEST)
    assert backend.visible() == [DIGEST]
    assert backend.leftovers() == []


def test_empty_blob_round_trips(backend: Backend) -> None:
    assert backend.store.put_bytes(b"", max_bytes=0) == BlobInfo(EMPTY_DIGEST, 0)
    assert backend.store.get(EMPTY_DIGEST, max_bytes=0) == b""


def test_putting_stored_content_again_is_a_noop(backend: Backend) -> None:
    first = backend.store.put_bytes(CONTENT, max_bytes=len(CONTENT))
    again = backend.store.put_stream(chunked(CONTENT, 4096), max_bytes=len(CONTENT))

    assert first == again
    assert backend.visible() == [DIGEST]
    assert backend.store.get(DIGEST, max_bytes=len(CONTENT)) == CONTENT
    assert backend.leftovers() == []


def test_stream_over_the_limit_is_refused_without_reading_the_rest(backend: Backend) -> None:
    gigabyte = PullCounter(1024 * MIB)

    with pytest.raises(BlobTooLarge, match="limit of 3145728 bytes") as refused:
        backend.store.put_stream(gigabyte, max_bytes=3 * MIB)

    assert refused.value.max_bytes == 3 * MIB
    assert gigabyte.pulled == 4  # the chunk that crossed the limit, and not one more
    assert gigabyte.closed
    assert backend.visible() == []
    assert backend.leftovers() == []


def test_content_exactly_at_the_limit_is_accepted(backend: Backend) -> None:
    assert backend.store.put_bytes(CONTENT, max_bytes=len(CONTENT)).size == len(CONTENT)
    with pytest.raises(BlobTooLarge):
        backend.store.put_bytes(CONTENT + b"!", max_bytes=len(CONTENT))


def test_digest_mismatch_is_refused_and_nothing_is_visible(backend: Backend) -> None:
    with pytest.raises(DigestMismatch, match=f"hashes to sha256 {DIGEST}") as refused:
        backend.store.put_bytes(CONTENT, max_bytes=len(CONTENT), expected_sha256=OTHER_DIGEST)

    assert (refused.value.expected, refused.value.actual) == (OTHER_DIGEST, DIGEST)
    assert backend.store.stat(DIGEST) is None
    assert backend.store.stat(OTHER_DIGEST) is None
    assert backend.visible() == []
    assert backend.leftovers() == []


def test_a_stream_that_fails_midway_leaves_nothing(backend: Backend) -> None:
    upload = PullCounter(64 * MIB, fail_after=3)

    with pytest.raises(ConnectionResetError):
        backend.store.put_stream(upload, max_bytes=64 * MIB)

    assert upload.pulled == 3
    assert backend.visible() == []
    assert backend.leftovers() == []


@pytest.mark.parametrize("digest", HOSTILE_DIGESTS, ids=repr)
def test_hostile_digests_are_refused(backend: Backend, digest: Any) -> None:
    store = backend.store
    operations: list[Callable[[], object]] = [
        lambda: store.open(digest),
        lambda: store.get(digest, max_bytes=1),
        lambda: store.stat(digest),
        lambda: store.exists(digest),
        lambda: store.delete(digest),
        lambda: store.presigned_url(digest, filename="x.wasm"),
    ]
    if digest is not None:  # None means "do not check" for expected_sha256
        operations.append(
            lambda: store.put_bytes(CONTENT, max_bytes=len(CONTENT), expected_sha256=digest)
        )
    for operation in operations:
        with pytest.raises(InvalidDigest, match="64 lowercase hex"):
            operation()
    assert backend.visible() == []
    assert backend.leftovers() == []


def test_missing_blobs(backend: Backend) -> None:
    store = backend.store
    with pytest.raises(BlobNotFound, match=OTHER_DIGEST):
        store.open(OTHER_DIGEST)
    with pytest.raises(FileNotFoundError):  # what callers that know only the stdlib catch
        store.get(OTHER_DIGEST, max_bytes=10)
    assert store.stat(OTHER_DIGEST) is None
    assert not store.exists(OTHER_DIGEST)
    store.delete(OTHER_DIGEST)  # idempotent


def test_get_is_bounded(backend: Backend) -> None:
    backend.store.put_bytes(CONTENT, max_bytes=len(CONTENT))
    with pytest.raises(BlobTooLarge, match="stream it with open"):
        backend.store.get(DIGEST, max_bytes=len(CONTENT) - 1)


def test_delete_removes_the_blob(backend: Backend) -> None:
    backend.store.put_bytes(CONTENT, max_bytes=len(CONTENT))
    backend.store.put_bytes(b"other", max_bytes=5)

    backend.store.delete(DIGEST)

    assert backend.visible() == [OTHER_DIGEST]
    assert not backend.store.exists(DIGEST)
    assert backend.store.put_bytes(CONTENT, max_bytes=len(CONTENT)).sha256 == DIGEST


def test_concurrent_puts_of_one_blob_end_with_one_intact_blob(backend: Backend) -> None:
    data = os.urandom(2 * MIB + 17)
    digest = hashlib.sha256(data).hexdigest()
    start = threading.Barrier(8)
    results: list[BlobInfo] = []
    errors: list[BaseException] = []

    def put() -> None:
        start.wait()
        try:
            results.append(backend.store.put_stream(chunked(data, 64 * 1024), max_bytes=len(data)))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert results == [BlobInfo(digest, len(data))] * 8
    assert backend.store.get(digest, max_bytes=len(data)) == data
    assert backend.visible() == [digest]
    assert backend.leftovers() == []


def test_check_passes_on_a_working_store(backend: Backend) -> None:
    backend.store.check()


def test_every_backend_is_a_blob_store(backend: Backend) -> None:
    assert isinstance(backend.store, BlobStore)


# -- presigned URLs ----------------------------------------------------------------------------


@pytest.mark.network
def test_presigned_url_downloads_the_blob(make_s3_store: Callable[..., S3BlobStore]) -> None:
    store = make_s3_store()
    store.put_bytes(CONTENT, max_bytes=len(CONTENT))

    url = store.presigned_url(DIGEST, expires_s=60, filename="wëather.wasm")

    assert url is not None
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content == CONTENT
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="w_ather.wasm"')
    assert "filename*=UTF-8''w%C3%ABather.wasm" in disposition


@pytest.mark.network
def test_presigning_is_off_unless_configured(make_s3_store: Callable[..., S3BlobStore]) -> None:
    store = make_s3_store(presign_downloads=False)
    assert store.presigned_url(DIGEST, filename="x.wasm") is None
    with pytest.raises(ValueError, match="expires_s"):
        store.presigned_url(DIGEST, expires_s=8 * 24 * 3600)


def test_stores_without_urls_presign_nothing(tmp_path: Path) -> None:
    assert InMemoryBlobStore().presigned_url(DIGEST, filename="x.wasm") is None
    local = LocalDirectoryBlobStore(tmp_path)
    assert local.presigned_url(DIGEST, expires_s=60, filename="x.wasm") is None


# -- S3 specifics ------------------------------------------------------------------------------


@pytest.mark.network
def test_large_blobs_go_up_in_parts(make_s3_store: Callable[..., S3BlobStore]) -> None:
    store = make_s3_store(
        multipart_threshold_bytes=5 * MIB, multipart_part_bytes=5 * MIB, spool_memory_bytes=MIB
    )
    data = os.urandom(11 * MIB)
    digest = hashlib.sha256(data).hexdigest()

    assert store.put_stream(chunked(data, MIB), max_bytes=len(data)).sha256 == digest
    assert store.put_bytes(data, max_bytes=len(data)).sha256 == digest  # no-op

    assert store.get(digest, max_bytes=len(data)) == data
    assert s3_leftovers(store) == []


@pytest.mark.network
def test_prefix_keeps_blobs_under_it(make_s3_store: Callable[..., S3BlobStore]) -> None:
    store = make_s3_store(prefix="/registry/")
    store.put_bytes(CONTENT, max_bytes=len(CONTENT))

    keys = [
        item["Key"]
        for item in store._client.list_objects_v2(Bucket=store.settings.bucket)["Contents"]
    ]
    assert keys == [f"registry/blobs/sha256/{DIGEST}"]
    assert list(store.iter_digests()) == [DIGEST]


@pytest.mark.network
def test_a_bucket_outside_us_east_1_is_created(make_s3_store: Callable[..., S3BlobStore]) -> None:
    store = make_s3_store(region="eu-north-1")
    store.check()  # idempotent once the bucket exists
    assert store.put_bytes(CONTENT, max_bytes=len(CONTENT)).sha256 == DIGEST
    assert store.get(DIGEST, max_bytes=len(CONTENT)) == CONTENT


@pytest.mark.network
def test_s3_never_overwrites_a_wrong_object_at_an_address(
    make_s3_store: Callable[..., S3BlobStore],
) -> None:
    store = make_s3_store()
    key = f"blobs/sha256/{DIGEST}"
    store._client.put_object(Bucket=store.settings.bucket, Key=key, Body=b"bit rot")

    with pytest.raises(StoreCorrupted, match="delete it so the blob can be uploaded again"):
        store.put_bytes(CONTENT, max_bytes=len(CONTENT))
    assert store.get(DIGEST, max_bytes=100) == b"bit rot"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_unreachable_endpoint_is_unavailable(closed_port: int) -> None:
    endpoint = f"http://127.0.0.1:{closed_port}"
    store = S3BlobStore(
        S3Settings(
            bucket="clawft-blobs",
            endpoint_url=endpoint,
            access_key_id=TEST_KEY,
            secret_access_key=TEST_KEY,
            connect_timeout_s=0.5,
            read_timeout_s=0.5,
            max_attempts=1,
        )
    )
    started = time.monotonic()

    with pytest.raises(StorageUnavailable, match=f"S3 endpoint {endpoint}") as down:
        store.check()
    with pytest.raises(StorageUnavailable, match="CLAWFT_S3_ENDPOINT_URL"):
        store.put_bytes(CONTENT, max_bytes=len(CONTENT))
    with pytest.raises(StorageUnavailable):
        store.stat(DIGEST)

    assert "cannot reach the endpoint" in str(down.value)
    assert time.monotonic() - started < 5
    for digest in HOSTILE_DIGESTS:  # refused before any request: no StorageUnavailable here
        with pytest.raises(InvalidDigest):
            store.open(digest)


@pytest.mark.network
def test_a_missing_bucket_says_how_to_create_it(make_s3_store: Callable[..., S3BlobStore]) -> None:
    existing = make_s3_store()
    store = S3BlobStore(replace(existing.settings, bucket="clawft-missing", create_bucket=False))
    with pytest.raises(StorageUnavailable, match="CLAWFT_S3_CREATE_BUCKET=1"):
        store.check()


# -- local directory specifics -----------------------------------------------------------------


def test_local_blobs_are_read_only_files_at_their_address(tmp_path: Path) -> None:
    store = LocalDirectoryBlobStore(tmp_path / "store")
    store.put_bytes(CONTENT, max_bytes=len(CONTENT))

    path = tmp_path / "store" / "blobs" / "sha256" / DIGEST
    assert path.read_bytes() == CONTENT
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert stat.S_IMODE((tmp_path / "store" / "tmp").stat().st_mode) == 0o700


def test_local_store_does_not_follow_a_symlink_at_an_address(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"outside the store")
    store = LocalDirectoryBlobStore(tmp_path / "store")
    (tmp_path / "store" / "blobs" / "sha256" / DIGEST).symlink_to(secret)

    with pytest.raises(StoreCorrupted, match="never follows links"):
        store.open(DIGEST)
    with pytest.raises(StoreCorrupted):
        store.stat(DIGEST)
    with pytest.raises(StoreCorrupted):
        store.put_bytes(CONTENT, max_bytes=len(CONTENT))
    assert list(store.iter_digests()) == []
    assert secret.read_bytes() == b"outside the store"


def test_local_store_never_overwrites_a_wrong_file_at_an_address(tmp_path: Path) -> None:
    store = LocalDirectoryBlobStore(tmp_path)
    (tmp_path / "blobs" / "sha256" / DIGEST).write_bytes(b"bit rot")

    with pytest.raises(StoreCorrupted, match="delete it so the blob can be uploaded again"):
        store.put_bytes(CONTENT, max_bytes=len(CONTENT))
    assert store.get(DIGEST, max_bytes=100) == b"bit rot"
    assert local_leftovers(store) == []


def test_local_store_refuses_a_symlinked_directory(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "store" / "blobs").mkdir(parents=True)
    (tmp_path / "store" / "blobs" / "sha256").symlink_to(elsewhere)

    with pytest.raises(StoreCorrupted, match="replace it with a real directory"):
        LocalDirectoryBlobStore(tmp_path / "store")


def test_local_check_reports_a_vanished_directory(tmp_path: Path) -> None:
    store = LocalDirectoryBlobStore(tmp_path / "store")
    (tmp_path / "store" / "tmp").rmdir()

    with pytest.raises(StorageUnavailable, match="CLAWFT_STORAGE_DIR"):
        store.check()


def test_local_stale_temporaries_are_swept(tmp_path: Path) -> None:
    store = LocalDirectoryBlobStore(tmp_path)
    stale = tmp_path / "tmp" / "put-crashed.partial"
    stale.write_bytes(b"half a blob")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))

    assert store.remove_stale_temporaries(older_than_s=3600) == 1
    assert not stale.exists()


def test_in_memory_store_can_simulate_an_outage() -> None:
    store = InMemoryBlobStore()
    store.set_unavailable("object store down for the test")
    with pytest.raises(StorageUnavailable, match="down for the test"):
        store.check()
    store.set_unavailable(None)
    store.check()


# -- settings ----------------------------------------------------------------------------------


def test_settings_default_to_a_local_directory(tmp_path: Path) -> None:
    settings = StorageSettings.from_env({}, default_dir=tmp_path)
    assert settings == StorageSettings(backend="local", local=LocalStoreSettings(root=tmp_path))
    assert isinstance(create_blob_store(settings), LocalDirectoryBlobStore)

    chosen = StorageSettings.from_env({"CLAWFT_STORAGE_DIR": str(tmp_path / "b")})
    assert chosen.local == LocalStoreSettings(root=tmp_path / "b")


def test_settings_for_s3_from_the_environment() -> None:
    settings = StorageSettings.from_env(
        {
            "CLAWFT_STORAGE_BACKEND": "s3",
            "CLAWFT_S3_ENDPOINT_URL": "http://minio:9000",
            "CLAWFT_S3_BUCKET": "clawft-blobs",
            "CLAWFT_S3_REGION": "eu-north-1",
            "CLAWFT_S3_ACCESS_KEY_ID": "minio",
            "CLAWFT_S3_SECRET_ACCESS_KEY": "hunter22",
            "CLAWFT_S3_PREFIX": "registry",
            "CLAWFT_S3_PRESIGN": "1",
        }
    )
    s3 = settings.s3
    assert s3 is not None
    assert (s3.endpoint_url, s3.bucket, s3.region) == (
        "http://minio:9000",
        "clawft-blobs",
        "eu-north-1",
    )
    assert (s3.prefix, s3.presign_downloads, s3.create_bucket) == ("registry/", True, False)
    assert "hunter22" not in repr(settings)
    store = create_blob_store(settings)
    assert isinstance(store, S3BlobStore)
    assert store.endpoint == "http://minio:9000"


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({}, "set CLAWFT_STORAGE_DIR"),
        ({"CLAWFT_STORAGE_BACKEND": "gcs"}, "set CLAWFT_STORAGE_BACKEND to 'local' or 's3'"),
        ({"CLAWFT_STORAGE_BACKEND": "s3"}, "set CLAWFT_S3_BUCKET"),
        ({"CLAWFT_STORAGE_BACKEND": "s3", "CLAWFT_S3_BUCKET": "No_Such"}, "CLAWFT_S3_BUCKET to"),
        (
            {
                "CLAWFT_STORAGE_BACKEND": "s3",
                "CLAWFT_S3_BUCKET": "b-1",
                "CLAWFT_S3_ACCESS_KEY_ID": "k",
            },
            "CLAWFT_S3_SECRET_ACCESS_KEY",
        ),
        (
            {
                "CLAWFT_STORAGE_BACKEND": "s3",
                "CLAWFT_S3_BUCKET": "b-1",
                "CLAWFT_S3_ENDPOINT_URL": "minio",
            },
            "CLAWFT_S3_ENDPOINT_URL",
        ),
        (
            {
                "CLAWFT_STORAGE_BACKEND": "s3",
                "CLAWFT_S3_BUCKET": "b-1",
                "CLAWFT_S3_PRESIGN": "maybe",
            },
            "CLAWFT_S3_PRESIGN",
        ),
    ],
)
def test_invalid_settings_say_what_to_set(environ: dict[str, str], says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("(", r"\(")):
        StorageSettings.from_env(environ)


def test_public_api_is_what_all_says() -> None:
    exported = registry.storage.__all__
    assert exported == sorted(exported)
    assert all(hasattr(registry.storage, name) for name in exported)
    public = {name for name in vars(registry.storage) if not name.startswith("_")}
    assert public - set(exported) <= {
        "annotations",
        "base",
        "factory",
        "local",
        "memory",
        "s3",
        "settings",
    }
