"""The shape of a component (imports and exports as WIT text) and the policies over it.

``ImportPolicy``: a component may import only ``clawft:plugin/host@0.1.x`` (with the world's
exact function types) and the WASI preview-2 interfaces on the allowlist of ARCHITECTURE.md,
less the functions that make timers (see ``TIMER_FUNCTIONS``).
``check_exports``: it must export ``clawft:plugin/tool@0.1.x`` with ``describe`` and ``invoke``
of the world's exact types. Both report every problem, not only the first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import wasmtime
from wasmtime.component import Component

from client.host.wit_types import render_item
from client.host.world import (
    HOST_FUNCTIONS,
    HOST_INTERFACE,
    TOOL_FUNCTIONS,
    TOOL_INTERFACE,
    is_world_interface,
    split_versioned,
)

# WASI interfaces the host provides inertly: package -> interfaces (None: every interface).
WASI_ALLOWLIST: dict[str, frozenset[str] | None] = {
    "wasi:io": None,
    "wasi:clocks": None,
    "wasi:random": None,
    "wasi:cli": frozenset(
        {
            "environment",
            "exit",
            "stdin",
            "stdout",
            "stderr",
            "terminal-input",
            "terminal-output",
            "terminal-stdin",
            "terminal-stdout",
            "terminal-stderr",
        }
    ),
    "wasi:filesystem": frozenset({"types", "preopens"}),
}
_WASI_VERSION = re.compile(r"^0\.2\.(0|[1-9]\d*)$")

# Functions refused although their interface is allowed: each makes a timer, a pollable that
# becomes ready only when time has passed. A plugin that blocks on one (``pollable.block``,
# ``poll``) waits inside the host, where neither fuel nor epochs reach, for as long as it chose:
# past its timeout, on a device and in the verifier alike. Without timers no allowed pollable
# waits at all (stdin is empty and closed, stdout and stderr are always ready), so ``wasi:io``
# itself stays allowed. A plugin that must wait can read ``monotonic-clock#now`` in a loop,
# which fuel and the timeout bound.
TIMER_FUNCTIONS: dict[str, frozenset[str]] = {
    "wasi:clocks/monotonic-clock": frozenset({"subscribe-duration", "subscribe-instant"}),
}

ItemShape = str | dict[str, str]


@dataclass(frozen=True)
class ComponentShape:
    """Imports and exports of a component, each rendered as WIT text."""

    imports: dict[str, ItemShape] = field(default_factory=dict)
    exports: dict[str, ItemShape] = field(default_factory=dict)

    @classmethod
    def of(cls, component: Component, engine: wasmtime.Engine) -> ComponentShape:
        ty = component.type
        return cls(
            imports={name: render_item(ext.ty, engine) for name, ext in ty.imports(engine).items()},
            exports={name: render_item(ext.ty, engine) for name, ext in ty.exports(engine).items()},
        )


def is_allowed_wasi(name: str) -> bool:
    base, version = split_versioned(name)
    package, sep, interface = base.partition("/")
    if not sep or version is None or not _WASI_VERSION.match(version):
        return False
    if package not in WASI_ALLOWLIST:
        return False
    allowed = WASI_ALLOWLIST[package]
    return allowed is None or interface in allowed


class ImportPolicy:
    """Which imports a plugin may have."""

    def violations(self, shape: ComponentShape) -> list[str]:
        """Every offending import, each with the reason; empty when the imports are fine."""
        problems: list[str] = []
        for name, item in sorted(shape.imports.items()):
            if is_world_interface(name, HOST_INTERFACE):
                problems.extend(_signature_problems(name, item, HOST_FUNCTIONS, exhaustive=False))
            elif split_versioned(name)[0] == HOST_INTERFACE:
                problems.append(f"{name} (this host provides {HOST_INTERFACE}@0.1.x)")
            elif is_allowed_wasi(name):
                problems.extend(_timer_problems(name, item))
            elif name.startswith("wasi:"):
                problems.append(f"{name} (not on the sandbox's WASI allowlist)")
            else:
                problems.append(f"{name} (unknown to the sandbox)")
        return problems


def _timer_problems(name: str, item: ItemShape) -> list[str]:
    refused = TIMER_FUNCTIONS.get(split_versioned(name)[0], frozenset())
    if not refused or not isinstance(item, dict):
        return []
    return [
        f"{name}#{func} (makes a timer to wait on, and a plugin waiting in the host cannot be "
        "stopped at its timeout: plugins may not sleep)"
        for func in sorted(refused & item.keys())
    ]


@dataclass(frozen=True, slots=True)
class ShapeProblems:
    """Every way a component's imports and exports miss what the sandbox accepts."""

    imports: list[str]
    """Offending imports, each with its reason."""
    exports: list[str]
    """How the exports miss the world's ``tool`` interface."""

    @property
    def passed(self) -> bool:
        return not self.imports and not self.exports


def judge_shape(shape: ComponentShape) -> ShapeProblems:
    """The one gate a component's shape passes: the host applies it at load, the verifier's
    isolation child before it runs the component, and the verifier's checks report it."""
    return ShapeProblems(imports=ImportPolicy().violations(shape), exports=export_problems(shape))


def find_tool_export(shape: ComponentShape) -> str | None:
    """The name of the component's ``clawft:plugin/tool@0.1.x`` export, if any."""
    for name in sorted(shape.exports):
        if is_world_interface(name, TOOL_INTERFACE):
            return name
    return None


def export_problems(shape: ComponentShape) -> list[str]:
    """Every way the component's exports miss the world's ``tool`` interface."""
    name = find_tool_export(shape)
    if name is None:
        exported = ", ".join(sorted(shape.exports)) or "nothing"
        return [f"the component does not export {TOOL_INTERFACE}@0.1.x (it exports {exported})"]
    return _signature_problems(name, shape.exports[name], TOOL_FUNCTIONS, exhaustive=True)


def _signature_problems(
    name: str, item: ItemShape, expected: dict[str, str], *, exhaustive: bool
) -> list[str]:
    """Compare an instance's functions with the world's; ``exhaustive``: all must be present."""
    if not isinstance(item, dict):
        return [f"{name} is a {item}, expected an instance"]
    problems: list[str] = []
    for func, actual in sorted(item.items()):
        wanted = expected.get(func)
        if wanted is None:
            problems.append(f"{name}#{func} (not in the plugin world)")
        elif actual != wanted:
            problems.append(f"{name}#{func} has type {actual}, expected {wanted}")
    if exhaustive:
        problems.extend(
            f"{name}#{func} is missing (expected {wanted})"
            for func, wanted in sorted(expected.items())
            if func not in item
        )
    return problems
