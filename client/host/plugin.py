"""``PluginHost`` loads plugins; a ``Plugin`` runs its tools in a fresh store per call.

Loading checks, in order: the size budget (before compiling anything), the component's
structure, its imports (:class:`ImportPolicy`) and exports, then compiles once (or takes the
compiled form from the disk cache) and builds the plugin's linker. Every call gets a new
``Store`` with its fuel, epoch deadline and store limits, so no state survives between calls
(on an engine without epochs, the host's :class:`~client.host.timeouts.CallWatch` holds the
deadline instead).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime.component import Component, ExportIndex, Linker

from client.decoding import Undecodable, decode_json
from client.host.audit import AuditLog
from client.host.budget import check_gzipped_size, check_plugin_directory, check_raw_size
from client.host.cache import CompiledComponentCache
from client.host.calls import ExportCall
from client.host.engine import PluginEngine, shared_engine
from client.host.errors import (
    ForbiddenImport,
    HostError,
    InvalidInput,
    ManifestError,
    MissingExport,
    NotAComponent,
    PluginError,
    SizeBudgetExceeded,
    TimeoutExceeded,
)
from client.host.functions import HostFunctions
from client.host.imports import ComponentShape, find_tool_export, judge_shape
from client.host.limits import ResourceLimits, resolve_limits
from client.host.sandbox import LOG_LEVELS, CallOutOfTime, LogSink, PluginSandbox
from client.host.settings import HostSettings
from client.host.timeouts import CallWatch, timeout_message
from client.host.traps import classify_trap
from client.host.world import HOST_INTERFACE, is_world_interface
from client.manifest import (
    MANIFEST_FILE_NAME,
    ManifestInvalid,
    PluginManifest,
    parse_manifest,
    read_manifest_bytes,
)

_log = logging.getLogger("clawft.plugin")

WASM_MAGIC = b"\x00asm"
CORE_MODULE_VERSION = b"\x01\x00\x00\x00"
COMPONENT_VERSION = b"\x0d\x00\x01\x00"
MAX_TOOL_NAME = 128
MEMORY_CACHE_ENTRIES = 64
"""Compiled components a host with a disk cache keeps in memory (the most recently loaded)."""


def default_log_sink(plugin: str, level: int, message: str) -> None:
    python_level = (logging.DEBUG, logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)
    _log.log(python_level[level], "[%s] %s: %s", plugin, LOG_LEVELS[level], message)


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What one tool call returned, and what it cost."""

    output: str
    fuel_used: int
    duration_s: float


@dataclass(frozen=True, slots=True)
class CompiledComponent:
    """A compiled component with the facts checked about it."""

    component: Component
    shape: ComponentShape
    digest: str
    size: int
    from_cache: bool


class PluginHost:
    """Loads and runs plugins in the sandbox. One per process is typical; it is thread-safe."""

    def __init__(
        self,
        settings: HostSettings | None = None,
        *,
        engine: PluginEngine | None = None,
        log_sink: LogSink = default_log_sink,
        call_watch: CallWatch | None = None,
    ) -> None:
        self.settings = settings or HostSettings()
        self.engine = engine or shared_engine(self.settings.epoch_tick_s)
        if self.engine.ticker is None and call_watch is None:
            raise ValueError(
                "this engine has no epoch interruption, so nothing would stop a call at its "
                "timeout: pass a call_watch, or use an engine with epoch_interruption=True"
            )
        self.call_watch = call_watch
        """Enforces timeouts in place of epochs (an engine without them), or adds to them."""
        self.log_sink = log_sink
        self.cache = (
            CompiledComponentCache(
                self.settings.cache_dir,
                engine=self.engine.engine,
                fingerprint=self.engine.fingerprint,
            )
            if self.settings.cache_dir is not None
            else None
        )
        self._memory: OrderedDict[str, tuple[CompiledComponent, int | None]] = OrderedDict()
        self._manifests: OrderedDict[bytes, PluginManifest] = OrderedDict()
        self._memory_lock = threading.Lock()

    # -- compiling -----------------------------------------------------------------------
    def compile(self, data: bytes) -> CompiledComponent:
        """Check the size budget and structure of ``data`` and compile it, or take it from
        the host's memory or disk cache, where the checks that depend only on the bytes were
        answered when it was compiled (the budget is still applied to their answers)."""
        budget = self.settings.size_budget
        check_raw_size(len(data), budget)
        check_component_header(data)
        digest = hashlib.sha256(data).hexdigest()
        remembered = self._remembered(digest)
        if remembered is not None:
            compiled, gzipped = remembered
            check_gzipped_size(data, gzipped, budget)
            return compiled
        cached = self.cache.load(digest) if self.cache is not None else None
        if cached is not None:
            facts = cached.facts
            check_gzipped_size(data, facts.gzipped_size, budget)
            compiled = CompiledComponent(cached.component, facts.shape, digest, len(data), True)
            self._remember(compiled, facts.gzipped_size)
            return compiled
        gzipped = check_gzipped_size(data, None, budget)
        try:
            component = Component(self.engine.engine, data)
        except wasmtime.WasmtimeError as exc:
            raise NotAComponent(f"not a valid WebAssembly component: {_first_line(exc)}") from None
        if self.cache is not None:
            facts = self.cache.store(digest, component, size=len(data), gzipped_size=gzipped)
            shape = facts.shape
        else:
            shape = ComponentShape.of(component, self.engine.engine)
        compiled = CompiledComponent(component, shape, digest, len(data), False)
        self._remember(compiled, gzipped)
        return compiled

    def _remembered(self, digest: str) -> tuple[CompiledComponent, int | None] | None:
        with self._memory_lock:
            found = self._memory.get(digest)
            if found is not None:
                self._memory.move_to_end(digest)
        if found is None:
            return None
        compiled, gzipped = found
        return replace(compiled, from_cache=True), gzipped

    def _remember(self, compiled: CompiledComponent, gzipped: int | None) -> None:
        """Keep the newest compiled components in memory (a host with a disk cache only: one
        that loads plugins it has seen before), so loading one again costs one hash."""
        if self.cache is None:
            return
        with self._memory_lock:
            self._memory[compiled.digest] = (compiled, gzipped)
            self._memory.move_to_end(compiled.digest)
            while len(self._memory) > MEMORY_CACHE_ENTRIES:
                self._memory.popitem(last=False)

    # -- loading -------------------------------------------------------------------------
    def load(
        self,
        component_path: Path,
        *,
        manifest: PluginManifest | Path | None = None,
        data_dir: Path | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> Plugin:
        """Load a plugin from its component file.

        ``manifest``: a parsed manifest, a path to one, or ``None`` to use the
        ``clawft-plugin.toml`` beside the component (a component without one runs with no
        permissions at all). ``data_dir``: the plugin's own directory for ``read-file`` and
        ``write-file``. ``environment``: the only variables ``get-env`` can ever see.
        """
        parsed = self._manifest_for(component_path, manifest)
        check_plugin_directory(component_path.parent, self.settings.size_budget)
        data = _read_bounded(component_path, self.settings.size_budget.component_bytes)
        return self.load_bytes(data, parsed, data_dir=data_dir, environment=environment or {})

    def load_bytes(
        self,
        data: bytes,
        manifest: PluginManifest,
        *,
        data_dir: Path | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> Plugin:
        """Load a plugin from component bytes and its parsed manifest."""
        return self.load_compiled(
            self.compile(data), manifest, data_dir=data_dir, environment=environment
        )

    def load_compiled(
        self,
        compiled: CompiledComponent,
        manifest: PluginManifest,
        *,
        data_dir: Path | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> Plugin:
        """Check an already compiled component's imports and exports and make it a plugin."""
        judged = judge_shape(compiled.shape)
        if judged.imports:
            raise ForbiddenImport(judged.imports)
        if judged.exports:
            raise MissingExport(
                "the component does not implement the plugin world's tool interface: "
                + "; ".join(judged.exports)
            )
        limits = resolve_limits(
            manifest.resources.as_request(), self.settings.plugin_resources.get(manifest.name)
        )
        return Plugin(
            self,
            compiled,
            manifest,
            limits,
            data_dir=data_dir,
            environment=environment or {},
        )

    def _manifest_for(
        self, component_path: Path, manifest: PluginManifest | Path | None
    ) -> PluginManifest:
        if isinstance(manifest, PluginManifest):
            parsed = manifest
        else:
            path = manifest if manifest is not None else component_path.parent / MANIFEST_FILE_NAME
            if manifest is None and not path.exists():
                return PluginManifest(
                    name=f"local/{_slug(component_path.stem)}",
                    version="0.0.0",
                    component=component_path.name,
                )
            try:
                parsed = self._parsed_manifest(path)
            except ManifestInvalid as exc:
                raise ManifestError(str(exc)) from None
        if parsed.component != component_path.name:
            raise ManifestError(
                f"the manifest of {parsed.name} names component {parsed.component!r}, "
                f"not {component_path.name!r}; run the component the manifest describes"
            )
        return parsed

    def _parsed_manifest(self, path: Path) -> PluginManifest:
        """The manifest at ``path``; the same bytes parsed before are not parsed again (TOML
        costs more than the rest of loading a small plugin)."""
        data = read_manifest_bytes(path)
        with self._memory_lock:
            parsed = self._manifests.get(data)
        if parsed is not None:
            return parsed
        parsed = parse_manifest(data, source=str(path))
        with self._memory_lock:
            self._manifests[data] = parsed
            while len(self._manifests) > MEMORY_CACHE_ENTRIES:
                self._manifests.popitem(last=False)
        return parsed


class Plugin:
    """A loaded plugin: compiled component, linker, sandbox and audit log, reused per call."""

    def __init__(
        self,
        host: PluginHost,
        compiled: CompiledComponent,
        manifest: PluginManifest,
        limits: ResourceLimits,
        *,
        data_dir: Path | None,
        environment: Mapping[str, str],
    ) -> None:
        self.host = host
        self.compiled = compiled
        self.manifest = manifest
        self.name = manifest.name
        self.limits = limits
        self.audit = AuditLog(
            manifest.name,
            max_entries=host.settings.max_audit_entries,
            max_denied_entries=host.settings.max_denied_audit_entries,
        )
        self.sandbox = PluginSandbox(
            manifest.name,
            manifest.permissions,
            host.settings,
            data_dir=data_dir,
            environment=environment,
            log_sink=host.log_sink,
        )
        self.functions = HostFunctions(self.sandbox, self.audit)
        self._uses_wasi = any(name.startswith("wasi:") for name in compiled.shape.imports)
        self._linker = self._build_linker()
        self._describe, self._invoke = _tool_functions(compiled)
        self._calls = {"describe": ExportCall(), "invoke": ExportCall()}

    def _build_linker(self) -> Linker:
        linker = Linker(self.host.engine.engine)
        if self._uses_wasi:
            linker.add_wasip2()
        host_imports = [
            name for name in self.compiled.shape.imports if is_world_interface(name, HOST_INTERFACE)
        ]
        with linker.root() as root:
            for name in host_imports:
                with root.add_instance(name) as instance:
                    self.functions.define(instance)
        return linker

    @property
    def digest(self) -> str:
        """sha256 of the component bytes."""
        return self.compiled.digest

    def describe(self) -> str:
        """The plugin's JSON description of its tools."""
        return self._call(self._describe, "describe", "describe", ()).output

    def invoke(self, tool: str, input_json: str) -> str:
        """Run ``tool`` on ``input_json``; the tool's JSON output, or an error raised."""
        return self.call(tool, input_json).output

    def call(self, tool: str, input_json: str) -> CallOutcome:
        """Like :meth:`invoke`, with the fuel and time the call used."""
        if not tool or len(tool) > MAX_TOOL_NAME:
            raise InvalidInput(f"tool name must be 1 to {MAX_TOOL_NAME} characters")
        if len(input_json.encode("utf-8")) > self.host.settings.max_input_bytes:
            raise InvalidInput(f"input is larger than {self.host.settings.max_input_bytes:,} bytes")
        try:
            decode_json(input_json, what="input")
        except Undecodable as exc:
            raise InvalidInput(str(exc)) from None
        outcome = self._call(self._invoke, "invoke", f"tool {tool!r}", (tool, input_json))
        return outcome

    def _call(
        self, index: ExportIndex, export: str, what: str, args: tuple[Any, ...]
    ) -> CallOutcome:
        engine = self.host.engine
        limits = self.limits
        store = wasmtime.Store(engine.engine)
        store.set_fuel(limits.fuel)
        if engine.ticker is not None:
            store.set_epoch_deadline(engine.ticker.ticks_for(limits.timeout_s))
        store.set_limits(
            memory_size=limits.memory_bytes,
            table_elements=limits.table_elements,
            instances=limits.instances,
            tables=limits.tables,
            memories=limits.memories,
        )
        if self._uses_wasi:
            store.set_wasi(self._wasi_config())
        watch = self.host.call_watch
        started = time.monotonic()
        self.sandbox.begin_call(started + limits.timeout_s)
        if watch is not None:
            watch.arm(self.name, what, limits.timeout_s)
        try:
            instance = self._linker.instantiate(store, self.compiled.component)
            func = instance.get_func(store, index)
            if func is None:  # the exports were checked at load: this is a wasmtime fault
                raise HostError(f"{self.name} {what}: the loaded component lost its export")
            result = self._calls[export](store, func, *args)
            func.post_return(store)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            if self.sandbox.end_call():  # a host call found the call past its deadline
                raise TimeoutExceeded(timeout_message(self.name, what, limits.timeout_s)) from None
            raise classify_trap(str(exc), plugin=self.name, what=what, limits=limits) from None
        finally:
            if watch is not None:
                watch.disarm()
            self.sandbox.end_call()
        duration = time.monotonic() - started
        fuel_used = limits.fuel - store.get_fuel()
        output = self._unwrap(result, what)
        return CallOutcome(output=output, fuel_used=fuel_used, duration_s=duration)

    def _unwrap(self, result: Any, what: str) -> str:
        if isinstance(result, str):
            return result
        tag = getattr(result, "tag", None)
        payload = getattr(result, "payload", None)
        if tag == "ok" and isinstance(payload, str):
            return payload
        if tag == "err":
            raise PluginError(f"{self.name} {what} failed: {payload}")
        raise HostError(f"{self.name} {what} returned an unexpected value {result!r}")

    def _wasi_config(self) -> wasmtime.WasiConfig:
        """Inert WASI: no preopened directories, no environment, stdout/stderr into ``log``."""
        config = wasmtime.WasiConfig()
        config.stdout_custom = self._stream_to_log(2)
        config.stderr_custom = self._stream_to_log(3)
        return config

    def _stream_to_log(self, level: int) -> Any:
        limit = self.host.settings.max_log_bytes

        def write(data: bytes) -> None:
            # Cut before decoding: a plugin may hand over as much as its memory holds.
            text = data[: limit + 4].decode("utf-8", errors="replace").rstrip("\n")
            # wasmtime prints what a stream callback raises (onto stdout, which `run` answers
            # on), so a write past the deadline is dropped here; the epoch ends the call.
            with contextlib.suppress(CallOutOfTime):
                self.functions.log(None, level, text)

        return write


def _tool_functions(compiled: CompiledComponent) -> tuple[ExportIndex, ExportIndex]:
    """The export indices of ``describe`` and ``invoke`` of a component whose exports passed
    the shape gate."""
    tool_name = find_tool_export(compiled.shape)
    tool = None if tool_name is None else compiled.component.get_export_index(tool_name)
    describe = (
        None if tool is None else compiled.component.get_export_index("describe", instance=tool)
    )
    invoke = None if tool is None else compiled.component.get_export_index("invoke", instance=tool)
    if describe is None or invoke is None:
        raise MissingExport(
            "the component does not export describe and invoke of clawft:plugin/tool@0.1.x"
        )
    return describe, invoke


def check_component_header(data: bytes) -> None:
    """Tell a core module, garbage and a truncated file apart before compiling."""
    if len(data) < 8:
        raise NotAComponent(f"file is truncated: {len(data)} bytes is too short for WebAssembly")
    if data[:4] != WASM_MAGIC:
        raise NotAComponent("not WebAssembly: the file does not start with the \\0asm magic")
    if data[4:8] == CORE_MODULE_VERSION:
        raise NotAComponent(
            "this is a core WebAssembly module, not a component; build a component for the "
            "clawft:plugin world (e.g. `wasm-tools component new`)"
        )
    if data[4:8] != COMPONENT_VERSION:
        raise NotAComponent(
            f"unsupported WebAssembly version/layer {data[4:8].hex()}; expected a component "
            f"({COMPONENT_VERSION.hex()})"
        )


def _read_bounded(path: Path, budget: int) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(budget + 1)
    except OSError as exc:
        raise HostError(f"cannot read component {path}: {exc.strerror or exc}") from None
    if len(data) > budget:
        size = path.stat().st_size
        raise SizeBudgetExceeded("the component", size, budget)
    return data


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _slug(text: str) -> str:
    cleaned = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in text.lower())
    return cleaned.strip("-")[:63] or "plugin"
