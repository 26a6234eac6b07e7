"""``/tuf/metadata/…`` and ``/tuf/targets/…``: the TUF repository, as static files.

Everything versioned is immutable (``<version>.<role>.json``, hash-prefixed targets) and is
served so; ``timestamp.json`` and ``root.json`` (the newest root, for an operator to fetch
once, check out of band and pin on devices) are not. Nothing here needs a token: what a
device downloads is proved by the metadata, not by who served it.
"""

from __future__ import annotations

import re
from typing import Annotated

import sqlalchemy as sa
from litestar import Controller, Response, get
from litestar.concurrency import sync_to_thread
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, Parameter
from tuf.api.metadata import Root, Timestamp

from client.sync.schemas import CUSTOM_KEY, TargetPart
from registry.db import TufMetadata, TufTarget
from registry.errors import NotFound
from registry.openapi import errors
from registry.services import RegistryServices

__all__ = ["TufController"]

_METADATA = re.compile(r"^(?:(?P<version>[1-9][0-9]{0,9})\.)?(?P<role>[a-z][a-z0-9-]{0,63})\.json$")
_TARGET = re.compile(
    r"^(?P<dir>(?:[A-Za-z0-9][A-Za-z0-9._+-]{0,127}/){1,5})(?P<sha256>[0-9a-f]{64})\."
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._+-]{0,127})$"
)
_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
_CURRENT = {"Cache-Control": "no-cache"}
MAX_TARGET_BYTES = 64 * 1024 * 1024

MetadataName = Annotated[str, Parameter(max_length=80)]


def _answer(description: str, container: type, media_type: str) -> dict[int, ResponseSpec]:
    return {
        200: ResponseSpec(
            data_container=container,
            media_type=media_type,
            description=description,
            generate_examples=False,
        )
    }


class TufController(Controller):
    path = "/tuf"
    tags = ["tuf"]  # noqa: RUF012 - Litestar reads this class attribute

    @get(
        "/metadata/{name:str}",
        sync_to_thread=True,
        operation_id="getTufMetadata",
        responses={
            **_answer("The signed metadata, as stored.", dict, "application/json"),
            **errors(400, 404, 503),
        },
    )
    def metadata(
        self, services: NamedDependency[RegistryServices], name: MetadataName
    ) -> Response[bytes]:
        """TUF metadata: ``<version>.<role>.json``, ``timestamp.json`` or ``root.json``."""
        found = _METADATA.match(name)
        if found is None:
            raise NotFound(f"no TUF metadata is named {name[:80]!r}")
        role, version = found["role"], found["version"]
        with services.db.session() as session:
            query = sa.select(TufMetadata.body).where(TufMetadata.role == role)
            if version is not None:
                body = session.scalar(query.where(TufMetadata.version == int(version)))
                headers = _IMMUTABLE
            elif role in (Timestamp.type, Root.type):
                body = session.scalar(query.order_by(TufMetadata.version.desc()).limit(1))
                headers = _CURRENT
            else:
                raise NotFound(
                    f"{role} metadata is served by version only ('<version>.{role}.json'): "
                    "this repository uses consistent snapshots"
                )
        if body is None:
            raise NotFound(f"no TUF metadata {name!r}")
        return Response(body, media_type="application/json", headers=headers)

    @get(
        "/targets/{path:path}",
        operation_id="getTufTarget",
        responses={
            **_answer("The target file's bytes.", bytes, "application/octet-stream"),
            **errors(400, 404, 503),
        },
    )
    async def target(
        self, services: NamedDependency[RegistryServices], path: FromPath[str]
    ) -> Response[bytes]:
        """A target file, hash-prefixed: ``<directory>/<sha256>.<name>``."""
        found = _TARGET.match(path.lstrip("/")) if len(path) <= 800 else None
        if found is None:
            raise NotFound(f"no TUF target is named {path[:120]!r}")
        target_path = found["dir"] + found["name"]
        data = await sync_to_thread(_target_bytes, services, target_path, found["sha256"])
        return Response(data, media_type="application/octet-stream", headers=_IMMUTABLE)


def _target_bytes(services: RegistryServices, path: str, sha256: str) -> bytes:
    with services.db.session() as session:
        row = session.get(TufTarget, path)
        if row is None or row.removed or row.sha256 != sha256:
            raise NotFound(f"no TUF target {path!r} with sha256 {sha256[:12]}…")
        content, length = row.content, row.length
        _count_download(services, row.custom)
    if content is not None:
        return content
    return services.blobs.get(sha256, max_bytes=min(length, MAX_TARGET_BYTES))


def _count_download(services: RegistryServices, custom: dict[str, object]) -> None:
    """A device fetching a version's component through TUF (`pull`, `sync`) is a download."""
    fields = custom.get(CUSTOM_KEY)
    if not isinstance(fields, dict) or fields.get("part") != TargetPart.COMPONENT:
        return
    namespace, _, name = str(fields.get("plugin", "")).partition("/")
    if namespace and name:
        services.download_counts.add(namespace, name, str(fields.get("version", "")))
