"""`clawft-registry serve` on one machine, driven like a user drives it: publish an example
plugin with the CLI, see it approved, pull it, run it; restart and find everything still there;
a verification queued while no worker runs is done after a restart."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import jwt
import pytest

CLAWFT_REGISTRY = Path(sys.executable).parent / "clawft-registry"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(data: Path, port: int, *extra: str, env: dict[str, str] | None = None) -> Iterator[str]:
    settings = env or {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAWFT_")}
    env.update(settings)
    log = (data.parent / f"serve-{port}.log").open("ab")
    process = subprocess.Popen(
        [str(CLAWFT_REGISTRY), "serve", "--data-dir", str(data), "--port", str(port), *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"serve exited: {(data.parent / f'serve-{port}.log').read_text()}"
                )
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not become ready in 60 s")
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def cli(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLAWFT_REGISTRY), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **env},
        check=False,
    )


def publish_env(url: str, data: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "CLAWFT_REGISTRY_URL": url,
        "CLAWFT_REGISTRY_TOKEN": (data / "dev-token").read_text().strip(),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }


def test_serve_publish_pull_run_and_restart(built: dict[str, Path], tmp_path: Path) -> None:
    data, port = tmp_path / "registry-data", free_port()
    plugin = tmp_path / "hello"
    shutil.copytree(built["hello"], plugin)
    with serving(data, port) as url:
        env = publish_env(url, data, tmp_path)
        identity = (data / "dev-identity-token").read_text().strip()
        trust = data / "trust-config.json"
        published = cli(
            "publish",
            plugin,
            "--trust-config",
            trust,
            "--identity-token",
            identity,
            "--wait",
            "--wait-timeout",
            "120",
            env=env,
        )
        assert published.returncode == 0, published.stdout + published.stderr
        assert "clawft/hello 0.1.0: approved" in published.stdout
        pulled = cli(
            "pull",
            "clawft/hello",
            "--dest",
            tmp_path / "plugins",
            "--trust-config",
            trust,
            "--root",  # the root serve created: pinned explicitly, never fetched on trust
            data / "tuf" / "1.root.json",
            env=env,
        )
        assert pulled.returncode == 0, pulled.stderr
        assert "signed by dev@clawft.local" in pulled.stdout
        proof = cli("info", "clawft/hello@0.1.0", "--trust-config", trust, env=env)
        assert proof.returncode == 0, proof.stderr
        assert "proof: signed by dev@clawft.local" in proof.stdout
        assert "through TUF metadata: root 1" in proof.stdout
        device = tmp_path / "device"
        root = data / "tuf" / "1.root.json"
        pinned = cli("sync", "init", "--root", root, "--dest", device, env=env)
        assert pinned.returncode == 0, pinned.stderr
        synced = cli(
            "sync",
            "--dest",
            device,
            "--select",
            "clawft",
            "--trust-config",
            trust,
            "--json",
            env=env,
        )
        assert synced.returncode == 0, synced.stderr
        assert json.loads(synced.stdout)["added"] == [{"name": "clawft/hello", "version": "0.1.0"}]
        found = cli("search", "greets", env=env)
        assert found.returncode == 0 and "clawft/hello" in found.stdout
        component = tmp_path / "plugins" / "clawft" / "hello" / "0.1.0" / "hello.wasm"
        ran = cli("run", component, "--tool", "greet", "--input", '{"name": "Oslo"}', env=env)
        assert ran.returncode == 0 and json.loads(ran.stdout) == {"greeting": "Hello, Oslo!"}
        again = cli(
            "publish", plugin, "--trust-config", trust, "--identity-token", identity, env=env
        )
        assert again.returncode == 1 and "version_exists" in again.stderr
    with serving(data, free_port()) as url:
        info = cli("info", "clawft/hello@0.1.0", env=publish_env(url, data, tmp_path))
        assert info.returncode == 0 and "clawft/hello 0.1.0: approved" in info.stdout


def test_queued_verification_survives_a_restart(built: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "registry-data"
    plugin = tmp_path / "notes"
    shutil.copytree(built["notes"], plugin)
    with serving(data, free_port(), "--no-worker") as url:
        env = publish_env(url, data, tmp_path)
        identity = (data / "dev-identity-token").read_text().strip()
        published = cli(
            "publish",
            plugin,
            "--trust-config",
            data / "trust-config.json",
            "--identity-token",
            identity,
            env=env,
        )
        assert published.returncode == 0, published.stderr
        status = httpx.get(f"{url}/api/v1/plugins/clawft/notes/versions/0.1.0").json()["status"]
        assert status == "pending"
    with serving(data, free_port()) as url:
        deadline = time.monotonic() + 120
        while True:
            status = httpx.get(f"{url}/api/v1/plugins/clawft/notes/versions/0.1.0").json()["status"]
            if status == "approved":
                break
            assert status in ("pending", "verifying"), status
            if time.monotonic() > deadline:
                pytest.fail(f"still {status} two minutes after the restart")
            time.sleep(0.5)


def test_admin_bootstraps_a_publisher(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAWFT_")}
    env["CLAWFT_DATA_DIR"] = str(tmp_path / "data")
    migrated = subprocess.run(
        [str(CLAWFT_REGISTRY), "admin", "migrate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    created = subprocess.run(
        [
            str(CLAWFT_REGISTRY),
            "admin",
            "create-publisher",
            "acme",
            "--namespace",
            "acme",
            "--signer",
            "ci@acme.example=https://token.actions.githubusercontent.com",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("clawft_") and "shown once" in created.stderr
    again = subprocess.run(
        [str(CLAWFT_REGISTRY), "admin", "create-publisher", "acme", "--namespace", "acme"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert again.returncode == 1 and "exists already" in again.stderr
    bad = subprocess.run(
        [str(CLAWFT_REGISTRY), "admin", "create-publisher", "Bad Name", "--namespace", "x"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


def _closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closed ``sock`` (fails if it stays open ``seconds``)."""
    sock.settimeout(seconds)
    started = time.monotonic()
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the connection was still open after {seconds} s")
    return time.monotonic() - started


def _read_answer(sock: socket.socket, seconds: float) -> bytes:
    """One whole HTTP answer (headers and a Content-Length body), however it is split into
    packets."""
    sock.settimeout(seconds)
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            return answer
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_serve_bounds_slow_and_idle_clients_and_keeps_its_secrets_private(
    tmp_path: Path,
) -> None:
    data, port = tmp_path / "registry-data", free_port()
    timeouts = {
        "CLAWFT_HTTP_HEADER_TIMEOUT_S": "1",
        "CLAWFT_HTTP_UPLOAD_BODY_TIMEOUT_S": "1",
    }
    with serving(data, port, env=timeouts) as url:
        for secret in ("dev-token", "dev-identity-token"):
            assert (data / secret).stat().st_mode & 0o777 == 0o600, secret
        claims = jwt.decode(
            (data / "dev-identity-token").read_text(), options={"verify_signature": False}
        )
        assert claims["exp"] > time.time() + 300  # minutes to live, and renewed every 4
        # A client that sends nothing, and one that sends its headers a byte at a time.
        silent = socket.create_connection(("127.0.0.1", port))
        assert _closed_within(silent, 5) < 3
        trickle = socket.create_connection(("127.0.0.1", port))
        started = time.monotonic()
        with contextlib.suppress(OSError):
            for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\n":
                trickle.sendall(bytes([byte]))
                time.sleep(0.2)
        assert time.monotonic() - started < 5
        assert _closed_within(trickle, 5) < 3
        # An idle keep-alive connection.
        idle = socket.create_connection(("127.0.0.1", port))
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_answer(idle, 5).startswith(b"HTTP/1.1 200")
        assert _closed_within(idle, 5) < 3
        # A body that comes too slowly: 408, and the registry answers others meanwhile.
        slow = socket.create_connection(("127.0.0.1", port))
        token = (data / "dev-token").read_text().strip()
        slow.sendall(
            b"POST /api/v1/plugins HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n"
            + f"Authorization: Bearer {token}\r\n\r\n--b\r\n".encode()
        )
        assert httpx.get(f"{url}/healthz").status_code == 200
        answer = _read_answer(slow, 5)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b'"request_timeout"' in answer


def test_the_development_identity_token_is_kept_fresh(tmp_path: Path) -> None:
    from infra.sigstore_authority import SigningAuthority
    from registry.embedded import keep_identity_token_fresh

    authority = SigningAuthority(tmp_path / "authority")
    path = tmp_path / "dev-identity-token"
    path.write_text("stale", encoding="utf-8")
    path.chmod(0o644)
    stop = keep_identity_token_fresh(authority, path, every_s=0.2)
    try:
        first = path.read_text(encoding="utf-8")
        assert first != "stale" and path.stat().st_mode & 0o777 == 0o600
        deadline = time.monotonic() + 10
        while path.read_text(encoding="utf-8") in (first, ""):
            assert time.monotonic() < deadline, "the token was never renewed"
            time.sleep(0.1)
    finally:
        stop()
        authority.close()
