"""Benchmark: what the sandboxed host costs over bare wasmtime-py, on a small and a large plugin.

Every figure is measured for ``hello`` (the 6 KB example, tool ``greet``) and ``heavy``
(``bench/assets/heavy``: ~2,600 generated functions, ~226 KiB, near the size budget; tool and
input from its manifest's first test vector):

1. Time per ``invoke`` through ``client.host`` (fresh store, fuel, epoch deadline, store
   limits, sandbox, audit log) against the same component instantiated and called with bare
   wasmtime-py and a fresh store (trivial host functions). Target: <= 1.15x.
2. A load from the compiled cache, cold (a new ``PluginHost``, as after a restart) and warm (the
   same host loading the same file again), against reading the same compiled artifact
   (``Component.serialize`` of a component compiled by the host's engine) from a file and
   ``Component.deserialize`` with bare wasmtime-py. Target: <= 1.5x. Also the compile from
   bytes, and the cached load's speed-up over it.
3. Agent start: a new Python process loading 50 plugins (50 copies of the component, each with
   a custom section of its own, so 50 distinct digests and cache entries) from a warm cache,
   against a new process reading and deserializing the same 50 artifacts. Timed inside each
   child from before the first load to after the last (no interpreter start, no imports).

Paired measurements alternate round by round so machine drift weighs on both sides alike.

Run: ``make bench`` (or ``python bench/host_overhead.py [--plugin hello|heavy] [--round-ms N]``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import wasmtime
from wasmtime.component import Component, Linker, Variant

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._plugins import build_bench_assets, build_examples, with_custom_section
from client.host import HostSettings, PluginHost, RateLimit
from client.manifest import MANIFEST_FILE_NAME, load_manifest

PLUGINS = ("hello", "heavy")
HELLO_CALL = ("greet", '{"name": "Oslo"}')
AGENT_PLUGINS = 50
AGENT_ROUNDS = 4
COPY_SECTION = "clawft-bench-copy"


# -- timing helpers --------------------------------------------------------------------------
def calibrate(fn: Callable[[], object], round_s: float) -> int:
    """Calls of ``fn`` that take about ``round_s`` (at least one); warms ``fn`` up as well."""
    calls, started = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= round_s / 4 or calls >= 1000:
            return max(1, math.ceil(round_s / (elapsed / calls)))


def per_call(
    fn: Callable[[], object], iterations: int, rounds: int = 7, warmup: int | None = None
) -> float:
    """Median over ``rounds`` of the mean seconds per call of ``fn``."""
    for _ in range(max(10, iterations // 10) if warmup is None else warmup):
        fn()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(iterations):
            fn()
        samples.append((time.perf_counter() - started) / iterations)
    return statistics.median(samples)


def paired(
    a: Callable[[], object],
    b: Callable[[], object],
    iterations: int,
    rounds: int = 15,
    warmup: int | None = None,
) -> tuple[float, float, float]:
    """Seconds per call of ``a`` and ``b`` and the median of their per-round ratios.

    The two alternate round by round, so drift in the machine's speed (other processes, CPU
    frequency) weighs on both alike instead of on whichever ran second.
    """
    for _ in range(max(10, iterations // 10) if warmup is None else warmup):
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


# -- baselines -------------------------------------------------------------------------------
def bare_invoker(component_bytes: bytes, tool: str, input_json: str) -> Callable[[], object]:
    """The component with bare wasmtime-py: default engine, fresh store per call, no-op host
    functions. Each call returns what ``invoke`` returned (a result variant)."""
    engine = wasmtime.Engine()
    component = Component(engine, component_bytes)
    linker = Linker(engine)
    with linker.root() as root, root.add_instance("clawft:plugin/host@0.1.0") as host:
        host.add_func("http-request", lambda _s, *_a: Variant("err", "no network"))
        host.add_func("read-file", lambda _s, _p: Variant("err", "no files"))
        host.add_func("write-file", lambda _s, _p, _c: "no files")
        host.add_func("get-env", lambda _s, _n: None)
        host.add_func("log", lambda _s, _level, _message: None)
    tool_index = component.get_export_index("clawft:plugin/tool@0.1.0")
    invoke = component.get_export_index("invoke", instance=tool_index)
    assert invoke is not None

    def call() -> object:
        store = wasmtime.Store(engine)
        instance = linker.instantiate(store, component)
        func = instance.get_func(store, invoke)
        assert func is not None
        result = func(store, tool, input_json)
        func.post_return(store)
        return result

    return call


def bare_deserializer(engine: wasmtime.Engine, artifact: Path) -> Callable[[], object]:
    """Read a compiled artifact from its file and deserialize it with bare wasmtime-py."""

    def load() -> object:
        return Component.deserialize(engine, artifact.read_bytes())

    return load


# -- the three measurements ------------------------------------------------------------------
@dataclass
class Figures:
    name: str
    size: int
    artifact_size: int
    call: tuple[str, str]
    invoke_host_s: float
    invoke_bare_s: float
    invoke_ratio: float
    compile_s: float
    deserialize_s: float
    cold_s: float
    cold_ratio: float
    warm_s: float
    warm_ratio: float
    agent_host_s: float
    agent_bare_s: float
    agent_ratio: float


def the_call(name: str, plugin_dir: Path) -> tuple[str, str]:
    """(tool, input) to invoke: hello's greeting, else the manifest's first test vector."""
    if name == "hello":
        return HELLO_CALL
    manifest = load_manifest(plugin_dir / MANIFEST_FILE_NAME)
    first = manifest.tests[0]
    assert first.expect == "ok", f"{name}: the first test vector must expect ok"
    return first.tool, first.input


def measure(name: str, plugin_dir: Path, work: Path, round_s: float) -> Figures:
    manifest = load_manifest(plugin_dir / MANIFEST_FILE_NAME)
    component_path = plugin_dir / manifest.component
    data = component_path.read_bytes()
    tool, input_json = the_call(name, plugin_dir)

    # 1. invoke overhead. Every log line goes through the full sandbox path (rate limit high
    # enough never to drop, audit entry, sink), as in a quiet production call.
    settings = HostSettings(log_rate=RateLimit(per_second=1e9, burst=10**9))
    plugin = PluginHost(settings, log_sink=lambda *_: None).load(component_path)
    bare = bare_invoker(data, tool, input_json)
    expected = bare()
    assert getattr(expected, "tag", None) == "ok", f"{name}: bare {tool} failed: {expected!r}"
    assert plugin.invoke(tool, input_json) == getattr(expected, "payload", None)

    def host_invoke() -> object:
        return plugin.invoke(tool, input_json)

    invoke_iterations = calibrate(host_invoke, round_s)
    invoke_host_s, invoke_bare_s, invoke_ratio = paired(host_invoke, bare, invoke_iterations)

    # 2. loads. The baseline artifact: the host's own compile of the component, serialized.
    cache = work / f"cache-{name}"
    filled = PluginHost(HostSettings(cache_dir=cache)).load(component_path)
    assert not filled.compiled.from_cache
    engine = filled.host.engine.engine
    artifact = work / f"{name}.cwasm"
    artifact.write_bytes(bytes(filled.compiled.component.serialize()))
    deserialize = bare_deserializer(engine, artifact)

    def cold_cached() -> object:
        loaded = PluginHost(HostSettings(cache_dir=cache)).load(component_path)
        assert loaded.compiled.from_cache
        return loaded

    warm_host = PluginHost(HostSettings(cache_dir=cache))
    warm_host.load(component_path)

    def warm_cached() -> object:
        return warm_host.load(component_path)

    load_iterations = calibrate(cold_cached, round_s)
    cold_s, cold_bare_s, cold_ratio = paired(cold_cached, deserialize, load_iterations)
    warm_s, warm_bare_s, warm_ratio = paired(warm_cached, deserialize, load_iterations)

    def cold_compile() -> object:
        return PluginHost(HostSettings(cache_dir=None)).load(component_path)

    compile_iterations = calibrate(cold_compile, round_s)
    compile_s = per_call(cold_compile, compile_iterations, rounds=3, warmup=0)

    # 3. agent start.
    agent_host_s, agent_bare_s, agent_ratio = agent_start(name, plugin_dir, data, work)

    return Figures(
        name=name,
        size=len(data),
        artifact_size=artifact.stat().st_size,
        call=(tool, input_json),
        invoke_host_s=invoke_host_s,
        invoke_bare_s=invoke_bare_s,
        invoke_ratio=invoke_ratio,
        compile_s=compile_s,
        deserialize_s=statistics.median((cold_bare_s, warm_bare_s)),
        cold_s=cold_s,
        cold_ratio=cold_ratio,
        warm_s=warm_s,
        warm_ratio=warm_ratio,
        agent_host_s=agent_host_s,
        agent_bare_s=agent_bare_s,
        agent_ratio=agent_ratio,
    )


def agent_start(name: str, plugin_dir: Path, data: bytes, work: Path) -> tuple[float, float, float]:
    """Seconds to load ``AGENT_PLUGINS`` distinct copies of the component in a new process,
    through the host from a warm cache and bare; and the median of the per-round ratios."""
    manifest_path = plugin_dir / MANIFEST_FILE_NAME
    component_name = load_manifest(manifest_path).component
    root = work / f"agent-{name}"
    components: list[Path] = []
    for index in range(AGENT_PLUGINS):
        copy_dir = root / "plugins" / f"{index:02d}"
        copy_dir.mkdir(parents=True)
        shutil.copyfile(manifest_path, copy_dir / MANIFEST_FILE_NAME)
        copy = with_custom_section(data, COPY_SECTION, str(index).encode())
        (copy_dir / component_name).write_bytes(copy)
        components.append(copy_dir / component_name)
    digests = {hashlib.sha256(path.read_bytes()).digest() for path in components}
    assert len(digests) == AGENT_PLUGINS

    # Fill the cache through the host's own compile (wasmtime already compiles on every core,
    # so this is serial), keeping each compiled component's serialized artifact for the bare
    # baseline. For heavy this is most of the benchmark's run time.
    cache = root / "cache"
    filler = PluginHost(HostSettings(cache_dir=cache))
    artifacts = [root / "artifacts" / f"{index:02d}.cwasm" for index in range(AGENT_PLUGINS)]
    artifacts[0].parent.mkdir()
    for component, artifact in zip(components, artifacts, strict=True):
        loaded = filler.load(component)
        assert not loaded.compiled.from_cache
        artifact.write_bytes(bytes(loaded.compiled.component.serialize()))
    del filler, loaded

    plan = root / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "cache": str(cache),
                "components": [str(p) for p in components],
                "artifacts": [str(p) for p in artifacts],
            }
        )
    )
    host_samples, bare_samples, ratios = [], [], []
    for _ in range(AGENT_ROUNDS):
        host_s = run_child("host", plan)
        bare_s = run_child("bare", plan)
        host_samples.append(host_s)
        bare_samples.append(bare_s)
        ratios.append(host_s / bare_s)
    return (
        statistics.median(host_samples),
        statistics.median(bare_samples),
        statistics.median(ratios),
    )


def run_child(kind: str, plan: Path) -> float:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", kind, str(plan)],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds: float = json.loads(done.stdout)["seconds"]
    return seconds


def child(kind: str, plan_path: Path) -> int:
    """One agent start, in this (new) process: print the seconds the loads took."""
    plan = json.loads(plan_path.read_text())
    if kind == "host":
        host = PluginHost(HostSettings(cache_dir=Path(plan["cache"])))
        components = [Path(p) for p in plan["components"]]
        plugins = []
        started = time.perf_counter()
        for path in components:
            plugins.append(host.load(path))
        elapsed = time.perf_counter() - started
        assert all(plugin.compiled.from_cache for plugin in plugins)
        loads = len(plugins)
    else:
        # The host's engine (its artifacts need one configured alike), none of the host.
        engine = PluginHost().engine.engine
        artifacts = [Path(p) for p in plan["artifacts"]]
        loaded = []
        started = time.perf_counter()
        for path in artifacts:
            loaded.append(Component.deserialize(engine, path.read_bytes()))
        elapsed = time.perf_counter() - started
        loads = len(loaded)
    print(json.dumps({"seconds": elapsed, "loads": loads}))
    return 0


# -- report ----------------------------------------------------------------------------------
def report(results: list[Figures]) -> None:
    width = 16
    head = "".join(f"{r.name:>{width}}" for r in results)
    rows: list[tuple[str, Callable[[Figures], str]]] = [
        ("component bytes", lambda r: f"{r.size:,}"),
        ("compiled artifact bytes", lambda r: f"{r.artifact_size:,}"),
        ("tool", lambda r: r.call[0]),
        ("invoke via client.host", lambda r: f"{r.invoke_host_s * 1e6:.1f} us"),
        ("invoke via bare wasmtime", lambda r: f"{r.invoke_bare_s * 1e6:.1f} us"),
        ("invoke overhead ratio", lambda r: f"{r.invoke_ratio:.2f}x"),
        ("load, compile from bytes", lambda r: f"{r.compile_s * 1e3:.2f} ms"),
        ("load, bare read+deserialize", lambda r: f"{r.deserialize_s * 1e3:.2f} ms"),
        ("load from cache, cold", lambda r: f"{r.cold_s * 1e3:.2f} ms"),
        ("  cold / bare", lambda r: f"{r.cold_ratio:.2f}x"),
        ("load from cache, warm", lambda r: f"{r.warm_s * 1e3:.3f} ms"),
        ("  warm / bare", lambda r: f"{r.warm_ratio:.2f}x"),
        ("cached load speed-up vs compile", lambda r: f"{r.compile_s / r.cold_s:.1f}x"),
        (f"agent start, {AGENT_PLUGINS} plugins, host", lambda r: f"{r.agent_host_s * 1e3:.1f} ms"),
        (f"agent start, {AGENT_PLUGINS} plugins, bare", lambda r: f"{r.agent_bare_s * 1e3:.1f} ms"),
        ("  agent start host / bare", lambda r: f"{r.agent_ratio:.2f}x"),
    ]
    label = 36
    print(f"{'':<{label}}{head}")
    for title, cell in rows:
        print(f"{title:<{label}}" + "".join(f"{cell(r):>{width}}" for r in results))
    print("targets: invoke overhead <= 1.15x; cold and warm cached load <= 1.50x of bare")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--plugin", choices=(*PLUGINS, "both"), default="both")
    parser.add_argument(
        "--round-ms", type=float, default=50.0, help="length of one measured round (default 50)"
    )
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PLAN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], Path(args.child[1]))
    names = PLUGINS if args.plugin == "both" else (args.plugin,)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        built = {**build_examples(work / "plugins"), **build_bench_assets(work / "plugins")}
        for name in names:
            scratch = work / f"work-{name}"
            scratch.mkdir()
            results.append(measure(name, built[name], scratch, args.round_ms / 1e3))
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
