"""The parts of a publish request, read with bounds and checked before anything is stored."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from litestar.datastructures import UploadFile

from client.manifest import ManifestInvalid, PluginManifest, parse_manifest
from registry.errors import InvalidUpload, PayloadTooLarge
from registry.settings import UploadLimits

PARTS = ("manifest", "component", "bundle")
_COMPONENT_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,126}\.wasm$")


@dataclass(frozen=True, slots=True)
class UploadParts:
    """A publish request whose parts are present, within their limits and consistent."""

    manifest: PluginManifest
    manifest_bytes: bytes
    component: bytes
    component_filename: str
    bundle: bytes | None


async def _read_part(
    form: dict[str, Any], name: str, limit: int, *, required: bool
) -> bytes | None:
    value = form.get(name)
    if value is None:
        if required:
            raise InvalidUpload(
                f"the upload has no '{name}' part; send manifest, component and bundle"
            )
        return None
    if isinstance(value, list):
        raise InvalidUpload(f"the upload has more than one '{name}' part")
    if not isinstance(value, UploadFile):
        raise InvalidUpload(f"the '{name}' part must be a file, not a form field")
    data = await value.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the '{name}' part is larger than {limit:,} bytes")
    return data


async def read_upload(form: dict[str, Any], limits: UploadLimits) -> UploadParts:
    """Validate a parsed multipart form; raise a domain error naming the problem."""
    unknown = sorted(set(form) - set(PARTS))
    if unknown:
        raise InvalidUpload(
            f"unexpected part(s) {', '.join(unknown)}; send manifest, component, bundle"
        )
    manifest_bytes = await _read_part(form, "manifest", limits.max_manifest_bytes, required=True)
    component = await _read_part(form, "component", limits.max_component_bytes, required=True)
    bundle = await _read_part(form, "bundle", limits.max_bundle_bytes, required=False)
    assert manifest_bytes is not None and component is not None
    try:
        manifest = parse_manifest(manifest_bytes)
    except ManifestInvalid as exc:
        raise InvalidUpload(str(exc)) from None
    upload = form["component"]
    filename = upload.filename if isinstance(upload, UploadFile) else ""
    if not filename or not _COMPONENT_FILE.match(filename):
        raise InvalidUpload(f"the component's file name {filename!r} must be a plain NAME.wasm")
    if filename != manifest.component:
        raise InvalidUpload(
            f"the manifest names component {manifest.component!r} but the upload's component "
            f"is {filename!r}"
        )
    if not component:
        raise InvalidUpload("the component part is empty")
    return UploadParts(manifest, manifest_bytes, component, filename, bundle or None)
