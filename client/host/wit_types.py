"""Render wasmtime-py component types as WIT text, e.g. ``result<string, string>``.

Used to compare a component's imports and exports with the plugin world exactly, and to show
them to people (``clawft-registry inspect``).
"""

from __future__ import annotations

from typing import Any

from wasmtime import component as wc

_PRIMITIVES: dict[type, str] = {
    wc.Bool: "bool",
    wc.U8: "u8",
    wc.U16: "u16",
    wc.U32: "u32",
    wc.U64: "u64",
    wc.S8: "s8",
    wc.S16: "s16",
    wc.S32: "s32",
    wc.S64: "s64",
    wc.F32: "f32",
    wc.F64: "f64",
    wc.Char: "char",
    wc.String: "string",
    wc.ErrorContext: "error-context",
}


def render_type(ty: Any) -> str:
    """WIT text of a value type."""
    primitive = _PRIMITIVES.get(type(ty))
    if primitive is not None:
        return primitive
    if isinstance(ty, wc.ListType):
        return f"list<{render_type(ty.element)}>"
    if isinstance(ty, wc.TupleType):
        return f"tuple<{', '.join(render_type(t) for t in ty.elements)}>"
    if isinstance(ty, wc.OptionType):
        return f"option<{render_type(ty.payload)}>"
    if isinstance(ty, wc.ResultType):
        ok_type, err_type = ty.ok, ty.err  # each read is a call into wasmtime
        ok = "_" if ok_type is None else render_type(ok_type)
        if err_type is None:
            return "result" if ok_type is None else f"result<{ok}>"
        return f"result<{ok}, {render_type(err_type)}>"
    if isinstance(ty, wc.RecordType):
        fields = ", ".join(f"{name}: {render_type(t)}" for name, t in ty.fields)
        return f"record {{ {fields} }}"
    if isinstance(ty, wc.VariantType):
        cases = ", ".join(
            name if t is None else f"{name}({render_type(t)})" for name, t in ty.cases
        )
        return f"variant {{ {cases} }}"
    if isinstance(ty, wc.EnumType):
        return f"enum {{ {', '.join(ty.names)} }}"
    if isinstance(ty, wc.FlagsType):
        return f"flags {{ {', '.join(ty.names)} }}"
    if isinstance(ty, wc.OwnType):
        return "own<resource>"
    if isinstance(ty, wc.BorrowType):
        return "borrow<resource>"
    if isinstance(ty, wc.FutureType):
        return "future"
    if isinstance(ty, wc.StreamType):
        return "stream"
    return type(ty).__name__


def render_func(ty: wc.FuncType) -> str:
    """WIT text of a function type, e.g. ``func(path: string) -> result<string, string>``."""
    params = ", ".join(f"{name}: {render_type(t)}" for name, t in ty.params)
    result = ty.result
    return f"func({params})" if result is None else f"func({params}) -> {render_type(result)}"


def render_item(item: Any, engine: Any) -> str | dict[str, str]:
    """A function's WIT text, or for an instance a mapping of its exports' WIT texts."""
    if isinstance(item, wc.FuncType):
        return render_func(item)
    if isinstance(item, wc.ComponentInstanceType):
        out: dict[str, str] = {}
        for name, ext in item.exports(engine).items():
            inner = render_item(ext.ty, engine)
            out[name] = inner if isinstance(inner, str) else "instance"
        return out
    if isinstance(item, wc.ResourceType):
        return "resource"
    if isinstance(item, wc.ModuleType):
        return "core module"
    if isinstance(item, wc.ComponentType):
        return "component"
    return render_type(item)
