"""Benchmark: downloads from `clawft-registry serve` against the CNCF distribution registry.

In one run: start `clawft-registry serve` (embedded default) and Debian's `docker-registry`
(distribution 2.8) on 127.0.0.1, publish the `hello` example to the first (timing publish →
approved, median of several versions), upload the same component bytes as a blob to the
second, then load both download URLs with `wrk` at concurrency 32 for the same duration and
print requests per second, p50/p99 latency and the throughput ratio.

Needs Debian's `docker-registry` and `wrk` (`apt-get install docker-registry wrk`); everything
runs on loopback and stops by itself. Target: at least the distribution registry's throughput.

Run: ``python bench/registry_download.py [--duration 5] [--connections 32] [--publishes 5]``.
"""

from __future__ import annotations

import argparse
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
    for tool in ("docker-registry", "wrk"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing: apt-get install docker-registry wrk", file=sys.stderr)
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
            ours_rps, ours_p50, ours_p99 = wrk(
                our_url, duration=args.duration, connections=args.connections
            )
            theirs_rps, theirs_p50, theirs_p99 = wrk(
                their_url, duration=args.duration, connections=args.connections
            )
    print(
        f"component: hello ({len(component):,} bytes); concurrency {args.connections}, "
        f"{args.duration} s each, over loopback"
    )
    for label, (rps, p50, p99) in (
        ("clawft-registry", (ours_rps, ours_p50, ours_p99)),
        ("docker-registry", (theirs_rps, theirs_p50, theirs_p99)),
    ):
        print(f"{label:<18} {rps:9.0f} req/s   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")
    print(f"throughput ratio   {ours_rps / theirs_rps:9.2f}x   (target >= 1.00x)")
    print(
        f"publish -> approved (median of {len(latencies)}): "
        f"{statistics.median(latencies) * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
