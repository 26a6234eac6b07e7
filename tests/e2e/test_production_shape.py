"""The production-shaped registry as processes (infra/stack.py: what docker-compose.yml runs):
PostgreSQL, Valkey, an S3 endpoint, `serve` on granian with two HTTP workers, two `worker`
processes and beat. A plugin is published, verified by a worker process, approved, and pulled
and synced through TUF by a device that pinned the root the operator made offline."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import httpx
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families

from infra.stack import production_shape
from tests.e2e.test_serve import cli


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``, by name and sorted labels."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def answering_workers(broker_url: str, count: int) -> set[str]:
    """The node names that answer a remote-control ping, once ``count`` replies came."""
    app = Celery("probe", broker=broker_url, set_as_current=False)
    try:
        deadline = time.monotonic() + 60
        while True:
            replies = app.control.ping(timeout=1.0) or []
            if len(replies) >= count or time.monotonic() > deadline:
                return {name for reply in replies for name in reply}
    finally:
        app.close()


def test_publish_verify_pull_and_sync_through_the_production_shape(
    built: dict[str, Path], tmp_path: Path
) -> None:
    plugin = tmp_path / "hello"
    shutil.copytree(built["hello"], plugin)
    with production_shape(tmp_path / "stack", http_workers=2, workers=2) as stack:
        env = {
            "CLAWFT_REGISTRY_URL": stack.url,
            "CLAWFT_REGISTRY_TOKEN": stack.token,
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        }
        trust = stack.trust_config
        published = cli(
            "publish",
            plugin,
            "--trust-config",
            trust,
            "--identity-token",
            stack.identity_token(),
            "--wait",
            "--wait-timeout",
            "180",
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
            "--root",
            stack.root,
            env=env,
        )
        assert pulled.returncode == 0, pulled.stderr
        device = tmp_path / "device"
        assert cli("sync", "init", "--root", stack.root, "--dest", device, env=env).returncode == 0
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
        component = (plugin / "hello.wasm").read_bytes()
        digest = hashlib.sha256(component).hexdigest()
        answer = httpx.get(f"{stack.url}/blobs/sha256/{digest}")
        assert answer.status_code == 200 and answer.content == component
        # The bytes came from the S3 endpoint, not a local directory.
        assert not (stack.work / "registry-data" / "blobs").exists()
        # /metrics counts what was done, whichever HTTP worker answers, the verdict recorded by
        # a worker process included.
        for _ in range(2 * stack.http_workers):
            series = scrape(stack.url)
            assert series[("clawft_uploads_total", (("outcome", "accepted"), ("reason", "")))] == 1
            assert series[("clawft_verdicts_total", (("check", ""), ("verdict", "approved")))] == 1
            assert series[("clawft_downloads_total", (("kind", "blob"), ("status", "200")))] == 1
        # Each worker process of this host answers Celery's remote control as itself (two
        # with one name would have their `inspect` replies merged into one).
        names = answering_workers(stack.env["CLAWFT_BROKER_URL"], count=3)
        assert len(names) == 3, names
        assert all(name.startswith("worker-") for name in names), names
        ready = httpx.get(f"{stack.url}/readyz").json()
        assert ready == {
            "status": "ready",
            "checks": {"database": "ok", "blobs": "ok", "broker": "ok"},
        }
