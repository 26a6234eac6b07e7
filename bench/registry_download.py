"""Benchmark: downloads from `clawft-registry serve` against static-file servers and the CNCF
distribution registry.

In one run, on 127.0.0.1: start `clawft-registry serve` (embedded default: granian, one HTTP
worker), publish the `hello` example (timing publish → approved, median of several versions),
then load with `wrk` at concurrency 32, each for the same duration:

* our by-digest route (`/blobs/sha256/<hex>`: granian sends the file) against **nginx** (one
  worker, `sendfile on`) serving the same file from the same blob directory.
  Target: ≥ 0.5x nginx.
* our named route (`…/versions/{v}/component`) against a **bare Litestar handler** returning
  the same bytes from memory, on granian with one worker. Target: ≥ 0.7x the bare handler.
* our named route against Debian's `docker-registry` (distribution 2.8) serving the same bytes
  as a blob. Target: at least its throughput.

Needs `apt-get install docker-registry wrk nginx-light`; everything stops by itself.

Run: ``python bench/registry_download.py [--duration 5] [--connections 32] [--publishes 5]``.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._plugins import build_examples

CLI = Path(sys.executable).parent / "clawft-registry"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start within 60 s")


@contextmanager
def running(command: list[str], url: str, what: str, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLAWFT_")}
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
        try:
            wait_until_up(url, process, what)
            yield
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wrk(url: str, *, duration: int, connections: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) of GET ``url``."""
    out = subprocess.run(
        [
            shutil.which("wrk") or "wrk",
            f"-c{connections}",
            "-t2",
            f"-d{duration}s",
            "--latency",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def percentile(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert match is not None, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url} answered {errors.group(1)} errors under load:\n{out}")
    return rps, percentile("50"), percentile("99")


def publish_latencies(
    url: str, data: Path, plugin: Path, count: int, work: Path
) -> tuple[list[float], str]:
    """Publish ``count`` versions of the plugin, timing each until approved; the last URL."""
    env = {
        **os.environ,
        "CLAWFT_REGISTRY_URL": url,
        "CLAWFT_REGISTRY_TOKEN": (data / "dev-token").read_text().strip(),
        "XDG_CONFIG_HOME": str(work / "config"),
    }
    identity = (data / "dev-identity-token").read_text().strip()
    trust = str(data / "trust-config.json")
    latencies = []
    version = "0.1.0"
    for n in range(count):
        version = f"0.1.{n}"
        copy = work / f"hello-{n}"
        shutil.copytree(plugin, copy)
        manifest = copy / "clawft-plugin.toml"
        manifest.write_text(
            manifest.read_text().replace('version = "0.1.0"', f'version = "{version}"')
        )
        subprocess.run(
            [str(CLI), "sign", str(copy), "--trust-config", trust, "--identity-token", identity],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        started = time.perf_counter()
        subprocess.run(
            [str(CLI), "publish", str(copy), "--trust-config", trust, "--wait"],
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        latencies.append(time.perf_counter() - started)
    detail = httpx.get(f"{url}/api/v1/plugins/clawft/hello/versions/{version}").json()
    return latencies, url + detail["download"]["component"]


def _which(tool: str) -> str | None:
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/local/sbin")


@contextmanager
def nginx_serving(directory: Path, work: Path) -> Iterator[str]:
    """nginx with one worker and sendfile, serving ``directory`` on a loopback port."""
    port = free_port()
    prefix = work / "nginx"
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    config = prefix / "nginx.conf"
    # Its worker reads the files as the user running the benchmark (the temporary directory is
    # private to that user).
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    config.write_text(
        user + "daemon off;\nworker_processes 1;\npid nginx.pid;\nerror_log logs/error.log;\n"
        "events { worker_connections 1024; }\n"
        "http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n"
        "  default_type application/octet-stream;\n"
        f"  server {{ listen 127.0.0.1:{port}; location / {{ root {directory}; }} }}\n}}\n"
    )
    command = [_which("nginx") or "nginx", "-p", str(prefix), "-c", str(config)]
    with running(command, f"http://127.0.0.1:{port}/", "nginx", work / "nginx.log"):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def bare_litestar(blob: Path, work: Path) -> Iterator[str]:
    """A Litestar app whose one handler returns ``blob``'s bytes from memory, on granian with
    one worker: what a download costs in Python with no work at all."""
    port = free_port()
    (work / "bare_app.py").write_text(
        "from litestar import Litestar, get\n"
        f"DATA = open({str(blob)!r}, 'rb').read()\n"
        "@get('/blob', media_type='application/octet-stream', sync_to_thread=False)\n"
        "def blob() -> bytes:\n    return DATA\n"
        "app = Litestar([blob])\n"
    )
    granian = str(Path(sys.executable).parent / "granian")
    command = [
        granian,
        "--interface",
        "asgi",
        "--http",
        "1",
        "--workers",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--working-dir",
        str(work),
        "bare_app:app",
    ]
    with running(command, f"http://127.0.0.1:{port}/blob", "bare Litestar", work / "bare.log"):
        yield f"http://127.0.0.1:{port}/blob"


def upload_blob(url: str, repository: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with httpx.Client(base_url=url, timeout=30) as client:
        started = client.post(f"/v2/{repository}/blobs/uploads/")
        started.raise_for_status()
        location = started.headers["location"]
        separator = "&" if "?" in location else "?"
        put = client.put(
            f"{location}{separator}digest={digest}",
            content=data,
            headers={"content-type": "application/octet-stream"},
        )
        put.raise_for_status()
    return f"{url}/v2/{repository}/blobs/{digest}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--publishes", type=int, default=5)
    args = parser.parse_args()
    for tool in ("docker-registry", "wrk", "nginx"):
        if _which(tool) is None:
            print(
                f"{tool} is missing: apt-get install docker-registry wrk nginx-light",
                file=sys.stderr,
            )
            return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plugin = build_examples(work / "plugins")["hello"]
        component = (plugin / "hello.wasm").read_bytes()
        data = work / "registry-data"
        ours = f"http://127.0.0.1:{free_port()}"
        theirs_port = free_port()
        theirs = f"http://127.0.0.1:{theirs_port}"
        config = work / "distribution.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {work / 'distribution'}\n"
            f"http:\n  addr: 127.0.0.1:{theirs_port}\n"
        )
        serve = [str(CLI), "serve", "--data-dir", str(data), "--port", ours.rsplit(":", 1)[1]]
        with (
            running(serve, f"{ours}/healthz", "clawft-registry serve", work / "serve.log"),
            running(
                ["docker-registry", "serve", str(config)],
                f"{theirs}/v2/",
                "docker-registry",
                work / "distribution.log",
            ),
        ):
            latencies, our_url = publish_latencies(ours, data, plugin, args.publishes, work)
            their_url = upload_blob(theirs, "clawft/hello", component)
            assert httpx.get(our_url).content == httpx.get(their_url).content == component
            digest = hashlib.sha256(component).hexdigest()
            by_digest = f"{ours}/blobs/sha256/{digest}"
            assert httpx.get(by_digest).content == component
            load = {"duration": args.duration, "connections": args.connections}
            figures = {
                "serve, by digest": wrk(by_digest, **load),
                "serve, named": wrk(our_url, **load),
                "docker-registry": wrk(their_url, **load),
            }
        blob_dir = data / "blobs" / "blobs" / "sha256"
        with nginx_serving(blob_dir, work) as nginx_url:
            assert httpx.get(f"{nginx_url}/{digest}").content == component
            figures["nginx, 1 worker"] = wrk(f"{nginx_url}/{digest}", **load)
        with bare_litestar(blob_dir / digest, work) as bare_url:
            assert httpx.get(bare_url).content == component
            figures["bare Litestar"] = wrk(bare_url, **load)
    print(
        f"component: hello ({len(component):,} bytes); concurrency {args.connections}, "
        f"{args.duration} s each, over loopback"
    )
    for label, (rps, p50, p99) in figures.items():
        print(f"{label:<18} {rps:9.0f} req/s   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")

    def ratio(ours_label: str, theirs_label: str, target: float) -> None:
        value = figures[ours_label][0] / figures[theirs_label][0]
        print(f"{ours_label} / {theirs_label}: {value:.2f}x   (target >= {target:.2f}x)")

    ratio("serve, by digest", "nginx, 1 worker", 0.5)
    ratio("serve, named", "bare Litestar", 0.7)
    ratio("serve, named", "docker-registry", 1.0)
    print(
        f"publish -> approved (median of {len(latencies)}): "
        f"{statistics.median(latencies) * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
