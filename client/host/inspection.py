"""What a component is, without running it: sizes, digest, imports, exports, and problems.

Unlike loading, inspecting reports problems instead of refusing, so an author can see every
reason a plugin would be refused at once.
"""

from __future__ import annotations

import hashlib

import msgspec
import wasmtime
from wasmtime.component import Component

from client.host.budget import gzipped_size
from client.host.errors import NotAComponent
from client.host.imports import ComponentShape, judge_shape
from client.host.plugin import check_component_header
from client.host.settings import SizeBudget

MAX_INSPECT_BYTES = 64 * 1024 * 1024


class Inspection(msgspec.Struct, frozen=True):
    """The facts ``clawft-registry inspect`` prints."""

    size: int
    gzipped_size: int
    sha256: str
    kind: str
    """``component``, or why it is not one."""
    imports: dict[str, str | dict[str, str]]
    exports: dict[str, str | dict[str, str]]
    problems: list[str]
    """Every reason the host would refuse this component; empty when it would load."""


def inspect_component(data: bytes, engine: wasmtime.Engine, budget: SizeBudget) -> Inspection:
    if len(data) > MAX_INSPECT_BYTES:
        raise NotAComponent(f"file is larger than {MAX_INSPECT_BYTES:,} bytes; not inspected")
    size = len(data)
    packed = gzipped_size(data)
    problems: list[str] = []
    if size > budget.component_bytes:
        problems.append(f"size {size:,} bytes is over the budget of {budget.component_bytes:,}")
    if packed > budget.component_gzip_bytes:
        problems.append(
            f"gzipped size {packed:,} bytes is over the budget of {budget.component_gzip_bytes:,}"
        )
    digest = hashlib.sha256(data).hexdigest()
    try:
        check_component_header(data)
        component = Component(engine, data)
    except NotAComponent as exc:
        return Inspection(size, packed, digest, str(exc), {}, {}, [*problems, str(exc)])
    except wasmtime.WasmtimeError as exc:
        reason = f"not a valid WebAssembly component: {str(exc).strip().splitlines()[0]}"
        return Inspection(size, packed, digest, reason, {}, {}, [*problems, reason])
    shape = ComponentShape.of(component, engine)
    judged = judge_shape(shape)
    problems += [f"forbidden import: {item}" for item in judged.imports]
    problems += judged.exports
    return Inspection(size, packed, digest, "component", shape.imports, shape.exports, problems)
