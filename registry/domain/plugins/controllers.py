"""HTTP handlers of the plugin endpoints: thin, over :mod:`registry.domain.plugins.services`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, route
from litestar.concurrency import sync_to_thread
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter, PathParameter
from litestar.response import Redirect, Stream

from client.registry.schemas import (
    PluginDetail,
    PublishAccepted,
    SearchPage,
    VersionDetail,
)
from registry.auth import PRINCIPAL, namespace_in_scope, token_required
from registry.domain.plugins import services as plugins
from registry.domain.plugins.schemas import YankRequest
from registry.domain.plugins.upload import parse_upload
from registry.domain.publishers.services import Principal
from registry.errors import NotFound, UnsupportedMediaType
from registry.requests import media_type_of, read_body
from registry.services import RegistryServices
from registry.settings import MAX_JSON_BODY_BYTES

Segment = Annotated[str, Parameter(max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")]
CHUNK = 64 * 1024


def etag_matches(if_none_match: str | None, sha256: str) -> bool:
    """Whether an ``If-None-Match`` list names this blob: its ETag (strong or weak, compared
    weakly as RFC 9110 asks for If-None-Match), its bare digest, or ``*``."""
    if not if_none_match:
        return False
    for item in if_none_match[:4096].split(","):
        tag = item.strip().removeprefix("W/")
        if tag in ("*", f'"{sha256}"', sha256):
            return True
    return False


class PluginController(Controller):
    path = "/api/v1/plugins"
    tags = ["plugins"]  # noqa: RUF012 - Litestar reads this class attribute

    @post("/", status_code=202, guards=[token_required], dependencies=PRINCIPAL)
    async def publish(
        self, request: Request[Any, Any, Any], state: State, principal: NamedDependency[Principal]
    ) -> PublishAccepted:
        """Parsed and stored off the event loop: a publisher's upload never blocks others."""
        services: RegistryServices = state.services
        media = media_type_of(request)
        if media.type != "multipart/form-data":
            raise UnsupportedMediaType(
                "publish with multipart/form-data parts manifest, component and bundle"
            )
        limits = services.settings.uploads
        body = await read_body(request, timeout_s=services.settings.http.upload_body_timeout_s)
        parts = await sync_to_thread(parse_upload, body, media, limits)
        return await sync_to_thread(plugins.publish, services, parts, principal)

    @get("/", sync_to_thread=True)
    def search(
        self,
        state: State,
        q: Annotated[str, Parameter(max_length=200)] = "",
        page: Annotated[int, Parameter(ge=1, le=10_000)] = 1,
        per_page: Annotated[int, Parameter(ge=1, le=100)] = 20,
    ) -> SearchPage:
        return plugins.search(state.services, q, page, per_page)

    @get("/{namespace:str}/{name:str}", sync_to_thread=True)
    def plugin(self, state: State, namespace: Segment, name: Segment) -> PluginDetail:
        return plugins.plugin_detail(state.services, namespace, name)

    @get("/{namespace:str}/{name:str}/latest", sync_to_thread=True)
    def latest(self, state: State, namespace: Segment, name: Segment) -> VersionDetail:
        return plugins.latest(state.services, namespace, name)

    @get("/{namespace:str}/{name:str}/versions/{version:str}", sync_to_thread=True)
    def version(
        self, state: State, namespace: Segment, name: Segment, version: Segment
    ) -> VersionDetail:
        return plugins.version_detail(state.services, namespace, name, version)

    @get("/{namespace:str}/{name:str}/versions/{version:str}/report", sync_to_thread=True)
    def report(
        self, state: State, namespace: Segment, name: Segment, version: Segment
    ) -> Response[bytes]:
        body = plugins.report(state.services, namespace, name, version)
        return Response(body, media_type="application/json")

    @route(
        "/{namespace:str}/{name:str}/versions/{version:str}/{part:str}", http_method=["GET", "HEAD"]
    )
    async def download(
        self,
        request: Request[Any, Any, Any],
        state: State,
        namespace: Segment,
        name: Segment,
        version: Segment,
        part: Annotated[str, PathParameter(max_length=16)],
    ) -> Response[Any]:
        """The hot path: cached records and small blobs are answered without a thread hop."""
        if part not in plugins.PARTS:
            raise NotFound(f"no {part!r}: download component, manifest or bundle")
        services: RegistryServices = state.services
        cache = services.downloads
        key = (namespace, name, version, part)
        found = cache.record(key)
        if found is None:
            found = await sync_to_thread(plugins.servable, services, namespace, name, version, part)
            cache.remember(key, found)
        etag = f'"{found.sha256}"'
        headers = {
            "ETag": etag,
            "Clawft-Digest": f"sha256={found.sha256}",
            "Cache-Control": "public, max-age=31536000, immutable",
        }
        if found.yanked:
            headers["Clawft-Yanked"] = "true"
        if etag_matches(request.headers.get("if-none-match"), found.sha256):
            return Response(b"", status_code=304, headers=headers)
        if services.settings.presign_downloads:
            url = services.blobs.presigned_url(found.sha256, filename=found.filename)
            if url is not None:
                return Redirect(url, status_code=302, headers=headers)
        headers["Content-Disposition"] = f'attachment; filename="{found.filename}"'
        if request.method == "HEAD":
            headers["Content-Length"] = str(found.size)
            return Response(b"", media_type="application/octet-stream", headers=headers)
        if found.size <= cache.max_blob_bytes:
            data = cache.blob(found.sha256)
            if data is None:
                data = await sync_to_thread(services.blobs.get, found.sha256, max_bytes=found.size)
                cache.keep(found.sha256, data)
            return Response(data, media_type="application/octet-stream", headers=headers)
        stream = await sync_to_thread(services.blobs.open, found.sha256)
        headers["Content-Length"] = str(found.size)

        def chunks() -> Iterator[bytes]:
            with stream:
                while chunk := stream.read(CHUNK):
                    yield chunk

        return Stream(chunks(), media_type="application/octet-stream", headers=headers)

    @post(
        "/{namespace:str}/{name:str}/versions/{version:str}/yank",
        sync_to_thread=True,
        status_code=200,
        guards=[token_required, namespace_in_scope],
        dependencies=PRINCIPAL,
        request_max_body_size=MAX_JSON_BODY_BYTES,
    )
    def yank(
        self,
        state: State,
        principal: NamedDependency[Principal],
        namespace: Segment,
        name: Segment,
        version: Segment,
        data: JSONBody[YankRequest],
    ) -> VersionDetail:
        return plugins.set_yanked(
            state.services, principal, namespace, name, version, yanked=True, reason=data.reason
        )

    @delete(
        "/{namespace:str}/{name:str}/versions/{version:str}/yank",
        sync_to_thread=True,
        status_code=200,
        guards=[token_required, namespace_in_scope],
        dependencies=PRINCIPAL,
    )
    def unyank(
        self,
        state: State,
        principal: NamedDependency[Principal],
        namespace: Segment,
        name: Segment,
        version: Segment,
    ) -> VersionDetail:
        return plugins.set_yanked(
            state.services, principal, namespace, name, version, yanked=False, reason="un-yanked"
        )
