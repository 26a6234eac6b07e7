"""Calling a plugin's exported function with its types looked up once per plugin.

wasmtime-py's ``Func.__call__`` asks wasmtime for the function's type, and builds a Python
object for each parameter and for the result type, on every call. The types of ``describe``
and ``invoke`` are fixed once the plugin is loaded, so :class:`ExportCall` looks them up on
its first call and keeps them. Converting the values and entering wasm stay wasmtime-py's own
(``ValType.convert_to_c`` / ``convert_from_c``, the C API call, ``enter_wasm``): only the
lookups are saved. When the installed wasmtime-py lacks those pieces, it calls
``Func.__call__`` as before.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import wasmtime
from wasmtime.component import Func

try:
    from wasmtime import _ffi as ffi
    from wasmtime.component._enter import enter_wasm
    from wasmtime.component._types import ValType

    _PREPARED = all(
        hasattr(ffi, name)
        for name in (
            "wasmtime_component_val_t",
            "wasmtime_component_func_call",
            "wasmtime_component_val_delete",
        )
    )
except ImportError:  # pragma: no cover - another wasmtime-py layout: call as wasmtime-py does
    _PREPARED = False

__all__ = ["ExportCall"]


class ExportCall:
    """One exported function of a loaded plugin, called in any store of its engine."""

    def __init__(self) -> None:
        self._types: tuple[list[ValType], ValType | None] | None = None
        self._lock = threading.Lock()

    def __call__(self, store: wasmtime.Store, func: Func, *params: Any) -> Any:
        if not _PREPARED:
            return func(store, *params)
        types = self._types
        if types is None:
            types = self._look_up(store, func)
        param_types, result_type = types
        if len(params) != len(param_types):
            raise TypeError(f"{len(params)} parameters given, {len(param_types)} expected")
        values = (ffi.wasmtime_component_val_t * len(params))()
        converted = 0
        try:
            for value_type, value in zip(param_types, params, strict=True):
                value_type.convert_to_c(store, value, ctypes.pointer(values[converted]))
                converted += 1
            result = ffi.wasmtime_component_val_t() if result_type is not None else None

            def run() -> Any:
                return ffi.wasmtime_component_func_call(
                    ctypes.byref(func._func),
                    store._context(),
                    values,
                    converted,
                    ctypes.byref(result) if result is not None else None,
                    1 if result is not None else 0,
                )

            enter_wasm(run)
            if result_type is None or result is None:
                return None
            return result_type.convert_from_c(result)
        finally:
            for i in range(converted):
                ffi.wasmtime_component_val_delete(ctypes.byref(values[i]))

    def _look_up(self, store: wasmtime.Store, func: Func) -> tuple[list[ValType], ValType | None]:
        with self._lock:
            if self._types is None:
                func_type = func.type(store)
                self._types = ([ty for _name, ty in func_type.params], func_type.result)
            return self._types
