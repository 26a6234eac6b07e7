"""``RegistryClient``: the registry's HTTP API for publishers, devices and CI.

The transport is the seam: pass ``transport=`` (e.g. ``httpx.MockTransport``) in tests.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx

from client.decoding import Undecodable, decode_json
from client.manifest import MANIFEST_FILE_NAME
from client.registry.errors import (
    DownloadRejected,
    RegistryRequestFailed,
    RegistryUnreachable,
)
from client.registry.schemas import (
    NamespaceDetail,
    PluginDetail,
    PublishAccepted,
    SearchPage,
    VersionDetail,
)

T = TypeVar("T")
Progress = Callable[[int, int], None]
"""Called with (bytes so far, total bytes) while uploading or downloading."""

MAX_JSON_BYTES = 8 * 1024 * 1024
FINAL_STATUSES = frozenset({"approved", "rejected", "yanked"})


def split_name(name: str) -> tuple[str, str]:
    namespace, sep, plugin = name.partition("/")
    if not sep or not namespace or not plugin or "/" in plugin:
        raise ValueError(f"plugin names look like namespace/name, not {name!r}")
    return namespace, plugin


class RegistryClient:
    """A client of one registry."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"User-Agent": "clawft-registry-client/0.1"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout_s,
            transport=transport,
            follow_redirects=True,
        )
        self.base_url = base_url.rstrip("/")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------
    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise RegistryUnreachable(
                f"{self.base_url} did not answer in time; try again"
            ) from None
        except httpx.HTTPError as exc:
            raise RegistryUnreachable(
                f"cannot reach the registry at {self.base_url}: {exc}"
            ) from None
        if response.status_code >= 400:
            raise _failure(response)
        return response

    def _json(self, method: str, url: str, kind: type[T], **kwargs: Any) -> T:
        response = self._request(method, url, **kwargs)
        if len(response.content) > MAX_JSON_BYTES:
            raise RegistryRequestFailed(response.status_code, "too_large", "answer too large")
        try:
            return decode_json(response.content, type=kind, what="the registry's answer")
        except Undecodable as exc:
            raise RegistryRequestFailed(response.status_code, "bad_response", str(exc)) from None

    # -- publishing ----------------------------------------------------------------------
    def publish(
        self,
        manifest: Path,
        component: Path,
        bundle: Path | None,
        *,
        progress: Progress | None = None,
    ) -> PublishAccepted:
        """Upload a plugin (multipart: manifest, component, bundle); 202 once stored."""
        files: dict[str, tuple[str, bytes, str]] = {
            "manifest": (MANIFEST_FILE_NAME, manifest.read_bytes(), "application/toml"),
            "component": (component.name, component.read_bytes(), "application/wasm"),
        }
        if bundle is not None:
            files["bundle"] = (bundle.name, bundle.read_bytes(), "application/json")
        encoded = self._http.build_request("POST", "/api/v1/plugins", files=files)
        total = int(encoded.headers.get("content-length", "0"))
        return self._json(
            "POST",
            "/api/v1/plugins",
            PublishAccepted,
            content=_CountingStream(encoded.stream, total, progress),
            headers={
                "content-type": encoded.headers["content-type"],
                "content-length": str(total),
            },
        )

    def wait_for_verdict(
        self, name: str, version: str, *, timeout_s: float = 120.0, poll_s: float = 0.5
    ) -> VersionDetail:
        """Poll until the version is rejected, or approved (or yanked) and listed in the
        signed TUF metadata so devices can fetch it (or the timeout passes)."""
        deadline = time.monotonic() + timeout_s
        while True:
            detail = self.version(name, version)
            if detail.status in FINAL_STATUSES and (detail.status == "rejected" or detail.listed):
                return detail
            if time.monotonic() > deadline:
                raise RegistryUnreachable(
                    f"{name} {version} is still {detail.status} after {timeout_s:g} s; "
                    "check again later with `clawft-registry info`"
                )
            time.sleep(poll_s)

    def yank(self, name: str, version: str, reason: str) -> VersionDetail:
        ns, plugin = split_name(name)
        return self._json(
            "POST",
            f"/api/v1/plugins/{ns}/{plugin}/versions/{version}/yank",
            VersionDetail,
            json={"reason": reason},
        )

    def unyank(self, name: str, version: str) -> VersionDetail:
        ns, plugin = split_name(name)
        return self._json(
            "DELETE", f"/api/v1/plugins/{ns}/{plugin}/versions/{version}/yank", VersionDetail
        )

    # -- reading -------------------------------------------------------------------------
    def search(self, query: str, *, page: int = 1, per_page: int = 20) -> SearchPage:
        return self._json(
            "GET",
            "/api/v1/plugins",
            SearchPage,
            params={"q": query, "page": page, "per_page": per_page},
        )

    def plugin(self, name: str) -> PluginDetail:
        ns, plugin = split_name(name)
        return self._json("GET", f"/api/v1/plugins/{ns}/{plugin}", PluginDetail)

    def version(self, name: str, version: str) -> VersionDetail:
        ns, plugin = split_name(name)
        return self._json("GET", f"/api/v1/plugins/{ns}/{plugin}/versions/{version}", VersionDetail)

    def latest(self, name: str) -> VersionDetail:
        ns, plugin = split_name(name)
        return self._json("GET", f"/api/v1/plugins/{ns}/{plugin}/latest", VersionDetail)

    def namespace(self, namespace: str) -> NamespaceDetail:
        return self._json("GET", f"/api/v1/namespaces/{namespace}", NamespaceDetail)

    def download(
        self,
        url: str,
        destination: Path,
        *,
        expected_sha256: str,
        expected_size: int,
        progress: Progress | None = None,
    ) -> None:
        """Stream ``url`` into ``destination``, refusing anything but the recorded bytes."""
        digest = hashlib.sha256()
        size = 0
        try:
            with self._http.stream("GET", url, headers={"accept-encoding": "identity"}) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _failure(response)
                coding = response.headers.get("content-encoding", "identity").lower()
                if coding not in ("identity", ""):
                    raise DownloadRejected(
                        f"{url} arrived {coding}-encoded; expected the raw bytes"
                    )
                with destination.open("wb") as out:
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > expected_size:
                            raise DownloadRejected(
                                f"{url} sent more than the {expected_size:,} bytes on record"
                            )
                        digest.update(chunk)
                        out.write(chunk)
                        if progress is not None:
                            progress(size, expected_size)
        except httpx.HTTPError as exc:
            raise RegistryUnreachable(f"download of {url} failed: {exc}") from None
        if size != expected_size:
            raise DownloadRejected(
                f"{url} sent {size:,} bytes, not the {expected_size:,} on record"
            )
        if digest.hexdigest() != expected_sha256:
            raise DownloadRejected(
                f"{url} sent bytes whose sha256 is {digest.hexdigest()}, not {expected_sha256} "
                "as recorded: refusing them"
            )


class _CountingStream(httpx.SyncByteStream):
    """A request body that reports how much of it has been sent."""

    def __init__(self, inner: Any, total: int, progress: Progress | None) -> None:
        self._inner = inner
        self._total = total
        self._progress = progress

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self._inner:
            sent += len(chunk)
            if self._progress is not None:
                self._progress(sent, self._total)
            yield chunk


def _failure(response: httpx.Response) -> RegistryRequestFailed:
    try:
        body = decode_json(response.content[:65536])
    except Undecodable:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return RegistryRequestFailed(
            response.status_code, body["error"], str(body.get("detail", ""))
        )
    return RegistryRequestFailed(response.status_code, "http_error", response.reason_phrase)
