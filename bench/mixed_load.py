"""Benchmark: a mixed load on the production-shaped stack (infra/stack.py: PostgreSQL, Valkey,
an S3 endpoint, `serve` on granian with one HTTP worker per CPU, two `worker` processes, beat).

For 60 s at concurrency 50: 90 % downloads (by name and by digest), 5 % searches, 5 % version
details, and a publish every few seconds (versions signed beforehand). Target: 0 errors, and
every publish reaches its verdict. Prints requests/s and p50/p99 per kind.

Run: ``python bench/mixed_load.py [--seconds 60] [--concurrency 50] [--publish-every 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._plugins import build_examples
from bench.verify_throughput import signed_versions
from client.registry import RegistryClient
from infra.stack import ProductionShape, production_shape


async def load(
    stack: ProductionShape, version: Path, *, seconds: float, concurrency: int
) -> tuple[dict[str, list[float]], list[str]]:
    """``version``: the published 0.1.0, whose files are downloaded."""
    component = (version / "hello.wasm").read_bytes()
    paths = [
        ("download", "/api/v1/plugins/clawft/hello/versions/0.1.0/component", 0.45),
        ("download", f"/blobs/sha256/{hashlib.sha256(component).hexdigest()}", 0.45),
        ("search", "/api/v1/plugins?q=greets", 0.05),
        ("detail", "/api/v1/plugins/clawft/hello/versions/0.1.0", 0.05),
    ]
    weights = [weight for *_, weight in paths]
    latencies: dict[str, list[float]] = {}
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=stack.url, timeout=30, limits=limits) as client:

        async def user() -> None:
            while time.monotonic() < deadline:
                kind, path, _ = random.choices(paths, weights)[0]  # noqa: S311 - a load mix
                started = time.perf_counter()
                try:
                    answer = await client.get(path)
                    if answer.status_code != 200:
                        errors.append(f"{path}: {answer.status_code}")
                except httpx.HTTPError as exc:
                    errors.append(f"{path}: {exc!r}")
                latencies.setdefault(kind, []).append(time.perf_counter() - started)

        await asyncio.gather(*(user() for _ in range(concurrency)))
    return latencies, errors


def publisher(
    stack: ProductionShape, copies: list[Path], every_s: float, seconds: float
) -> list[str]:
    """Publish one version every ``every_s`` for ``seconds``; the versions published."""
    published = []
    deadline = time.monotonic() + seconds
    with RegistryClient(stack.url, token=stack.token) as client:
        for copy in copies:
            if time.monotonic() >= deadline:
                break
            started = time.monotonic()
            client.publish(
                copy / "clawft-plugin.toml",
                copy / "hello.wasm",
                copy / "hello.wasm.sigstore.json",
            )
            published.append(copy.name.removeprefix("hello-"))
            time.sleep(max(0.0, every_s - (time.monotonic() - started)))
    return published


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--publish-every", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plugin = build_examples(work / "plugins")["hello"]
        http_workers = max(1, os.cpu_count() or 1)
        with production_shape(work / "stack", http_workers=http_workers, workers=2) as stack:
            numbers = [f"0.1.{n}" for n in range(int(args.seconds / args.publish_every) + 1)]
            copies = signed_versions(stack, plugin, numbers, work)
            first = publisher(stack, copies[:1], 0, 60)
            wait_for_verdicts(stack, first, 120)
            loop = asyncio.new_event_loop()
            with_publishes = loop.run_in_executor(
                None, publisher, stack, copies[1:], args.publish_every, args.seconds
            )
            started = time.perf_counter()
            latencies, errors = loop.run_until_complete(
                load(stack, copies[0], seconds=args.seconds, concurrency=args.concurrency)
            )
            elapsed = time.perf_counter() - started
            published = loop.run_until_complete(with_publishes)
            loop.close()
            verdicts = wait_for_verdicts(stack, published, 300)
    total = sum(len(v) for v in latencies.values())
    print(
        f"mixed load: {args.seconds:.0f} s at concurrency {args.concurrency}, "
        f"{http_workers} HTTP workers, 2 worker processes, production shape"
    )
    print(f"  {total:,} requests, {total / elapsed:,.0f} req/s, {len(errors)} errors")
    for kind, values in sorted(latencies.items()):
        values.sort()
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        p50 = statistics.median(values)
        print(
            f"  {kind:<9} {len(values):>7,} requests   p50 {p50 * 1000:7.1f} ms"
            f"   p99 {p99 * 1000:7.1f} ms"
        )
    print(f"  publishes during the load: {len(published)}, verdicts: {verdicts}")
    for error in errors[:10]:
        print(f"  error: {error}")
    return 0 if not errors else 1


def wait_for_verdicts(
    stack: ProductionShape, numbers: list[str], timeout_s: float
) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    found: dict[str, str] = {}
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        while len(found) < len(numbers) and time.monotonic() < deadline:
            for number in numbers:
                if number in found:
                    continue
                status = client.get(f"/api/v1/plugins/clawft/hello/versions/{number}").json()[
                    "status"
                ]
                if status in ("approved", "rejected"):
                    found[number] = status
            time.sleep(0.5)
    counts: dict[str, int] = {}
    for number in numbers:
        status = found.get(number, "no verdict")
        counts[status] = counts.get(status, 0) + 1
    return counts


if __name__ == "__main__":
    sys.exit(main())
