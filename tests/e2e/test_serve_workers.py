"""`clawft-registry serve --workers 2`: two granian HTTP worker processes behave as one registry.
Rate limits are counted once across them, a yank is seen by both within the bound the README
states, and both send by-digest downloads as files (ASGI pathsend)."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import httpx

from tests.e2e.test_serve import cli, free_port, publish_env, serving

YANK_BOUND_S = 2.0
"""What the README promises: every worker stops serving the old state within this."""


def http_workers(port: int) -> list[int]:
    """The process ids of the HTTP workers of the ``serve`` listening on ``port``: the
    processes it started with multiprocessing's ``spawn``."""
    serve = [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _cmdline(entry).count(f"--port\0{port}\0")
    ]
    assert len(serve) == 1, serve
    children = Path(f"/proc/{serve[0]}/task/{serve[0]}/children").read_text().split()
    return [
        int(pid)
        for pid in children
        if "spawn_main" in _cmdline(Path(f"/proc/{pid}"))
        and "resource_tracker" not in _cmdline(Path(f"/proc/{pid}"))
    ]


def _cmdline(process: Path) -> str:
    try:
        return (process / "cmdline").read_text()
    except OSError:
        return ""


def cpu_ticks(pid: int) -> int:
    """User and system CPU time of ``pid``, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_two_http_workers_behave_as_one_registry(built: dict[str, Path], tmp_path: Path) -> None:
    data, port = tmp_path / "registry-data", free_port()
    plugin = tmp_path / "hello"
    shutil.copytree(built["hello"], plugin)
    with serving(data, port, "--workers", "2") as url:
        workers = http_workers(port)
        assert len(workers) == 2
        before = {pid: cpu_ticks(pid) for pid in workers}
        env = publish_env(url, data, tmp_path)
        token = env["CLAWFT_REGISTRY_TOKEN"]

        # Rate limits: 10 token requests a minute per publisher, however they are spread.
        answers = [
            httpx.post(
                f"{url}/api/v1/tokens",
                json={"namespaces": ["dev"], "expires_in_days": 1},
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
            )
            for _ in range(20)
        ]
        assert [a.status_code for a in answers].count(201) == 10, [a.text for a in answers]
        assert {a.status_code for a in answers} == {201, 429}

        published = cli(
            "publish",
            plugin,
            "--trust-config",
            data / "trust-config.json",
            "--identity-token",
            (data / "dev-identity-token").read_text().strip(),
            "--wait",
            "--wait-timeout",
            "120",
            env=env,
        )
        assert published.returncode == 0, published.stdout + published.stderr
        component = f"{url}/api/v1/plugins/clawft/hello/versions/0.1.0/component"
        data_bytes = (plugin / "hello.wasm").read_bytes()
        digest = hashlib.sha256(data_bytes).hexdigest()
        by_digest = f"{url}/blobs/sha256/{digest}"
        for _ in range(40):  # every worker: found, then answered in front of the app
            named = httpx.get(component, headers={"Connection": "close"})
            assert named.status_code == 200 and named.content == data_bytes
            assert "clawft-yanked" not in named.headers
            assert named.headers["content-disposition"] == 'attachment; filename="hello.wasm"'
            answer = httpx.get(by_digest, headers={"Connection": "close", "X-Request-Id": "r-1"})
            assert answer.status_code == 200 and answer.content == data_bytes
            assert answer.headers["x-request-id"] == "r-1"
            for either in (named, answer):
                assert either.headers["etag"] == f'"{digest}"'
                assert either.headers["content-length"] == str(len(data_bytes))
                assert either.headers["cache-control"] == "public, max-age=31536000, immutable"
            ranged = httpx.get(by_digest, headers={"Range": "bytes=0-3"})  # to the app
            assert ranged.status_code == 206 and ranged.content == data_bytes[:4]

        yanked = httpx.post(
            f"{component.removesuffix('/component')}/yank",
            json={"reason": "broken"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert yanked.status_code == 200, yanked.text
        time.sleep(YANK_BOUND_S + 0.2)
        for _ in range(40):
            answer = httpx.get(component, headers={"Connection": "close"})
            assert answer.headers.get("clawft-yanked") == "true"
            # A yanked version's files still download by digest (an exact pin installs it).
            assert httpx.get(by_digest, headers={"Connection": "close"}).status_code == 200
        # Both workers answered (else the counts above would prove nothing).
        assert all(cpu_ticks(pid) > ticks for pid, ticks in before.items()), before


def test_a_bad_worker_count_is_one_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAWFT_")}
    for flag, value in (("--workers", "0"), ("--workers", "many")):
        bad = cli("serve", "--data-dir", tmp_path / "d", flag, value, env=env)
        assert bad.returncode == 2 and "--workers" in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr
    bad = cli("serve", "--data-dir", tmp_path / "d", env={**env, "CLAWFT_WORKERS": "0"})
    assert bad.returncode == 2 and "CLAWFT_WORKERS" in bad.stderr
    assert "Traceback" not in bad.stderr
