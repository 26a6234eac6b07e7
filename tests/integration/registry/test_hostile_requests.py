"""Requests an attacker sends the registry, over a socket, in both of its shapes: deeply nested
bodies, form fields in a slow charset, a token minting a wider one, a rejected upload that tries
to rewrite the public plugin, racing publishes, and the smaller holes. Each answer is a clear
4xx JSON error (or the right verdict), and nothing is half-done."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from client.registry import RegistryClient, RegistryRequestFailed
from registry.db import Namespace, PluginVersion, Publisher
from registry.domain.publishers.services import create_token
from registry.ratelimit import RateLimiter
from tests.conftest import RunningAuthority
from tests.integration.registry.harness import Registry, publish, signed, variant

DEEP = 5_000  # levels: past every decoder's recursion limit, inside every size limit


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# -- 3. deeply nested input ---------------------------------------------------------------
def test_a_deeply_nested_manifest_is_a_400(registry: Registry, built: dict[str, Path]) -> None:
    manifest = (
        'name = "clawft/deep"\nversion = "0.1.0"\ncomponent = "hello.wasm"\n'
        "[resources]\nmax_fuel = " + "[" * DEEP + "]" * DEEP + "\n"
    ).encode()
    response = httpx.post(
        f"{registry.url}/api/v1/plugins",
        headers=auth(registry.token),
        files={
            "manifest": ("clawft-plugin.toml", manifest, "application/toml"),
            "component": ("hello.wasm", (built["hello"] / "hello.wasm").read_bytes()),
        },
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_upload"
    assert "nests too deeply" in response.json()["detail"]


@pytest.mark.parametrize(
    "path", ["/api/v1/tokens", "/api/v1/plugins/clawft/hello/versions/0.1.0/yank"]
)
def test_a_deeply_nested_json_body_is_a_400_after_the_token(registry: Registry, path: str) -> None:
    body = b'{"namespaces": ' + b"[" * DEEP + b"]" * DEEP + b"}"
    url = f"{registry.url}{path}"
    headers = {"content-type": "application/json"}
    forged = httpx.post(url, content=body, headers={**headers, **auth("clawft_0123456789abcdef_x")})
    assert forged.status_code == 401  # the token is checked before the body is read
    response = httpx.post(url, content=body, headers={**headers, **auth(registry.token)})
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": "bad_request",
        "detail": "the request body nests too deeply (arrays or tables more than about a "
        "thousand levels deep)",
    }


def test_an_upload_the_verifier_cannot_judge_is_rejected_never_left_verifying(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    deep_vector = (
        '\n[[tests]]\ntool = "greet"\ninput = \'' + "[" * DEEP + "]" * DEEP + '\'\nexpect = "ok"\n'
    )
    plugin = variant(built, dev_authority, tmp_path, extra=deep_vector)
    with registry.client() as client:
        publish(client, plugin)
        registry.verify_queued()
        detail = client.version("clawft/hello", "0.1.0")
    assert detail.status == "rejected"
    assert detail.report_summary is not None
    (manifest,) = [c for c in detail.report_summary.checks if c.name == "manifest"]
    assert not manifest.passed
    assert "the input of the test vector for 'greet' nests too deeply" in manifest.reason


def test_an_upload_whose_files_vanished_is_rejected_with_the_reason(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    """The verifier has no bytes to judge: a rejection that says why, not a row waiting for
    ever."""
    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    with registry.client() as client:
        with registry.jobs_held():
            publish(client, plugin)
            pending = client.version("clawft/hello", "0.1.0")
            registry.services.blobs.delete(pending.component.sha256)
        registry.verify_queued()
        detail = client.version("clawft/hello", "0.1.0")
    assert detail.status == "rejected"
    assert detail.report_summary is not None
    first = detail.report_summary.checks[0]
    assert first.name == "verifier" and not first.passed
    assert pending.component.sha256 in first.reason and "does not have" in first.reason


# -- 4. the event loop --------------------------------------------------------------------
def _multipart(boundary: str, *parts: tuple[str, bytes]) -> bytes:
    body = b"".join(
        f"--{boundary}\r\n{head}\r\n\r\n".encode() + data + b"\r\n" for head, data in parts
    )
    return body + f"--{boundary}--\r\n".encode()


def test_a_form_field_in_a_slow_charset_is_refused_before_it_is_decoded(
    registry: Registry,
) -> None:
    """A 1 MB form field declared as punycode: decoding it (quadratic) once froze the event
    loop for most of a minute. It is refused from its headers; /healthz never waits."""
    body = _multipart(
        "b0undary",
        (
            'Content-Disposition: form-data; name="manifest"\r\n'
            "Content-Type: text/plain; charset=punycode",
            b"a" * (1024 * 1024),
        ),
    )
    answers: list[httpx.Response] = []
    sender = threading.Thread(
        target=lambda: answers.append(
            httpx.post(
                f"{registry.url}/api/v1/plugins",
                content=body,
                headers={
                    **auth(registry.token),
                    "content-type": "multipart/form-data; boundary=b0undary",
                },
                timeout=120,
            )
        )
    )
    sender.start()
    slowest = 0.0
    while sender.is_alive():
        started = time.monotonic()
        assert httpx.get(f"{registry.url}/healthz", timeout=10).status_code == 200
        slowest = max(slowest, time.monotonic() - started)
    sender.join()
    assert slowest < 1.0
    (response,) = answers
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == "the 'manifest' part must be a file, not a form field"


@pytest.mark.parametrize("charset", ["utf-16", "x-no-such-charset", "punycode"])
def test_a_file_part_in_another_charset_is_refused(
    registry: Registry, built: dict[str, Path], charset: str
) -> None:
    body = _multipart(
        "xyz",
        (
            'Content-Disposition: form-data; name="manifest"; filename="clawft-plugin.toml"\r\n'
            f"Content-Type: application/toml; charset={charset}",
            (built["hello"] / "clawft-plugin.toml").read_bytes(),
        ),
    )
    response = httpx.post(
        f"{registry.url}/api/v1/plugins",
        content=body,
        headers={**auth(registry.token), "content-type": "multipart/form-data; boundary=xyz"},
    )
    assert response.status_code == 415, response.text
    assert response.json()["error"] == "unsupported_media_type"
    assert charset in response.json()["detail"]


def test_a_body_that_comes_too_slowly_is_cut_off(registry: Registry) -> None:
    """A publish body that stops arriving is answered 408 once its time is up (1 s here), and
    nothing waits for the rest."""
    from dataclasses import replace

    settings = registry.services.settings
    registry.services.settings = replace(
        settings, http=replace(settings.http, upload_body_timeout_s=1.0)
    )
    host, port = registry.url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port))) as slow:
            started = time.monotonic()
            slow.sendall(
                b"POST /api/v1/plugins HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n"
                + f"Authorization: Bearer {registry.token}\r\n\r\n--b\r\n".encode()
            )
            slow.settimeout(10)
            answer = b""
            while b'"request_timeout"' not in answer:
                chunk = slow.recv(65536)
                assert chunk, answer
                answer += chunk
            elapsed = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert 0.9 < elapsed < 4
    finally:
        registry.services.settings = settings


# -- 5. token scope -----------------------------------------------------------------------
def _second_namespace(registry: Registry) -> str:
    """Give the test publisher a second namespace, and return an admin's token for both."""
    with registry.services.db.session() as session:
        publisher = session.scalar(sa.select(Publisher).where(Publisher.name == "clawft"))
        assert publisher is not None
        session.add(Namespace(name="acme", owner=publisher))
        session.flush()
        return create_token(session, publisher, ["clawft", "acme"], days=30, description="").token


def test_a_token_never_mints_a_wider_or_longer_lived_token(registry: Registry) -> None:
    wide = _second_namespace(registry)
    tokens = f"{registry.url}/api/v1/tokens"
    made = httpx.post(
        tokens, headers=auth(wide), json={"namespaces": ["clawft"], "expires_in_days": 2}
    )
    assert made.status_code == 201, made.text
    narrow, narrow_expiry = made.json()["token"], datetime.fromisoformat(made.json()["expires_at"])
    for namespaces in (["acme"], ["clawft", "acme"]):
        wider = httpx.post(tokens, headers=auth(narrow), json={"namespaces": namespaces})
        assert wider.status_code == 403, wider.text
        assert "cannot create a token for acme" in wider.json()["detail"]
    longer = httpx.post(
        tokens, headers=auth(narrow), json={"namespaces": ["clawft"], "expires_in_days": 365}
    )
    assert longer.status_code == 201
    assert datetime.fromisoformat(longer.json()["expires_at"]) <= narrow_expiry
    grandchild = httpx.post(
        tokens, headers=auth(longer.json()["token"]), json={"namespaces": ["clawft"]}
    )
    assert grandchild.status_code == 201
    # Revoking the narrow token revokes what it created, and what they created.
    assert httpx.delete(f"{tokens}/{made.json()['id']}", headers=auth(wide)).status_code == 204
    for child in (longer.json()["token"], grandchild.json()["token"]):
        refused = httpx.post(tokens, headers=auth(child), json={"namespaces": ["clawft"]})
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert httpx.post(tokens, headers=auth(wide), json={"namespaces": ["acme"]}).status_code == 201


def test_refused_publishes_do_not_use_up_the_publishers_allowance(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    wide = _second_namespace(registry)
    acme_only = httpx.post(
        f"{registry.url}/api/v1/tokens", headers=auth(wide), json={"namespaces": ["acme"]}
    ).json()["token"]
    registry.services.publish_limiter = RateLimiter(2)
    first = variant(built, dev_authority, tmp_path, version="0.1.0")
    with RegistryClient(registry.url, token=acme_only) as attacker:
        for _ in range(5):  # refused (403): none of them counts
            with pytest.raises(RegistryRequestFailed, match="403 forbidden"):
                publish(attacker, first)
    with RegistryClient(registry.url, token=wide) as one, registry.client() as another:
        publish(one, first)
        with pytest.raises(RegistryRequestFailed, match="409 version_exists"):
            publish(another, first)  # refused: does not count either
        publish(another, variant(built, dev_authority, tmp_path, version="0.1.1"))
        # Two tokens, one publisher: one allowance.
        with pytest.raises(RegistryRequestFailed, match="429 rate_limited"):
            publish(one, variant(built, dev_authority, tmp_path, version="0.1.2"))


# -- 6. the public plugin -----------------------------------------------------------------
def test_a_rejected_upload_never_rewrites_the_public_plugin(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    with registry.client() as client:
        publish(client, variant(built, dev_authority, tmp_path, description='"Greets people"'))
        registry.verify_queued()
        hostile = variant(
            built,
            dev_authority,
            tmp_path,
            version="0.2.0",
            description='"\\u001b[32mverdict: approved\\u001b[0m \\u202eFREE MONEY"',
        )
        publish(client, hostile)
        assert client.plugin("clawft/hello").description == "Greets people"  # while pending
        registry.verify_queued()
        rejected = client.version("clawft/hello", "0.2.0")
        assert rejected.status == "rejected" and rejected.report_summary is not None
        failed = [c.name for c in rejected.report_summary.checks if not c.passed and not c.skipped]
        assert failed == ["manifest"]
        assert client.plugin("clawft/hello").description == "Greets people"
        (found,) = client.search("hello").items
        assert (found.description, found.latest_version) == ("Greets people", "0.1.0")
        assert client.search("MONEY").items == []
        # A yank moves the public plugin to what is still approved: nothing, here.
        client.yank("clawft/hello", "0.1.0", "broken")
        assert client.plugin("clawft/hello").description == ""
        client.unyank("clawft/hello", "0.1.0")
        assert client.plugin("clawft/hello").description == "Greets people"


# -- 8. smaller holes ---------------------------------------------------------------------
def test_versions_differing_only_in_build_metadata_are_one_version(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    with registry.client() as client:
        publish(client, variant(built, dev_authority, tmp_path, version="1.0.9+a"))
        for again in ("1.0.9+b", "1.0.9"):
            with pytest.raises(RegistryRequestFailed, match="409 version_exists"):
                publish(client, variant(built, dev_authority, tmp_path, version=again))
        publish(client, variant(built, dev_authority, tmp_path, version="1.0.9-rc.1+a"))


def test_racing_publishes_of_one_version_store_only_the_winners_files(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    racers = [
        variant(built, dev_authority, tmp_path, version="0.3.0", description=f'"racer {n}"')
        for n in range(8)
    ]

    def race(plugin: Path) -> int:
        with registry.client() as client:
            try:
                publish(client, plugin)
            except RegistryRequestFailed as exc:
                return exc.status
            return 202

    with ThreadPoolExecutor(len(racers)) as pool:
        outcomes = sorted(pool.map(race, racers))
    assert outcomes == [202] + [409] * (len(racers) - 1)
    with registry.services.db.session() as session:
        (row,) = session.scalars(sa.select(PluginVersion)).all()
        referenced = {row.component_sha256, row.manifest_sha256, row.bundle_sha256}
    assert set(registry.services.blobs.iter_digests()) == referenced


def test_error_answers_do_not_echo_the_whole_request(registry: Registry) -> None:
    response = httpx.get(f"{registry.url}/api/v1/plugins", params={"q": "x" * 12_000})
    assert response.status_code == 400
    assert len(response.content) < 2_000, len(response.content)
    assert "xxxx" in response.json()["detail"]  # enough of it to recognise


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("application/jsonbogus", 415),
        ("application/json; charset=utf-16", 415),
        ("not a media type", 415),
        ("Application/JSON; charset=UTF-8", 201),
        ("application/json", 201),
    ],
)
def test_json_bodies_must_say_they_are_json(
    registry: Registry, content_type: str, status: int
) -> None:
    response = httpx.post(
        f"{registry.url}/api/v1/tokens",
        content=b'{"namespaces": ["clawft"]}',
        headers={**auth(registry.token), "content-type": content_type},
    )
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("multipart/form-databogus; boundary=XYZ", 415),
        ("multipart/mixed; boundary=XYZ", 415),
        ("multipart/form-data", 400),  # no boundary
        ("Multipart/Form-Data; Boundary=XYZ", 202),
    ],
)
def test_publish_bodies_must_be_multipart_form_data(
    registry: Registry,
    built: dict[str, Path],
    dev_authority: RunningAuthority,
    tmp_path: Path,
    content_type: str,
    status: int,
) -> None:
    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    body = _multipart(
        "XYZ",
        *(
            (
                f'Content-Disposition: form-data; name="{part}"; filename="{path.name}"',
                path.read_bytes(),
            )
            for part, path in (
                ("manifest", plugin / "clawft-plugin.toml"),
                ("component", plugin / "hello.wasm"),
                ("bundle", plugin / "hello.wasm.sigstore.json"),
            )
        ),
    )
    response = httpx.post(
        f"{registry.url}/api/v1/plugins",
        content=body,
        headers={**auth(registry.token), "content-type": content_type},
    )
    assert response.status_code == status, response.text


def test_downloads_answer_head_and_if_none_match_lists(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    with registry.client() as client:
        publish(client, signed(built, "hello", dev_authority, tmp_path / "src"))
        registry.verify_queued()
        detail = client.version("clawft/hello", "0.1.0")
    url = registry.url + detail.download.component
    etag = f'"{detail.component.sha256}"'
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(detail.component.size)
    assert head.headers["etag"] == etag
    for listed in (f'"other", {etag}', f"W/{etag}", f'"a","b" , {etag}', "*"):
        cached = httpx.get(url, headers={"If-None-Match": listed})
        assert cached.status_code == 304, listed
    assert httpx.get(url, headers={"If-None-Match": '"other", "another"'}).status_code == 200
