"""HTTP handlers of the plugin endpoints: thin, over :mod:`registry.domain.plugins.services`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.concurrency import sync_to_thread
from litestar.datastructures import State
from litestar.exceptions import ClientException
from litestar.params import JSONBody, Parameter, PathParameter
from litestar.response import Redirect, Stream

from client.registry.schemas import (
    PluginDetail,
    PublishAccepted,
    SearchPage,
    VersionDetail,
)
from registry.domain.plugins import services as plugins
from registry.domain.plugins.schemas import YankRequest
from registry.domain.plugins.upload import read_upload
from registry.domain.publishers.services import Principal, authenticate
from registry.errors import (
    InvalidUpload,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    UnsupportedMediaType,
)
from registry.services import RegistryServices

Segment = Annotated[str, Parameter(max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")]
CHUNK = 64 * 1024


def principal_of(services: RegistryServices, request: Request[Any, Any, Any]) -> Principal:
    with services.db.session() as session:
        return authenticate(session, request.headers.get("authorization"))


def _rate(limiter_key: str, wait: float | None) -> None:
    if wait is not None:
        raise RateLimited(
            f"too many requests from {limiter_key}; retry in {wait:g} s",
            headers={"Retry-After": str(int(wait))},
        )


class PluginController(Controller):
    path = "/api/v1/plugins"
    tags = ["plugins"]  # noqa: RUF012 - Litestar reads this class attribute

    @post("/", status_code=202)
    async def publish(self, request: Request[Any, Any, Any], state: State) -> PublishAccepted:
        services: RegistryServices = state.services
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise UnsupportedMediaType(
                "publish with multipart/form-data parts manifest, component and bundle"
            )
        principal = await sync_to_thread(principal_of, services, request)
        _rate(principal.publisher, services.publish_limiter.acquire(principal.token_id))
        try:
            form = await request.form()
        except ClientException as exc:
            if exc.status_code == 413:
                raise PayloadTooLarge(
                    f"the upload is larger than {services.settings.uploads.max_body_bytes:,} "
                    "bytes; the component's budget is 300 KB"
                ) from None
            raise InvalidUpload(f"the multipart body is malformed: {exc.detail}") from None
        grouped: dict[str, Any] = {}
        for key, value in form.multi_items():
            if key in grouped:  # a repeated part: read_upload refuses lists with a reason
                previous = grouped[key]
                grouped[key] = [*(previous if isinstance(previous, list) else [previous]), value]
            else:
                grouped[key] = value
        parts = await read_upload(grouped, services.settings.uploads)
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

    @get("/{namespace:str}/{name:str}/versions/{version:str}/{part:str}")
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
        if request.headers.get("if-none-match") in (etag, found.sha256, "*"):
            return Response(b"", status_code=304, headers=headers)
        if services.settings.presign_downloads:
            url = services.blobs.presigned_url(found.sha256, filename=found.filename)
            if url is not None:
                return Redirect(url, status_code=302, headers=headers)
        headers["Content-Disposition"] = f'attachment; filename="{found.filename}"'
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
    )
    def yank(
        self,
        request: Request[Any, Any, Any],
        state: State,
        namespace: Segment,
        name: Segment,
        version: Segment,
        data: JSONBody[YankRequest],
    ) -> VersionDetail:
        principal = principal_of(state.services, request)
        return plugins.set_yanked(
            state.services, principal, namespace, name, version, yanked=True, reason=data.reason
        )

    @delete(
        "/{namespace:str}/{name:str}/versions/{version:str}/yank",
        sync_to_thread=True,
        status_code=200,
    )
    def unyank(
        self,
        request: Request[Any, Any, Any],
        state: State,
        namespace: Segment,
        name: Segment,
        version: Segment,
    ) -> VersionDetail:
        principal = principal_of(state.services, request)
        return plugins.set_yanked(
            state.services, principal, namespace, name, version, yanked=False, reason="un-yanked"
        )
