"""Build the clawft example and test plugins (WebAssembly components written in WAT).

Each plugin source directory holds ``clawft-plugin.toml`` plus exactly one of:

``guest.wat``
    The body of the plugin's core module: its functions (at least ``$describe`` and
    ``$invoke``). It is spliced, together with ``_sdk/runtime.wat``, into the standard
    component skeleton ``_sdk/component.wat.in``.
``component.wat``
    A whole hand-written component. It may use the placeholders ``{{RUNTIME}}``,
    ``{{DATA}}`` and ``{{HEAP_BASE}}`` (see the skeleton).
``module.wat``
    A plain core module, compiled as is (no placeholders, no macros).
``generate.py``
    A script defining ``generate() -> str``. The returned WAT text is treated like
    ``component.wat`` if it starts with ``(component``, like ``module.wat`` if it starts with
    ``(module``, and like ``guest.wat`` otherwise.

In guest and component text, the macro ``(@str "text")`` becomes
``(i32.const PTR) (i32.const LEN)``: the UTF-8 bytes of the (WAT-escaped) literal, placed in
one static data segment (emitted at ``{{DATA}}``) starting at address 16. The bump heap starts
just after it (``{{HEAP_BASE}}``).

The output for a plugin is ``<out>/<dir name>/`` holding a copy of ``clawft-plugin.toml`` and
the compiled component named by the manifest's ``component`` field.

Usage: ``python examples/plugins/build.py [--out DIR] [--check] [SRC_ROOT ...]``
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import wasmtime
import wasmtime.component

HERE = Path(__file__).resolve().parent
SDK_DIR = HERE / "_sdk"
SKELETON_PATH = SDK_DIR / "component.wat.in"
RUNTIME_PATH = SDK_DIR / "runtime.wat"
DEFAULT_OUT = HERE.parent.parent / "build" / "plugins"
MANIFEST_NAME = "clawft-plugin.toml"
SOURCE_NAMES = ("guest.wat", "component.wat", "module.wat", "generate.py")

STATIC_BASE = 16
# The skeleton's memory starts with one 64 KiB page; static data must fit in it.
STATIC_LIMIT = 65536

_STR_MACRO = re.compile(r'\(@str\s+"((?:[^"\\]|\\.)*)"\s*\)', re.DOTALL)
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")
_COMPONENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,126}\.wasm")
_HEX = "0123456789abcdefABCDEF"


class BuildError(Exception):
    """A plugin failed to build; the message names the plugin and the file."""


@dataclass
class StaticData:
    """The static strings of one component, laid out from ``STATIC_BASE``."""

    blob: bytearray = field(default_factory=bytearray)
    offsets: dict[bytes, int] = field(default_factory=dict)

    def add(self, data: bytes) -> int:
        known = self.offsets.get(data)
        if known is not None:
            return known
        offset = STATIC_BASE + len(self.blob)
        self.blob += data
        self.offsets[data] = offset
        return offset

    @property
    def end(self) -> int:
        return STATIC_BASE + len(self.blob)

    @property
    def heap_base(self) -> int:
        return (self.end + 15) // 16 * 16

    def segment(self) -> str:
        if not self.blob:
            return ""
        return f'    (data (i32.const {STATIC_BASE}) "{wat_bytes(bytes(self.blob))}")'


def wat_bytes(data: bytes) -> str:
    """``data`` as the inside of a WAT string literal (printable ASCII kept, rest escaped)."""
    out: list[str] = []
    for byte in data:
        if 0x20 <= byte < 0x7F and byte not in (0x22, 0x5C):
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:02x}")
    return "".join(out)


def decode_wat_string(body: str) -> bytes:
    """Decode the inside of a WAT string literal to bytes."""
    out = bytearray()
    i = 0
    simple = {"t": 0x09, "n": 0x0A, "r": 0x0D, '"': 0x22, "'": 0x27, "\\": 0x5C}
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError("string ends with a lone backslash")
        nxt = body[i + 1]
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        elif nxt == "u":
            close = body.find("}", i)
            if i + 2 >= len(body) or body[i + 2] != "{" or close < 0:
                raise ValueError(r"malformed \u{...} escape")
            out += chr(int(body[i + 3 : close], 16)).encode("utf-8")
            i = close + 1
        elif nxt in _HEX and i + 2 < len(body) and body[i + 2] in _HEX:
            out.append(int(body[i + 1 : i + 3], 16))
            i += 3
        else:
            raise ValueError(f"unknown escape \\{nxt}")
    return bytes(out)


def expand_strings(text: str, data: StaticData) -> str:
    """Replace every ``(@str "...")`` macro in ``text`` by its address and length."""

    def replace(match: re.Match[str]) -> str:
        raw = decode_wat_string(match.group(1))
        return f"(i32.const {data.add(raw)}) (i32.const {len(raw)})"

    return _STR_MACRO.sub(replace, text)


@dataclass(frozen=True)
class Piece:
    """Lines of rendered WAT from ``first_line`` on come from ``source`` at ``source_line``."""

    first_line: int
    source: str
    source_line: int


@dataclass
class Rendered:
    """Rendered WAT text with a map back to the files it was made of."""

    text: str
    pieces: list[Piece]

    def locate(self, line: int) -> tuple[str, int]:
        """(source, line in source) of 1-based ``line`` of the rendered text."""
        best = Piece(1, "<rendered>", 1)
        for piece in self.pieces:
            if piece.first_line <= line:
                best = piece
        return best.source, best.source_line + line - best.first_line

    def explain(self, message: str) -> str:
        """Rewrite ``<anon>:LINE:COL`` positions of a wat2wasm error into source positions."""

        def replace(match: re.Match[str]) -> str:
            source, line = self.locate(int(match.group(1)))
            return f"{source}:{line}:{match.group(2)}"

        def replace_gutter(match: re.Match[str]) -> str:
            _, line = self.locate(int(match.group(2)))
            return f"{match.group(1)}{line:>{len(match.group(2))}} |"

        message = re.sub(r"(?m)^(\s*)(\d+) \|", replace_gutter, message)
        return re.sub(r"<anon>:(\d+):(\d+)", replace, message)


def fill_placeholders(
    template: str, template_name: str, values: dict[str, tuple[str, str]]
) -> Rendered:
    """Substitute ``{{NAME}}`` placeholders in one pass (inserted text is not rescanned).

    ``values`` maps a name to (text, name of the file the text comes from).
    """
    out: list[str] = []
    pieces: list[Piece] = []
    line = 1  # current line of the output
    pos = 0  # position in the template

    def emit(text: str, source: str, source_line: int) -> None:
        nonlocal line
        at_line_start = not out or out[-1].endswith("\n")
        if at_line_start:
            pieces.append(Piece(line, source, source_line))
        elif "\n" in text:
            pieces.append(Piece(line + 1, source, source_line + 1))
        out.append(text)
        line += text.count("\n")

    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in values:
            raise ValueError(f"unknown placeholder {{{{{name}}}}}")
        emit(template[pos : match.start()], template_name, template.count("\n", 0, pos) + 1)
        text, source = values[name]
        emit(text, source, 1)
        pos = match.end()
    emit(template[pos:], template_name, template.count("\n", 0, pos) + 1)
    return Rendered("".join(out), pieces)


def _first_form(text: str) -> str:
    """The start of the first s-expression of WAT ``text``, comments skipped."""
    stripped = re.sub(r"\(;.*?;\)", " ", text, flags=re.DOTALL)
    stripped = re.sub(r";;[^\n]*", " ", stripped)
    return stripped.lstrip()[:16]


def render_guest(guest: str, guest_name: str = "guest.wat") -> Rendered:
    """Full component WAT for a guest core-module body, using the SDK skeleton and runtime."""
    data = StaticData()
    runtime = expand_strings(RUNTIME_PATH.read_text(encoding="utf-8"), data)
    body = expand_strings(guest, data)
    template = SKELETON_PATH.read_text(encoding="utf-8")
    return _finish(template, str(SKELETON_PATH), data, runtime, (body, guest_name))


def render_component(component: str, component_name: str = "component.wat") -> Rendered:
    """Full component WAT for a hand-written component (placeholders and macros expanded)."""
    data = StaticData()
    runtime = expand_strings(RUNTIME_PATH.read_text(encoding="utf-8"), data)
    text = expand_strings(component, data)
    return _finish(text, component_name, data, runtime, None)


def _finish(
    template: str,
    template_name: str,
    data: StaticData,
    runtime: str,
    guest: tuple[str, str] | None,
) -> Rendered:
    if data.end > STATIC_LIMIT:
        raise ValueError(f"static strings take {data.end} bytes, more than {STATIC_LIMIT}")
    values = {
        "RUNTIME": (runtime, str(RUNTIME_PATH)),
        "DATA": (data.segment(), "<static data of (@str) literals>"),
        "HEAP_BASE": (str(data.heap_base), "<heap base>"),
    }
    if guest is not None:
        values["GUEST"] = guest
    return fill_placeholders(template, template_name, values)


def _load_generator(path: Path) -> str:
    spec = importlib.util.spec_from_file_location(f"_clawft_gen_{path.parent.name}", path)
    if spec is None or spec.loader is None:
        raise ValueError("cannot load the generator")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    generate = getattr(module, "generate", None)
    if not callable(generate):
        raise ValueError("defines no generate() function")
    text = generate()
    if not isinstance(text, str):
        raise ValueError("generate() did not return a str")
    return text


def _render(source: Path) -> Rendered:
    """WAT text of a component or module for one plugin source file."""
    if source.name == "generate.py":
        text = _load_generator(source)
        name = f"<output of {source}>"
        head = _first_form(text)
        if head.startswith("(module"):
            return Rendered(text, [Piece(1, name, 1)])
        if head.startswith("(component"):
            return render_component(text, name)
        return render_guest(text, name)
    text = source.read_text(encoding="utf-8")
    if source.name == "module.wat":
        return Rendered(text, [Piece(1, str(source), 1)])
    if source.name == "component.wat":
        return render_component(text, str(source))
    return render_guest(text, str(source))


def _read_manifest(path: Path) -> str:
    """The manifest's ``component`` file name (checked to be a plain ``*.wasm`` name)."""
    with path.open("rb") as fh:
        manifest = tomllib.load(fh)
    component = manifest.get("component")
    if not isinstance(component, str) or not _COMPONENT_NAME.fullmatch(component):
        raise ValueError(f"`component` must be a plain *.wasm file name, got {component!r}")
    return component


def find_source(source_dir: Path) -> Path:
    """The single plugin source file of ``source_dir``."""
    found = [source_dir / name for name in SOURCE_NAMES if (source_dir / name).is_file()]
    if len(found) != 1:
        names = ", ".join(SOURCE_NAMES)
        what = "none" if not found else ", ".join(p.name for p in found)
        raise BuildError(f"plugin {source_dir.name}: needs exactly one of {names}; found {what}")
    return found[0]


def compile_plugin(source_dir: Path) -> bytes:
    """The compiled component (or core module) of ``source_dir``, in memory."""
    source = find_source(source_dir)
    try:
        rendered = _render(source)
    except (OSError, ValueError, SyntaxError) as exc:
        raise BuildError(f"plugin {source_dir.name}: {source}: {exc}") from exc
    try:
        return bytes(wasmtime.wat2wasm(rendered.text))
    except wasmtime.WasmtimeError as exc:
        message = rendered.explain(str(exc))
        raise BuildError(f"plugin {source_dir.name}: {source}: {message}") from exc


def build_plugin(source_dir: Path, out_root: Path) -> Path:
    """Build one plugin into ``out_root/<source_dir.name>/``; returns that directory."""
    source_dir = Path(source_dir)
    manifest = source_dir / MANIFEST_NAME
    try:
        component_name = _read_manifest(manifest)
    except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(f"plugin {source_dir.name}: {manifest}: {exc}") from exc
    wasm = compile_plugin(source_dir)
    out_dir = Path(out_root) / source_dir.name
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(manifest, out_dir / MANIFEST_NAME)
    (out_dir / component_name).write_bytes(wasm)
    return out_dir


def plugin_dirs(source_root: Path) -> list[Path]:
    """Immediate subdirectories of ``source_root`` holding a manifest (``_sdk`` excluded)."""
    return sorted(
        child
        for child in Path(source_root).iterdir()
        if child.is_dir() and child.name != "_sdk" and (child / MANIFEST_NAME).is_file()
    )


def build_all(source_root: Path, out_root: Path) -> dict[str, Path]:
    """Build every plugin under ``source_root``; maps directory name to output directory."""
    return {src.name: build_plugin(src, out_root) for src in plugin_dirs(source_root)}


def check_binary(path: Path) -> None:
    """Validate a built file with wasmtime (compiles it: slower than building)."""
    engine = wasmtime.Engine()
    data = path.read_bytes()
    try:
        wasmtime.component.Component(engine, data)
    except wasmtime.WasmtimeError as component_error:
        try:
            wasmtime.Module.validate(engine, data)
        except wasmtime.WasmtimeError:
            raise BuildError(f"{path}: invalid: {component_error}") from component_error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build clawft plugins from WAT sources.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output root directory")
    parser.add_argument("--check", action="store_true", help="also validate with wasmtime")
    parser.add_argument("roots", type=Path, nargs="*", default=[HERE], metavar="SRC_ROOT")
    args = parser.parse_args(argv)
    out_root: Path = args.out
    seen: dict[str, Path] = {}
    try:
        for root in args.roots:
            for src in plugin_dirs(root):
                if src.name in seen:
                    raise BuildError(
                        f"plugin {src.name}: {src} clashes with {seen[src.name]} in {out_root}"
                    )
                seen[src.name] = src
                out_dir = build_plugin(src, out_root)
                if args.check:
                    for built in sorted(out_dir.glob("*.wasm")):
                        check_binary(built)
                print(f"built {src.name} -> {out_dir}")
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
