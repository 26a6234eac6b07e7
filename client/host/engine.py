"""The process's one wasmtime engine, and the background ticker that drives its epoch.

Fuel meters CPU per call; the epoch (advanced every ``tick_s`` by one daemon thread) enforces
wall-clock timeouts: a store's deadline is a number of ticks after the current epoch. An engine
built without epoch interruption has no ticker, and its host needs a
:class:`~client.host.timeouts.CallWatch` to enforce timeouts instead.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from importlib.metadata import version
from typing import Literal

import wasmtime
from wasmtime import _ffi as wasmtime_ffi

MAX_WASM_STACK = 512 * 1024

WASMTIME_STRATEGY_WINCH = 2
"""``WASMTIME_STRATEGY_WINCH`` of wasmtime's C API (``wasmtime/config.h``). wasmtime-py's
``Config.strategy`` names only ``auto`` and ``cranelift``, so Winch is chosen through the C
function it wraps; an engine that was not built with Winch fails to start, it never silently
falls back."""

Compiler = Literal["cranelift", "winch"]


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Engine configuration; part of the compiled-component cache key."""

    consume_fuel: bool = True
    epoch_interruption: bool = True
    max_wasm_stack: int = MAX_WASM_STACK
    cranelift_opt_level: str = "speed"
    native_unwind_info: bool = True
    """``.eh_frame`` for the system unwinder and profilers; wasmtime's own traps and backtraces
    do not need it (on Linux), so an engine that compiles once and runs briefly may skip it."""
    compiler: Compiler = "cranelift"
    """Cranelift, the optimising compiler, or Winch, wasmtime's single-pass baseline compiler
    (Tier 1 on x86_64): about half the CPU per compile for slower code, for an engine that
    compiles every component once and runs it briefly."""
    parallel_compilation: bool = True
    """Compile a component's functions on every core (wasmtime's default), or on the calling
    thread alone, so that one compile takes one core however many run side by side. Not in
    the fingerprint: it changes how a component is compiled, not what comes out."""

    def fingerprint(self) -> str:
        """A short digest of the wasmtime version and this configuration."""
        text = (
            f"wasmtime={version('wasmtime')};fuel={self.consume_fuel};"
            f"epoch={self.epoch_interruption};stack={self.max_wasm_stack};"
            f"opt={self.cranelift_opt_level};unwind={self.native_unwind_info};"
            f"compiler={self.compiler}"
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def config(self) -> wasmtime.Config:
        """A wasmtime configuration with these options (component model on)."""
        config = wasmtime.Config()
        config.consume_fuel = self.consume_fuel
        config.epoch_interruption = self.epoch_interruption
        config.max_wasm_stack = self.max_wasm_stack
        config.cranelift_opt_level = self.cranelift_opt_level
        config.native_unwind_info = self.native_unwind_info
        config.parallel_compilation = self.parallel_compilation
        config.wasm_component_model = True
        if self.compiler == "winch":
            wasmtime_ffi.wasmtime_config_strategy_set(config.ptr(), WASMTIME_STRATEGY_WINCH)
        return config


class EpochTicker:
    """A daemon thread that increments the engine's epoch every ``tick_s`` seconds."""

    def __init__(self, engine: wasmtime.Engine, tick_s: float) -> None:
        self.engine = engine
        self.tick_s = tick_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clawft-epoch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            self.engine.increment_epoch()

    def ticks_for(self, seconds: float) -> int:
        """Epoch ticks that cover ``seconds`` (at least one)."""
        return max(1, int(seconds / self.tick_s + 0.999))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)


class PluginEngine:
    """The engine every plugin of this process is compiled and run with."""

    def __init__(self, options: EngineOptions | None = None, *, tick_s: float = 0.01) -> None:
        self.options = options or EngineOptions()
        self.fingerprint = self.options.fingerprint()
        """Digest of the wasmtime version and configuration (the compiled cache's key)."""
        self.engine = wasmtime.Engine(self.options.config())
        self.ticker = EpochTicker(self.engine, tick_s) if self.options.epoch_interruption else None


_shared: PluginEngine | None = None
_shared_lock = threading.Lock()


def shared_engine(tick_s: float = 0.01) -> PluginEngine:
    """The process-wide engine (created on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = PluginEngine(tick_s=tick_s)
        return _shared
