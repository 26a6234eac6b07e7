"""Benchmark: what the sandboxed host costs over bare wasmtime-py, and what the cache saves.

1. Time per ``invoke`` of the ``hello`` example (``greet``) through ``client.host`` (fresh store,
   fuel, epoch deadline, store limits, sandbox, audit log) against the same component
   instantiated and called with bare wasmtime-py and a fresh store (trivial host functions).
   Target: ≤ 1.3x.
2. A cold load of the component from the compiled cache against a compile from bytes, both
   through a new ``PluginHost`` (as after a process restart). Target: ≥ 10x faster.

Run: ``make bench`` (or ``python bench/host_overhead.py [--iterations N]``). Prints ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import wasmtime
from wasmtime.component import Component, Linker, Variant

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._plugins import build_examples
from client.host import HostSettings, PluginHost, RateLimit

TOOL = "greet"
INPUT = '{"name": "Oslo"}'


def per_call(fn: Callable[[], object], iterations: int, rounds: int = 7) -> float:
    """Median over ``rounds`` of the mean seconds per call of ``fn``."""
    for _ in range(max(10, iterations // 10)):
        fn()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(iterations):
            fn()
        samples.append((time.perf_counter() - started) / iterations)
    return statistics.median(samples)


def paired(
    a: Callable[[], object], b: Callable[[], object], iterations: int, rounds: int = 15
) -> tuple[float, float, float]:
    """Seconds per call of ``a`` and ``b`` and the median of their per-round ratios.

    The two alternate round by round, so drift in the machine's speed (other processes, CPU
    frequency) weighs on both alike instead of on whichever ran second.
    """
    for _ in range(max(10, iterations // 10)):
        a()
        b()
    a_samples, b_samples, ratios = [], [], []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(iterations):
            a()
        a_s = (time.perf_counter() - started) / iterations
        started = time.perf_counter()
        for _ in range(iterations):
            b()
        b_s = (time.perf_counter() - started) / iterations
        a_samples.append(a_s)
        b_samples.append(b_s)
        ratios.append(a_s / b_s)
    return statistics.median(a_samples), statistics.median(b_samples), statistics.median(ratios)


def bare_invoker(component_bytes: bytes) -> Callable[[], object]:
    """hello with bare wasmtime-py: default engine, fresh store per call, no-op host functions."""
    engine = wasmtime.Engine()
    component = Component(engine, component_bytes)
    linker = Linker(engine)
    with linker.root() as root, root.add_instance("clawft:plugin/host@0.1.0") as host:
        host.add_func("http-request", lambda _s, *_a: Variant("err", "no network"))
        host.add_func("read-file", lambda _s, _p: Variant("err", "no files"))
        host.add_func("write-file", lambda _s, _p, _c: "no files")
        host.add_func("get-env", lambda _s, _n: None)
        host.add_func("log", lambda _s, _level, _message: None)
    tool = component.get_export_index("clawft:plugin/tool@0.1.0")
    invoke = component.get_export_index("invoke", instance=tool)
    assert invoke is not None

    def call() -> object:
        store = wasmtime.Store(engine)
        instance = linker.instantiate(store, component)
        func = instance.get_func(store, invoke)
        assert func is not None
        result = func(store, TOOL, INPUT)
        func.post_return(store)
        return result

    return call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        built = build_examples(work / "plugins")
        component_path = next((built["hello"]).glob("*.wasm"))
        data = component_path.read_bytes()

        # 1. invoke overhead. Every log line goes through the full sandbox path (rate limit
        # high enough never to drop, audit entry, sink), as in a quiet production call.
        settings = HostSettings(log_rate=RateLimit(per_second=1e9, burst=10**9))
        plugin = PluginHost(settings, log_sink=lambda *_: None).load(component_path)
        assert plugin.invoke(TOOL, INPUT) == '{"greeting":"Hello, Oslo!"}'
        bare = bare_invoker(data)
        host_s, bare_s, invoke_ratio = paired(
            lambda: plugin.invoke(TOOL, INPUT), bare, max(1, args.iterations // 5)
        )

        # 2. cold load: compile from bytes vs load from the compiled cache, each in a new host.
        cache = work / "cache"
        PluginHost(HostSettings(cache_dir=cache)).load(component_path)  # fill the cache
        load_iterations = max(20, args.iterations // 20)

        def cold_compile() -> object:
            return PluginHost(HostSettings(cache_dir=None)).load(component_path)

        def cold_cached() -> object:
            loaded = PluginHost(HostSettings(cache_dir=cache)).load(component_path)
            assert loaded.compiled.from_cache
            return loaded

        compile_s = per_call(cold_compile, load_iterations, rounds=5)
        cached_s = per_call(cold_cached, load_iterations, rounds=5)

    cache_speedup = compile_s / cached_s
    print(f"component: hello ({len(data):,} bytes), tool {TOOL}")
    print(f"invoke via client.host     {host_s * 1e6:9.1f} us/call")
    print(f"invoke via bare wasmtime   {bare_s * 1e6:9.1f} us/call")
    print(f"invoke overhead ratio      {invoke_ratio:9.2f}x   (target <= 1.30x)")
    print(f"load, compile from bytes   {compile_s * 1e3:9.2f} ms")
    print(f"load, from compiled cache  {cached_s * 1e3:9.2f} ms")
    print(f"cached load speed-up       {cache_speedup:9.1f}x   (target >= 10x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
