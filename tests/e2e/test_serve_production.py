"""`clawft-registry serve` with a broker of its own (production): it makes none of the embedded
default's pieces. No TUF keys (a database without a repository is refused, with what to run),
no development authority or publisher, no embedded broker; the repository an operator created
with keys kept offline is what it serves."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from tests.e2e.test_serve import cli, free_port, serving


def test_production_serve_makes_no_keys_and_no_development_pieces(
    redis_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "registry-data"
    data.mkdir()
    env = {
        "CLAWFT_BROKER_URL": f"{redis_url}/12",
        "CLAWFT_DATA_DIR": str(data),
    }
    plain = {k: v for k, v in os.environ.items() if not k.startswith("CLAWFT_")}
    refused = cli("serve", "--port", str(free_port()), "--no-worker", env={**plain, **env})
    assert refused.returncode == 2, refused.stderr
    assert "admin tuf-init" in refused.stderr and "Traceback" not in refused.stderr
    assert not (data / "tuf").exists()

    usb = tmp_path / "usb"  # the operator's offline keys, never in the data directory
    root = tmp_path / "1.root.json"
    created = cli(
        "admin",
        "tuf-init",
        "--root-key",
        usb / "root.pem",
        "--targets-key",
        usb / "targets.pem",
        "--root-out",
        root,
        env={**plain, **env},
    )
    assert created.returncode == 0, created.stderr
    with serving(data, free_port(), "--no-worker", env=env) as url:
        assert httpx.get(f"{url}/readyz").json()["status"] == "ready"
        assert httpx.get(f"{url}/tuf/metadata/1.root.json").content == root.read_bytes()
    for development in ("dev-token", "dev-identity-token", "trust-config.json", "authority"):
        assert not (data / development).exists(), development
    assert not (data / "broker").exists()
    assert not (data / "tuf" / "offline").exists()
