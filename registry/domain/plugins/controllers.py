"""HTTP handlers of the plugin endpoints: thin, over the plugin services.

Each handler takes the services it uses by injection (see :mod:`registry.app`), turns the
request into a call, and the answer into a response; no SQL, cache or blob logic lives here.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, route
from litestar.concurrency import sync_to_thread
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter
from litestar.response import Redirect, Stream

from client.registry.schemas import PluginDetail, PublishAccepted, SearchPage, VersionDetail
from registry.auth import PRINCIPAL, namespace_in_scope, token_required
from registry.domain.plugins import publishing, search, versions, yanking
from registry.domain.plugins.downloads import DownloadAnswer, DownloadService, Part
from registry.domain.plugins.schemas import YankRequest
from registry.domain.plugins.upload import parse_upload
from registry.domain.publishers.services import Principal
from registry.errors import UnsupportedMediaType
from registry.requests import media_type_of, read_body
from registry.services import RegistryServices
from registry.settings import MAX_JSON_BODY_BYTES

Segment = Annotated[str, Parameter(max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")]


def _response(answer: DownloadAnswer) -> Response[Any]:
    if answer.location is not None:
        return Redirect(answer.location, status_code=302, headers=answer.headers)
    if answer.chunks is not None:
        return Stream(answer.chunks, media_type="application/octet-stream", headers=answer.headers)
    return Response(
        answer.body or b"",
        status_code=answer.status,
        media_type="application/octet-stream",
        headers=answer.headers,
    )


class PluginController(Controller):
    path = "/api/v1/plugins"
    tags = ["plugins"]  # noqa: RUF012 - Litestar reads this class attribute

    @post("/", status_code=202, guards=[token_required], dependencies=PRINCIPAL)
    async def publish(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[RegistryServices],
        principal: NamedDependency[Principal],
    ) -> PublishAccepted:
        """Parsed and stored off the event loop: a publisher's upload never blocks others."""
        media = media_type_of(request)
        if media.type != "multipart/form-data":
            raise UnsupportedMediaType(
                "publish with multipart/form-data parts manifest, component and bundle"
            )
        body = await read_body(request, timeout_s=services.settings.http.upload_body_timeout_s)
        parts = await sync_to_thread(parse_upload, body, media, services.settings.uploads)
        return await sync_to_thread(publishing.publish, services, parts, principal)

    @get("/", sync_to_thread=True)
    def search(
        self,
        services: NamedDependency[RegistryServices],
        q: Annotated[str, Parameter(max_length=200)] = "",
        page: Annotated[int, Parameter(ge=1, le=10_000)] = 1,
        per_page: Annotated[int, Parameter(ge=1, le=100)] = 20,
    ) -> SearchPage:
        return search.search(services.db, q, page, per_page)

    @get("/{namespace:str}/{name:str}", sync_to_thread=True)
    def plugin(
        self, services: NamedDependency[RegistryServices], namespace: Segment, name: Segment
    ) -> PluginDetail:
        return versions.plugin_detail(services.db, namespace, name)

    @get("/{namespace:str}/{name:str}/latest", sync_to_thread=True)
    def latest(
        self, services: NamedDependency[RegistryServices], namespace: Segment, name: Segment
    ) -> VersionDetail:
        return versions.latest(services.db, namespace, name)

    @get("/{namespace:str}/{name:str}/versions/{version:str}", sync_to_thread=True)
    def version(
        self,
        services: NamedDependency[RegistryServices],
        namespace: Segment,
        name: Segment,
        version: Segment,
    ) -> VersionDetail:
        return versions.version_detail(services.db, namespace, name, version)

    @get("/{namespace:str}/{name:str}/versions/{version:str}/report", sync_to_thread=True)
    def report(
        self,
        services: NamedDependency[RegistryServices],
        namespace: Segment,
        name: Segment,
        version: Segment,
    ) -> Response[bytes]:
        body = versions.report(services.db, namespace, name, version)
        return Response(body, media_type="application/json")

    @route(
        "/{namespace:str}/{name:str}/versions/{version:str}/{part:str}",
        http_method=["GET", "HEAD"],
    )
    async def download(
        self,
        request: Request[Any, Any, Any],
        downloads: NamedDependency[DownloadService],
        namespace: Segment,
        name: Segment,
        version: Segment,
        part: Part,
    ) -> Response[Any]:
        answer = await downloads.answer(
            (namespace, name, version, part),
            head=request.method == "HEAD",
            if_none_match=request.headers.get("if-none-match"),
        )
        return _response(answer)

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
        services: NamedDependency[RegistryServices],
        principal: NamedDependency[Principal],
        namespace: Segment,
        name: Segment,
        version: Segment,
        data: JSONBody[YankRequest],
    ) -> VersionDetail:
        return yanking.set_yanked(
            services.db,
            services.downloads,
            principal,
            namespace,
            name,
            version,
            yanked=True,
            reason=data.reason,
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
        services: NamedDependency[RegistryServices],
        principal: NamedDependency[Principal],
        namespace: Segment,
        name: Segment,
        version: Segment,
    ) -> VersionDetail:
        return yanking.set_yanked(
            services.db,
            services.downloads,
            principal,
            namespace,
            name,
            version,
            yanked=False,
            reason="un-yanked",
        )
