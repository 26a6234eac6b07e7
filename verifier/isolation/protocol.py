"""Messages between the verifier and its isolation child (msgspec, length-prefixed on pipes)."""

from __future__ import annotations

import struct
from typing import IO, Any, Literal

import msgspec

from client.host.audit import AuditCounts, AuditEntry

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_LENGTH = struct.Struct(">I")


class AnalyseJob(msgspec.Struct, frozen=True, kw_only=True, tag="analyse"):
    """Compile a component; report its shape; run its behaviour when ``run`` is set."""

    component: bytes
    manifest: bytes
    cpu_seconds: int
    run: bool
    max_describe_bytes: int
    max_tools: int
    max_probes: int


class VectorOutcome(msgspec.Struct, frozen=True, kw_only=True):
    tool: str
    input: str
    expect: str
    outcome: Literal["ok", "error", "trap", "refused"]
    """``error``: the tool returned an error; ``trap``: a limit or trap stopped it."""
    detail: str
    fuel_used: int = 0
    duration_s: float = 0.0
    probe: bool = False
    """A run the verifier added: a described tool no vector covers, called with ``{}``."""


class AnalyseResult(msgspec.Struct, frozen=True, kw_only=True, tag="result"):
    compiled: bool
    compile_error: str | None = None
    compile_s: float = 0.0
    imports: dict[str, Any] = msgspec.field(default_factory=dict)
    exports: dict[str, Any] = msgspec.field(default_factory=dict)
    ran: bool = False
    load_error: str | None = None
    describe: str | None = None
    describe_error: str | None = None
    vectors: list[VectorOutcome] = msgspec.field(default_factory=list)
    audit: list[AuditEntry] = msgspec.field(default_factory=list)
    audit_counts: AuditCounts = msgspec.field(default_factory=AuditCounts)
    stopped: bool = False
    """A call outlived its timeout: this reply ends with it, and the child has exited."""


class Compiled(msgspec.Struct, frozen=True, tag="compiled"):
    """The component compiled and the child goes on to run it: from here on it needs one core,
    so this is the parent's cue to do its own share of the work."""


class ChildFailure(msgspec.Struct, frozen=True, kw_only=True, tag="failure"):
    """The child could not do the job, reported instead of dying. ``kind`` says what happened;
    ``error`` is text for people (it may quote the plugin): the parent never reads it to decide
    anything."""

    kind: Literal["memory", "timeout", "error"]
    """``memory``: the data-segment limit; ``timeout``: a plugin call outlived its timeout
    before the job's runs began; ``error``: anything else (a bug, a broken input)."""
    error: str


_encoder = msgspec.msgpack.Encoder()


def write_message(stream: IO[bytes], message: msgspec.Struct) -> None:
    payload = _encoder.encode(message)
    stream.write(_LENGTH.pack(len(payload)) + payload)
    stream.flush()


def read_exactly(stream: IO[bytes], size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise EOFError("the other side closed the pipe")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_message(stream: IO[bytes], kind: Any) -> Any:
    (size,) = _LENGTH.unpack(read_exactly(stream, _LENGTH.size))
    if size > MAX_MESSAGE_BYTES:
        raise ValueError(f"message of {size:,} bytes is over the {MAX_MESSAGE_BYTES:,} limit")
    return msgspec.msgpack.decode(read_exactly(stream, size), type=kind)
