"""``GET``/``HEAD /blobs/sha256/{hex}``: the files of approved versions by digest, over real
HTTP, with the caching and range semantics of a static file server, and nothing else: a
digest of a pending or rejected version, of a stray blob, or anything that is not a digest,
is a JSON 404."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import httpx
import pytest

from client.signing import sign_plugin
from tests.conftest import RunningAuthority
from tests.integration.registry.harness import (
    Registry,
    approved_hello,
    publish,
    variant,
)


def approved_files(
    registry: Registry, built: dict[str, Path], authority: RunningAuthority, tmp_path: Path
) -> dict[str, bytes]:
    files = approved_hello(registry, built, authority, tmp_path / "src")
    return {hashlib.sha256(data).hexdigest(): data for data in files.values()}


def test_every_file_of_an_approved_version_is_served_by_digest(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    files = approved_files(registry, built, dev_authority, tmp_path)
    with httpx.Client(base_url=registry.url) as http:
        for digest, data in files.items():
            for _ in range(2):  # found in the database, then remembered
                answer = http.get(f"/blobs/sha256/{digest}")
                assert answer.status_code == 200, answer.text
                assert answer.content == data
                assert answer.headers["etag"] == f'"{digest}"'
                assert answer.headers["content-length"] == str(len(data))
                assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
                assert answer.headers["accept-ranges"] == "bytes"
            head = http.head(f"/blobs/sha256/{digest}")
            assert head.status_code == 200 and head.content == b""
            assert head.headers["content-length"] == str(len(data))
            assert head.headers["etag"] == f'"{digest}"'
            for tag in (f'"{digest}"', f'W/"{digest}"', f'"other", "{digest}"', "*"):
                cached = http.get(f"/blobs/sha256/{digest}", headers={"If-None-Match": tag})
                assert cached.status_code == 304 and cached.content == b"", tag
            fresh = http.get(f"/blobs/sha256/{digest}", headers={"If-None-Match": '"other"'})
            assert fresh.status_code == 200 and fresh.content == data


def test_byte_ranges(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    files = approved_files(registry, built, dev_authority, tmp_path)
    digest, data = max(files.items(), key=lambda item: len(item[1]))
    size = len(data)
    url = f"/blobs/sha256/{digest}"
    with httpx.Client(base_url=registry.url) as http:
        for header, first, last in (
            ("bytes=0-9", 0, 9),
            ("bytes=10-", 10, size - 1),
            ("bytes=-5", size - 5, size - 1),
            (f"bytes=5-{size * 10}", 5, size - 1),
            (f"bytes={size - 1}-{size - 1}", size - 1, size - 1),
        ):
            part = http.get(url, headers={"Range": header})
            assert part.status_code == 206, header
            assert part.content == data[first : last + 1], header
            assert part.headers["content-range"] == f"bytes {first}-{last}/{size}"
            assert part.headers["content-length"] == str(last - first + 1)
        matching = http.get(url, headers={"Range": "bytes=0-0", "If-Range": f'"{digest}"'})
        assert matching.status_code == 206 and matching.content == data[:1]
        # The whole file: several ranges, ranges that do not parse, an If-Range for another
        # file (RFC 9110 lets a server ignore a Range it does not take).
        for headers in (
            {"Range": "bytes=0-1,5-6"},
            {"Range": "bytes=9-3"},
            {"Range": "items=0-1"},
            {"Range": "bytes=" + "9" * 40 + "-"},
            {"Range": "bytes=0-1", "If-Range": '"0000"'},
        ):
            whole = http.get(url, headers=headers)
            assert whole.status_code == 200 and whole.content == data, headers
        for header in (f"bytes={size}-", f"bytes={size * 2}-{size * 3}", "bytes=-0"):
            beyond = http.get(url, headers={"Range": header})
            assert beyond.status_code == 416, header
            assert beyond.headers["content-range"] == f"bytes */{size}"
            assert beyond.json()["error"] == "range_not_satisfiable"


def test_only_files_of_approved_versions_are_served(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    # A rejected version (a plugin that never returns) and a pending one: stored, not served.
    loop = tmp_path / "src" / "loop"
    shutil.copytree(built["infinite-loop"], loop)
    manifest = loop / "clawft-plugin.toml"
    manifest.write_text(
        manifest.read_text().replace('name = "test/infinite-loop"', 'name = "clawft/loop"')
    )
    sign_plugin(loop, instance=dev_authority.instance, identity_token=dev_authority.token())
    pending = variant(built, dev_authority, tmp_path / "pending", version="0.3.0")
    with registry.client() as client:
        publish(client, loop)
        registry.verify_queued()
        assert client.version("clawft/loop", "0.1.0").status == "rejected"
        with registry.jobs_held():
            publish(client, pending)
            assert client.version("clawft/hello", "0.3.0").status == "pending"
            stray = registry.services.blobs.put_bytes(b"stored, never published", max_bytes=1024)
            refused = {
                hashlib.sha256(next(loop.glob("*.wasm")).read_bytes()).hexdigest(),
                hashlib.sha256((pending / "hello.wasm").read_bytes()).hexdigest(),
                stray.sha256,
            }
            with httpx.Client(base_url=registry.url) as http:
                for digest in refused:
                    assert registry.services.blobs.exists(digest)
                    answer = http.get(f"/blobs/sha256/{digest}")
                    assert answer.status_code == 404, digest
                    assert answer.json() == {
                        "error": "not_found",
                        "detail": "no approved plugin has a file with this digest",
                    }
                    assert http.head(f"/blobs/sha256/{digest}").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/blobs/sha256/" + "A" * 64,
        "/blobs/sha256/" + "0" * 63,
        "/blobs/sha256/" + "0" * 65,
        "/blobs/sha256/" + "g" * 64,
        "/blobs/sha256/..%2F..%2Fregistry.db",
        "/blobs/sha256/%00" + "0" * 63,
        "/blobs/sha256/" + "0" * 64 + "%0d%0aX-Injected:%201",
        "/blobs/sha256/" + "é" * 64,
    ],
)
def test_what_is_not_a_digest_is_a_json_404(registry: Registry, path: str) -> None:
    answer = httpx.get(registry.url + path)
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"
    assert "x-injected" not in answer.headers


def test_other_methods_are_refused(registry: Registry) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        answer = httpx.request(method, f"{registry.url}/blobs/sha256/{'0' * 64}")
        assert answer.status_code == 405, method
        assert answer.headers["allow"] == "GET, HEAD"
        assert answer.json()["error"] == "method_not_allowed"
