"""The parts of a publish request, parsed strictly and checked before anything is stored.

The body is ``multipart/form-data`` with three file parts: ``manifest``, ``component`` and
``bundle``. It is parsed here, off the event loop, from the bytes the handler read (bounded in
size and time), by ``multipart``'s strict push parser. Nothing in it is ever decoded as text
in a charset the client names: a part that is not a file (a form field, which a framework would
decode in the part's declared charset) or that declares a charset other than UTF-8 is refused
as soon as its headers are read, before any of its bytes are looked at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from multipart import (  # type: ignore[import-untyped]
    MultipartSegment,
    ParserError,
    ParserLimitReached,
    PushMultipartParser,
)

from client.manifest import ManifestInvalid, PluginManifest, parse_manifest
from registry.errors import InvalidUpload, PayloadTooLarge, UnsupportedMediaType
from registry.media import MediaType
from registry.settings import UploadLimits

PARTS = ("manifest", "component", "bundle")
_COMPONENT_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,126}\.wasm$")
_UTF8 = frozenset({"utf-8", "utf8"})
MAX_PART_HEADER_BYTES = 1024


@dataclass(frozen=True, slots=True)
class UploadParts:
    """A publish request whose parts are present, within their limits and consistent."""

    manifest: PluginManifest
    manifest_bytes: bytes
    component: bytes
    component_filename: str
    bundle: bytes | None


@dataclass
class _Part:
    filename: str
    data: bytearray
    limit: int


def _limits(limits: UploadLimits) -> dict[str, int]:
    return {
        "manifest": limits.max_manifest_bytes,
        "component": limits.max_component_bytes,
        "bundle": limits.max_bundle_bytes,
    }


def _start_part(segment: MultipartSegment, parts: dict[str, _Part], limits: UploadLimits) -> _Part:
    """Judge a part by its headers alone."""
    name = segment.name
    if name not in PARTS:
        raise InvalidUpload(f"unexpected part {name!r}; send manifest, component and bundle")
    if name in parts:
        raise InvalidUpload(f"the upload has more than one '{name}' part")
    if segment.filename is None:
        raise InvalidUpload(f"the '{name}' part must be a file, not a form field")
    charset = (segment.charset or "utf-8").strip().lower()
    if charset not in _UTF8:
        raise UnsupportedMediaType(
            f"the '{name}' part declares the charset {charset[:40]!r}; parts are bytes, sent "
            "as files (UTF-8 where a charset applies)"
        )
    part = _Part(segment.filename, bytearray(), _limits(limits)[name])
    parts[name] = part
    return part


def split_parts(body: bytes, media: MediaType, limits: UploadLimits) -> dict[str, _Part]:
    """The parts of a multipart body, each bounded while it is read."""
    boundary = media.parameters.get("boundary", "")
    if not boundary or len(boundary) > 70:  # RFC 2046: 1 to 70 characters
        raise InvalidUpload("the multipart body needs a boundary of 1 to 70 characters")
    parts: dict[str, _Part] = {}
    current: _Part | None = None
    try:
        with PushMultipartParser(
            boundary,
            content_length=len(body),
            max_header_size=MAX_PART_HEADER_BYTES,
            max_header_count=4,
            max_segment_count=len(PARTS),
            strict=True,
        ) as parser:
            for event in parser.parse(body):
                if isinstance(event, MultipartSegment):
                    current = _start_part(event, parts, limits)
                elif event is None:
                    current = None
                elif current is not None:
                    current.data += event
                    if len(current.data) > current.limit:
                        name = next(n for n, p in parts.items() if p is current)
                        raise PayloadTooLarge(
                            f"the '{name}' part is larger than {current.limit:,} bytes"
                        )
    except ParserLimitReached as exc:
        raise InvalidUpload(f"the multipart body is over a limit: {exc}") from None
    except ParserError as exc:
        raise InvalidUpload(f"the multipart body is malformed: {exc}") from None
    return parts


def parse_upload(body: bytes, media: MediaType, limits: UploadLimits) -> UploadParts:
    """Validate a publish body; raise a domain error naming the problem. Runs in a thread."""
    parts = split_parts(body, media, limits)
    for name in ("manifest", "component"):
        if name not in parts:
            raise InvalidUpload(
                f"the upload has no '{name}' part; send manifest, component and bundle"
            )
    manifest_bytes = bytes(parts["manifest"].data)
    component = bytes(parts["component"].data)
    bundle = bytes(parts["bundle"].data) if "bundle" in parts else None
    try:
        manifest = parse_manifest(manifest_bytes)
    except ManifestInvalid as exc:
        raise InvalidUpload(str(exc)) from None
    filename = parts["component"].filename
    if not filename or not _COMPONENT_FILE.match(filename):
        raise InvalidUpload(
            f"the component's file name {filename[:140]!r} must be a plain NAME.wasm"
        )
    if filename != manifest.component:
        raise InvalidUpload(
            f"the manifest names component {manifest.component!r} but the upload's component "
            f"is {filename!r}"
        )
    if not component:
        raise InvalidUpload("the component part is empty")
    return UploadParts(manifest, manifest_bytes, component, filename, bundle or None)
