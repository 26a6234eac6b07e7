"""Benchmark: plugins verified per minute by one `clawft-registry worker` process against two,
on the production-shaped stack (infra/stack.py: PostgreSQL, Valkey, an S3 endpoint, `serve` on
granian, worker processes with concurrency 1).

In one run: sign N versions of the `hello` example beforehand and publish them while no worker
runs; then start one worker process and time until every version has its verdict (its start-up
included); then the same with N new versions and two worker processes. Target on this 2-core
machine: two workers verify at least 1.7x as many per minute.

Run: ``python bench/verify_throughput.py [--versions 12]``.
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

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._plugins import build_examples, with_custom_section
from infra.stack import CLI, ProductionShape, production_shape


def signed_versions(
    stack: ProductionShape, plugin: Path, numbers: list[str], work: Path
) -> list[Path]:
    copies = []
    for number in numbers:
        copy = work / f"hello-{number}"
        shutil.copytree(plugin, copy)
        # Distinct component bytes: no version is judged from another's compiled artifact.
        component = copy / "hello.wasm"
        component.write_bytes(
            with_custom_section(component.read_bytes(), "clawft-bench", number.encode())
        )
        manifest = copy / "clawft-plugin.toml"
        manifest.write_text(
            manifest.read_text().replace('version = "0.1.0"', f'version = "{number}"')
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


def verified_per_minute(
    stack: ProductionShape, copies: list[Path], numbers: list[str], workers: int
) -> float:
    """Publish ``copies`` while no worker runs, then start ``workers`` worker processes and
    time until every version has its verdict."""
    env = {**os.environ, "CLAWFT_REGISTRY_URL": stack.url, "CLAWFT_REGISTRY_TOKEN": stack.token}
    for copy in copies:
        subprocess.run(
            [str(CLI), "publish", str(copy), "--trust-config", str(stack.trust_config)],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    started = time.perf_counter()
    for _ in range(workers):
        stack.start_worker(1)
    pending = set(numbers)
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        while pending:
            for number in list(pending):
                detail = client.get(f"/api/v1/plugins/clawft/hello/versions/{number}").json()
                if detail["status"] in ("approved", "rejected"):
                    assert detail["status"] == "approved", number
                    pending.discard(number)
            time.sleep(0.2)
    elapsed = time.perf_counter() - started
    for process in list(stack.workers):
        stack.stop_worker(process)
    return len(numbers) / elapsed * 60


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plugin = build_examples(work / "plugins")["hello"]
        with production_shape(work / "stack", http_workers=1, workers=0, beat=False) as stack:
            one_numbers = [f"1.0.{n}" for n in range(args.versions)]
            two_numbers = [f"2.0.{n}" for n in range(args.versions)]
            one = signed_versions(stack, plugin, one_numbers, work)
            two = signed_versions(stack, plugin, two_numbers, work)
            with_one = verified_per_minute(stack, one, one_numbers, 1)
            with_two = verified_per_minute(stack, two, two_numbers, 2)
    print(f"verification throughput, {args.versions} versions of hello each, production shape")
    print(f"  one worker process   {with_one:6.1f} plugins/min")
    print(f"  two worker processes {with_two:6.1f} plugins/min")
    print(f"  ratio {with_two / with_one:.2f}x   (target >= 1.70x on 2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
