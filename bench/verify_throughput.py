"""Benchmark: plugins verified per minute by one `clawft-registry worker` process against two,
on the production-shaped stack (infra/stack.py: PostgreSQL, Valkey, an S3 endpoint, `serve` on
granian, worker processes with concurrency 1).

In one run, in each of R rounds, for one worker process and then two: start the workers and
wait until each answers a ping, pause their consuming, publish N versions of the `heavy` plugin
(~226 KiB near the size budget, each version with distinct component bytes, all signed
beforehand), then resume and time until every version has its verdict. Rounds alternate so that
a drift in the machine's speed touches both; the ratio counts every version of every round.
Target on this 2-core machine: two workers verify at least 1.7x as many per minute.

Run: ``python bench/verify_throughput.py [--versions 30] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._plugins import build_bench_assets, with_custom_section
from client.registry import RegistryClient
from client.registry.errors import RegistryRequestFailed
from infra.stack import CLI, ProductionShape, production_shape

PLUGIN = "clawft/heavy"
QUEUE = "celery"
VERDICTS = ("approved", "rejected")
"""The queue the verification tasks go to (Celery's default)."""


def signed_versions(
    stack: ProductionShape, plugin: Path, numbers: list[str], work: Path
) -> list[Path]:
    """Copies of ``plugin`` as ``clawft/<name>`` at each version in ``numbers``, each with
    distinct component bytes (none is judged from another's compiled artifact), signed."""
    copies = []
    manifest_text = (plugin / "clawft-plugin.toml").read_text()
    name = plugin.name
    for number in numbers:
        copy = work / f"{name}-{number}"
        shutil.copytree(plugin, copy)
        component = next(copy.glob("*.wasm"))
        component.write_bytes(
            with_custom_section(component.read_bytes(), "clawft-bench", number.encode())
        )
        (copy / "clawft-plugin.toml").write_text(
            manifest_text.replace('version = "0.1.0"', f'version = "{number}"').replace(
                f'name = "bench/{name}"', f'name = "clawft/{name}"'
            )
        )
        subprocess.run(
            [
                str(CLI),
                "sign",
                str(copy),
                "--trust-config",
                str(stack.trust_config),
                "--identity-token",
                stack.identity_token(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        copies.append(copy)
    return copies


def workers_up(stack: ProductionShape, count: int) -> Any:
    """Celery's remote control of the stack, once ``count`` workers answer a ping."""
    from celery import Celery

    control = Celery(broker=stack.env["CLAWFT_BROKER_URL"]).control
    deadline = time.monotonic() + 120
    while len(control.ping(timeout=1.0) or []) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{count} worker(s) did not answer a ping in 120 s")
    return control


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of every CPU of the machine so far (``/proc/stat``)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def verified_per_minute(
    stack: ProductionShape, copies: list[Path], numbers: list[str], workers: int
) -> tuple[float, float]:
    """Plugins verified per minute, and how busy the machine's CPUs were meanwhile (0 to 1)."""
    for _ in range(workers):
        stack.start_worker(1)
    control = workers_up(stack, workers)
    # Paused while the versions are published, so the figure is verification alone.
    control.cancel_consumer(QUEUE, reply=True)
    with RegistryClient(stack.url, token=stack.token) as client:
        for copy in copies:
            component = next(copy.glob("*.wasm"))
            while True:
                try:
                    client.publish(
                        copy / "clawft-plugin.toml",
                        component,
                        component.with_name(component.name + ".sigstore.json"),
                    )
                    break
                except RegistryRequestFailed as refused:  # publishes are rate limited
                    if refused.status != 429:
                        raise
                    time.sleep(1)
    started = time.perf_counter()
    busy_before, total_before = cpu_ticks()
    control.add_consumer(QUEUE, reply=True)
    pending = set(numbers)
    # One request per poll for every version's status: polling each version would load the
    # HTTP worker and the database with the benchmark's own traffic, on the same two cores.
    with httpx.Client(base_url=stack.url, timeout=10) as http:
        while pending:
            time.sleep(0.1)
            for summary in http.get(f"/api/v1/plugins/{PLUGIN}").json()["versions"]:
                if summary["version"] in pending and summary["status"] in VERDICTS:
                    assert summary["status"] == "approved", summary
                    pending.discard(summary["version"])
    elapsed = time.perf_counter() - started
    busy_after, total_after = cpu_ticks()
    for process in list(stack.workers):
        stack.stop_worker(process)
    return len(numbers) / elapsed * 60, (busy_after - busy_before) / (total_after - total_before)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=30, help="versions per phase")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of one, then two, workers")
    args = parser.parse_args()
    results: list[tuple[tuple[float, float], tuple[float, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plugin = build_bench_assets(work / "plugins")["heavy"]
        with production_shape(work / "stack", http_workers=1, workers=0, beat=False) as stack:
            phases = []
            for round_ in range(args.rounds):
                for workers in (1, 2):
                    numbers = [f"{round_ + 1}.{workers}.{n}" for n in range(args.versions)]
                    phases.append((numbers, signed_versions(stack, plugin, numbers, work)))
            for round_ in range(args.rounds):
                (one_numbers, one), (two_numbers, two) = phases[2 * round_ : 2 * round_ + 2]
                results.append(
                    (
                        verified_per_minute(stack, one, one_numbers, 1),
                        verified_per_minute(stack, two, two_numbers, 2),
                    )
                )
    print(
        f"verification throughput, {args.versions} versions of heavy per phase, "
        f"{args.rounds} round(s) of one worker process then two, production shape"
    )
    cores = os.cpu_count() or 1
    for round_, (with_one, with_two) in enumerate(results, 1):
        for label, (rate, busy) in (("one worker process", with_one), ("two", with_two)):
            print(
                f"  round {round_}  {label:<19}{rate:6.1f} plugins/min   "
                f"CPUs busy {busy:4.0%} of {cores}"
            )
        print(f"  round {round_}  ratio {with_two[0] / with_one[0]:.2f}x")
    # Every version of every round counted once: the machine's speed drifts between rounds.
    one_rate = len(results) / sum(1 / one[0] for one, _ in results)
    two_rate = len(results) / sum(1 / two[0] for _, two in results)
    print(
        f"  all rounds: {one_rate:.1f} against {two_rate:.1f} plugins/min, "
        f"ratio {two_rate / one_rate:.2f}x   (target >= 1.70x on 2 cores)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
