"""A :class:`~registry.storage.base.BlobStore` in an S3-compatible bucket (AWS S3, MinIO, moto).

How a write stays all-or-nothing without holding the blob in memory: the chunks are spooled to
a ``SpooledTemporaryFile`` (memory up to ``spool_memory_bytes``, then a local temporary file)
while hashing and counting, so the limit and the digest are checked before S3 sees a byte.
Only then is the blob sent to its content address: one ``PutObject`` carrying its
``x-amz-checksum-sha256`` (S3 verifies the bytes it received), or above
``multipart_threshold_bytes`` a multipart upload that is aborted on any failure. Both become
visible atomically, and both are sent with ``If-None-Match: *``, so an existing blob is never
overwritten: a ``412`` means a concurrent writer stored the same content first, a success.
(A store that ignores the condition, such as an old MinIO, rewrites identical bytes.)
A refused or interrupted stream never reaches S3, so it leaves no temporary objects and no
multipart uploads behind. The trade-off: local temporary space for one blob per write in
progress, and the upload starts only once the stream has ended.

botocore's errors are translated here, at the edge: a missing key becomes
:class:`~registry.storage.base.BlobNotFound`; connection errors, timeouts, 5xx, throttling,
a missing bucket and refused credentials become :class:`~registry.storage.base.StorageUnavailable`
naming the endpoint and what to check.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import re
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from registry.storage._streaming import check_put_arguments, write_hashed
from registry.storage.base import (
    BLOB_PREFIX,
    BlobInfo,
    BlobNotFound,
    BlobStore,
    BlobStoreError,
    StorageUnavailable,
    StoreCorrupted,
    blob_key,
)
from registry.storage.settings import S3_MAX_PRESIGN_EXPIRES_S, S3Settings

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

_log = logging.getLogger("clawft.registry.storage")
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_ALREADY_STORED = {"412", "PreconditionFailed"}
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
_READ_BUFFER_BYTES = 64 * 1024
_CONTENT_TYPE = "application/octet-stream"


class S3BlobStore(BlobStore):
    """Blobs at ``<prefix>blobs/sha256/<hex>`` in one bucket. Building it does no I/O."""

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        style = settings.addressing_style
        if style == "auto":
            style = "path" if settings.endpoint_url else "virtual"
        config = Config(
            connect_timeout=settings.connect_timeout_s,
            read_timeout=settings.read_timeout_s,
            retries={"max_attempts": settings.max_attempts, "mode": "standard"},
            signature_version="s3v4",
            s3={"addressing_style": style},
            # Checksums only where S3 requires them (and the explicit sha256 on PutObject):
            # the newer CRC trailers are not understood by every S3-compatible server.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            config=config,
        )
        self._bucket = settings.bucket
        self.endpoint: str = self._client.meta.endpoint_url

    def __repr__(self) -> str:
        return f"S3BlobStore(endpoint={self.endpoint!r}, bucket={self._bucket!r})"

    def _key(self, sha256: str) -> str:
        return self.settings.prefix + blob_key(sha256)

    # -- writing ---------------------------------------------------------------------------

    def put_stream(
        self, chunks: Iterable[bytes], *, max_bytes: int, expected_sha256: str | None = None
    ) -> BlobInfo:
        expected = check_put_arguments(max_bytes, expected_sha256)
        spool_bytes = self.settings.spool_memory_bytes
        with tempfile.SpooledTemporaryFile(max_size=spool_bytes, prefix="clawft-blob-") as spool:

            def write(chunk: bytes) -> None:
                try:
                    spool.write(chunk)
                except OSError as error:
                    raise StorageUnavailable(
                        f"cannot spool a blob for {self.endpoint} to the local temporary "
                        f"directory {tempfile.gettempdir()}: {error.strerror or error}; free "
                        "space there or set TMPDIR to a larger disk"
                    ) from error

            info = write_hashed(chunks, write, max_bytes=max_bytes, expected_sha256=expected)
            key = self._key(info.sha256)
            stored = self._head(key, info.sha256)
            if stored is not None:
                self._check_existing(stored, info)
                return info
            spool.seek(0)
            try:
                if info.size <= self.settings.multipart_threshold_bytes:
                    self._put_once(spool, key, info)
                else:
                    self._put_multipart(spool, key)
            except ClientError as error:
                code = _code(error)
                if code in _ALREADY_STORED:
                    return info  # a concurrent writer stored the same content first
                if code == "ConditionalRequestConflict" and self._head(key, info.sha256):
                    return info  # likewise, while our conditional write was in flight
                raise self._translate(error, f"storing blob sha256 {info.sha256}") from error
            except BotoCoreError as error:
                raise self._translate(error, f"storing blob sha256 {info.sha256}") from error
        return info

    def _put_once(self, body: IO[bytes], key: str, info: BlobInfo) -> None:
        self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=body,
            ContentLength=info.size,
            ContentType=_CONTENT_TYPE,
            ChecksumSHA256=_base64_sha256(bytes.fromhex(info.sha256)),
            IfNoneMatch="*",
        )

    def _put_multipart(self, body: IO[bytes], key: str) -> None:
        upload = self._client.create_multipart_upload(
            Bucket=self._bucket, Key=key, ContentType=_CONTENT_TYPE, ChecksumAlgorithm="SHA256"
        )
        upload_id = upload["UploadId"]
        try:
            parts: list[CompletedPartTypeDef] = []
            while part := body.read(self.settings.multipart_part_bytes):
                number = len(parts) + 1
                checksum = _base64_sha256(hashlib.sha256(part).digest())
                sent = self._client.upload_part(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=part,
                    ChecksumSHA256=checksum,
                )
                parts.append(
                    {"ETag": sent["ETag"], "PartNumber": number, "ChecksumSHA256": checksum}
                )
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
        except BaseException:
            self._abort_multipart(key, upload_id)
            raise

    def _abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
        except (BotoCoreError, ClientError) as error:
            if isinstance(error, ClientError) and _code(error) == "NoSuchUpload":
                return
            _log.warning(
                "could not abort multipart upload %s of %s in bucket %s at %s: %s; a bucket "
                "lifecycle rule (AbortIncompleteMultipartUpload) will clean it up",
                upload_id,
                key,
                self._bucket,
                self.endpoint,
                error,
            )

    def _check_existing(self, stored: BlobInfo, info: BlobInfo) -> None:
        if stored.size != info.size:
            raise StoreCorrupted(
                f"s3://{self._bucket}/{self._key(info.sha256)} at {self.endpoint} should hold "
                f"{info.size} bytes with sha256 {info.sha256} but holds {stored.size}; delete "
                "it so the blob can be uploaded again"
            )

    # -- reading ---------------------------------------------------------------------------

    def open_sized(self, sha256: str) -> tuple[BinaryIO, int]:
        body, size = self._get_object(sha256)
        return io.BufferedReader(_ResponseStream(body, self, sha256), _READ_BUFFER_BYTES), size

    def _get_object(self, sha256: str) -> tuple[StreamingBody, int]:
        key = self._key(sha256)
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if _code(error) in _NOT_FOUND:
                raise BlobNotFound(
                    f"no blob sha256 {sha256} in s3://{self._bucket}/{key} at {self.endpoint}"
                ) from error
            raise self._translate(error, f"reading blob sha256 {sha256}") from error
        except BotoCoreError as error:
            raise self._translate(error, f"reading blob sha256 {sha256}") from error
        return response["Body"], response["ContentLength"]

    def stat(self, sha256: str) -> BlobInfo | None:
        return self._head(self._key(sha256), sha256)

    def _head(self, key: str, sha256: str) -> BlobInfo | None:
        try:
            response = self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if _code(error) in _NOT_FOUND:
                return None
            raise self._translate(error, f"looking up blob sha256 {sha256}") from error
        except BotoCoreError as error:
            raise self._translate(error, f"looking up blob sha256 {sha256}") from error
        return BlobInfo(sha256=sha256, size=response["ContentLength"])

    def presigned_url(
        self, sha256: str, *, expires_s: int | None = None, filename: str | None = None
    ) -> str | None:
        key = self._key(sha256)
        expires = self.settings.presign_expires_s if expires_s is None else expires_s
        if not 1 <= expires <= S3_MAX_PRESIGN_EXPIRES_S:
            raise ValueError(f"expires_s must be 1-{S3_MAX_PRESIGN_EXPIRES_S} seconds")
        if not self.settings.presign_downloads:
            return None
        params: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": key,
            "ResponseContentType": _CONTENT_TYPE,
        }
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        try:
            url: str = self._client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expires
            )
        except BotoCoreError as error:
            raise self._translate(error, f"presigning blob sha256 {sha256}") from error
        return url

    def iter_digests(self) -> Iterator[str]:
        prefix = self.settings.prefix + BLOB_PREFIX
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix
        )
        try:
            for page in pages:
                for entry in page.get("Contents", []):
                    name = entry.get("Key", "").removeprefix(prefix)
                    if re.fullmatch(r"[0-9a-f]{64}", name):
                        yield name
        except (BotoCoreError, ClientError) as error:
            raise self._translate(error, "listing the blobs") from error

    # -- maintenance -----------------------------------------------------------------------

    def delete(self, sha256: str) -> None:
        key = self._key(sha256)
        try:
            self._client.delete_object(Bucket=self._bucket, Key=key)
        except (BotoCoreError, ClientError) as error:
            raise self._translate(error, f"deleting blob sha256 {sha256}") from error

    def check(self) -> None:
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except ClientError as error:
            if _code(error) not in _NOT_FOUND | {"NoSuchBucket"}:
                raise self._translate(error, "checking the bucket") from error
            if not self.settings.create_bucket:
                raise self._no_bucket("checking the bucket") from error
            self._create_bucket()
        except BotoCoreError as error:
            raise self._translate(error, "checking the bucket") from error

    def _create_bucket(self) -> None:
        try:
            region = self.settings.region
            if region == "us-east-1":
                self._client.create_bucket(Bucket=self._bucket)
            else:
                self._client.create_bucket(
                    Bucket=self._bucket,
                    CreateBucketConfiguration={
                        "LocationConstraint": cast("BucketLocationConstraintType", region)
                    },
                )
        except ClientError as error:
            if _code(error) not in {"BucketAlreadyOwnedByYou"}:
                raise self._translate(error, "creating the bucket") from error
        except BotoCoreError as error:
            raise self._translate(error, "creating the bucket") from error
        _log.info("created bucket %s at %s", self._bucket, self.endpoint)

    # -- errors ----------------------------------------------------------------------------

    def _translate(
        self, error: BotoCoreError | ClientError, action: str
    ) -> BlobStoreError | StorageUnavailable:
        where = f"S3 endpoint {self.endpoint}, bucket {self._bucket!r}"
        if isinstance(error, NoCredentialsError):
            return StorageUnavailable(
                f"{where}: {action}: no credentials found; set CLAWFT_S3_ACCESS_KEY_ID and "
                "CLAWFT_S3_SECRET_ACCESS_KEY (or give the process an IAM role)"
            )
        if isinstance(error, BotoCoreError):
            return StorageUnavailable(
                f"{where}: {action}: cannot reach the endpoint ({error}); check that it is "
                "running and that CLAWFT_S3_ENDPOINT_URL points at it, then retry"
            )
        code = _code(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        if code == "NoSuchBucket":
            return self._no_bucket(action)
        if code in _DENIED:
            return StorageUnavailable(
                f"{where}: {action}: access denied ({code}); check CLAWFT_S3_ACCESS_KEY_ID, "
                "CLAWFT_S3_SECRET_ACCESS_KEY, CLAWFT_S3_REGION and the bucket's policy"
            )
        return StorageUnavailable(
            f"{where}: {action}: the store answered {code or 'an error'} (HTTP {status}); "
            "retry later"
        )

    def _no_bucket(self, action: str) -> StorageUnavailable:
        return StorageUnavailable(
            f"S3 endpoint {self.endpoint}, bucket {self._bucket!r}: {action}: the bucket does "
            "not exist; create it, or set CLAWFT_S3_CREATE_BUCKET=1 to let the registry create it"
        )


class _ResponseStream(io.RawIOBase):
    """A response body as a raw stream whose read errors are StorageUnavailable."""

    def __init__(self, body: StreamingBody, store: S3BlobStore, sha256: str) -> None:
        super().__init__()
        self._body = body
        self._store = store
        self._sha256 = sha256

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._body.read(len(view))
        except BotoCoreError as error:
            raise self._store._translate(error, f"reading blob sha256 {self._sha256}") from error
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def content_disposition(filename: str) -> str:
    """An ``attachment`` Content-Disposition for ``filename`` (RFC 6266; non-ASCII as RFC 5987)."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:200].lstrip(".") or "download"
    if plain == filename:
        return f'attachment; filename="{plain}"'
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _base64_sha256(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
