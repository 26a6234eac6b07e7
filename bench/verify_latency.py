"""Benchmark: a full `verify` of a plugin against bare wasmtime-py doing the same work.

Baseline, in the same run: compile the component with bare wasmtime-py (default engine) and run
its describe() and its test vectors, each in a fresh store with no-op host functions. Measured:
`verify_plugin` on the same bytes (manifest, size budget, compile and run in the warm isolation
child, imports, exports, behaviour; no signature). Median of N runs each; the three alternate run
by run, and the median of the run-by-run ratios is printed too (it is steadier on a machine
whose speed drifts). Target: <= 1.5x.

A second baseline compiles with the verifier's own engine configuration (fuel metering, Winch
on one thread): the ratio against it is what the checks, the isolation child and the sandbox add.

The plugin is an example (``hello``, ``notes``, ``fetch``) or one of the benchmark's own
(``heavy``: ~226 KiB of generated code near the size budget, built from ``bench/assets``; a
compile of it takes about a second, so it runs 10 times unless ``--runs`` says otherwise).

Run: ``python bench/verify_latency.py [--runs N] [--plugin hello|notes|fetch|heavy]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import wasmtime
from wasmtime.component import Component, Linker, Variant

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._plugins import build_all_plugins
from client.manifest import load_manifest
from verifier import PluginUpload, verify_plugin
from verifier.isolation import IsolatedAnalyser
from verifier.isolation.child import VERIFIER_ENGINE
from verifier.settings import VerifierSettings

DEFAULT_RUNS = {"heavy": 10}
"""Runs for plugins whose compile takes long (the rest: 40)."""


def bare_compile_and_run(
    component_bytes: bytes, vectors: list[tuple[str, str]], *, metered: bool = False
) -> None:
    """Compile and run with bare wasmtime-py: the default engine, or (``metered``) one
    configured as the verifier's isolation child configures its own."""
    engine = wasmtime.Engine(VERIFIER_ENGINE.config()) if metered else wasmtime.Engine()
    component = Component(engine, component_bytes)
    linker = Linker(engine)
    with linker.root() as root, root.add_instance("clawft:plugin/host@0.1.0") as host:
        host.add_func("http-request", lambda _s, *_a: Variant("err", "offline"))
        host.add_func("read-file", lambda _s, _p: Variant("err", "no files"))
        host.add_func("write-file", lambda _s, _p, _c: None)
        host.add_func("get-env", lambda _s, _n: None)
        host.add_func("log", lambda _s, _level, _message: None)
    tool = component.get_export_index("clawft:plugin/tool@0.1.0")
    describe = component.get_export_index("describe", instance=tool)
    invoke = component.get_export_index("invoke", instance=tool)
    assert describe is not None and invoke is not None
    calls: list[tuple[object, tuple[str, ...]]] = [(describe, ())]
    calls += [(invoke, (name, data)) for name, data in vectors]
    for index, args in calls:
        store = wasmtime.Store(engine)
        if metered:
            store.set_fuel(10**9)
        instance = linker.instantiate(store, component)
        func = instance.get_func(store, index)  # type: ignore[arg-type]
        assert func is not None
        func(store, *args)
        func.post_return(store)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="runs of each (default 40; 10 for heavy)")
    parser.add_argument("--plugin", default="hello")
    args = parser.parse_args()
    run_count = args.runs or DEFAULT_RUNS.get(args.plugin, 40)
    with tempfile.TemporaryDirectory() as tmp:
        built = build_all_plugins(Path(tmp) / "plugins")
        if args.plugin not in built:
            parser.error(f"unknown plugin {args.plugin!r}; one of {', '.join(sorted(built))}")
        plugin_dir = built[args.plugin]
        manifest = load_manifest(plugin_dir / "clawft-plugin.toml")
        component_path = plugin_dir / manifest.component
        upload = PluginUpload(
            manifest=(plugin_dir / "clawft-plugin.toml").read_bytes(),
            component=component_path.read_bytes(),
            component_name=component_path.name,
        )
        vectors = [(t.tool, t.input) for t in manifest.tests]
        settings = VerifierSettings()
        analyser = IsolatedAnalyser(settings.isolation)
        try:
            first = verify_plugin(upload, settings=settings, analyser=analyser)  # warms the child
            assert first.verdict == "approved", first.failures
            # The three alternate run by run, so drift in the machine's speed weighs on all.
            samples: dict[str, list[float]] = {"verify": [], "bare": [], "metered": []}
            runs = {
                "verify": lambda: verify_plugin(upload, settings=settings, analyser=analyser),
                "bare": lambda: bare_compile_and_run(upload.component, vectors),
                "metered": lambda: bare_compile_and_run(upload.component, vectors, metered=True),
            }
            for _ in range(run_count):
                for name, run in runs.items():
                    started = time.perf_counter()
                    run()
                    samples[name].append(time.perf_counter() - started)
            verify_s, bare_s, metered_s = (
                statistics.median(samples[name]) for name in ("verify", "bare", "metered")
            )
            paired = statistics.median(
                v / b for v, b in zip(samples["verify"], samples["bare"], strict=True)
            )
        finally:
            analyser.close()
    print(f"plugin: {manifest.name} ({len(upload.component):,} bytes, {len(vectors)} vectors)")
    print(f"full verify (median)           {verify_s * 1e3:8.2f} ms")
    print(f"bare compile + vectors (median) {bare_s * 1e3:7.2f} ms")
    print(f"bare, verifier's engine (median) {metered_s * 1e3:6.2f} ms")
    print(f"verify latency ratio           {verify_s / bare_s:8.2f}x   (target <= 1.50x)")
    print(f"  median of run-by-run ratios  {paired:8.2f}x")
    print(f"  against the verifier's engine {verify_s / metered_s:7.2f}x   (what the checks add)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
