"""HTTP handlers of the plugin endpoints: thin, over the plugin services.

Each handler takes the services it uses by injection (see :mod:`registry.app`), turns the
request into a call, and the answer into a response; no SQL, cache or blob logic lives here.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, route
from litestar.concurrency import sync_to_thread
from litestar.di import NamedDependency
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, Parameter
from litestar.response import Redirect, Stream
from litestar.types import Method
from litestar.types.internal_types import PathParameterDefinition

from client.registry.schemas import PluginDetail, PublishAccepted, SearchPage, VersionDetail
from registry.auth import PRINCIPAL, namespace_in_scope, token_required
from registry.domain.plugins import publishing, search, versions, yanking
from registry.domain.plugins.downloads import DownloadAnswer, DownloadService, Part
from registry.domain.plugins.schemas import YankRequest
from registry.domain.plugins.upload import parse_upload
from registry.domain.publishers.services import Principal
from registry.errors import UnsupportedMediaType
from registry.openapi import (
    SECURITY,
    DownloadOperation,
    PluginOperation,
    PublishOperation,
    SearchOperation,
    VersionOperation,
    errors,
)
from registry.requests import media_type_of, read_body
from registry.services import RegistryServices
from registry.settings import MAX_JSON_BODY_BYTES
from verifier.report import VerificationReport

Segment = Annotated[str, Parameter(max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")]


def _download_operation_id(
    _handler: HTTPRouteHandler,
    method: HttpMethod | Method,
    _path: list[str | PathParameterDefinition],
) -> str:
    return "headPart" if method == HttpMethod.HEAD else "downloadPart"


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

    @post(
        "/",
        status_code=202,
        guards=[token_required],
        dependencies=PRINCIPAL,
        operation_id="publishPlugin",
        operation_class=PublishOperation,
        security=SECURITY,
        responses=errors(400, 401, 403, 404, 408, 409, 413, 415, 429, 503),
    )
    async def publish(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[RegistryServices],
        principal: NamedDependency[Principal],
    ) -> PublishAccepted:
        """Publish a plugin version; it is verified before anything of it is served.

        The body is parsed and stored off the event loop, so an upload never blocks others."""
        media = media_type_of(request)
        if media.type != "multipart/form-data":
            raise UnsupportedMediaType(
                "publish with multipart/form-data parts manifest, component and bundle"
            )
        body = await read_body(request, timeout_s=services.settings.http.upload_body_timeout_s)
        parts = await sync_to_thread(parse_upload, body, media, services.settings.uploads)
        return await sync_to_thread(publishing.publish, services, parts, principal)

    @get(
        "/",
        sync_to_thread=True,
        operation_id="searchPlugins",
        operation_class=SearchOperation,
        responses=errors(400, 503),
    )
    def search(
        self,
        services: NamedDependency[RegistryServices],
        q: Annotated[str, Parameter(max_length=200)] = "",
        page: Annotated[int, Parameter(ge=1, le=10_000)] = 1,
        per_page: Annotated[int, Parameter(ge=1, le=100)] = 20,
    ) -> SearchPage:
        """Approved plugins whose name or description contains ``q``."""
        return search.search(services.db, q, page, per_page)

    @get(
        "/{namespace:str}/{name:str}",
        sync_to_thread=True,
        operation_id="getPlugin",
        operation_class=PluginOperation,
        responses=errors(400, 404, 503),
    )
    def plugin(
        self, services: NamedDependency[RegistryServices], namespace: Segment, name: Segment
    ) -> PluginDetail:
        """A plugin and every version of it, whatever its status."""
        return versions.plugin_detail(services.db, namespace, name)

    @get(
        "/{namespace:str}/{name:str}/latest",
        sync_to_thread=True,
        operation_id="getLatestVersion",
        operation_class=VersionOperation,
        responses=errors(400, 404, 503),
    )
    def latest(
        self, services: NamedDependency[RegistryServices], namespace: Segment, name: Segment
    ) -> VersionDetail:
        """The highest approved, non-yanked version (Semantic Versioning precedence)."""
        return versions.latest(services.db, namespace, name)

    @get(
        "/{namespace:str}/{name:str}/versions/{version:str}",
        sync_to_thread=True,
        operation_id="getVersion",
        operation_class=VersionOperation,
        responses=errors(400, 404, 503),
    )
    def version(
        self,
        services: NamedDependency[RegistryServices],
        namespace: Segment,
        name: Segment,
        version: Segment,
    ) -> VersionDetail:
        """One version: its status, files, verdict summary and download links."""
        return versions.version_detail(services.db, namespace, name, version)

    @get(
        "/{namespace:str}/{name:str}/versions/{version:str}/report",
        sync_to_thread=True,
        operation_id="getVersionReport",
        responses={
            200: ResponseSpec(
                data_container=VerificationReport,
                description="The verification report, as the verifier wrote it.",
                generate_examples=False,
            ),
            **errors(400, 404, 409, 503),
        },
    )
    def report(
        self,
        services: NamedDependency[RegistryServices],
        namespace: Segment,
        name: Segment,
        version: Segment,
    ) -> Response[bytes]:
        """The full verification report of a judged version (409 until it is judged)."""
        body = versions.report(services.db, namespace, name, version)
        return Response(body, media_type="application/json")

    @route(
        "/{namespace:str}/{name:str}/versions/{version:str}/{part:str}",
        http_method=["GET", "HEAD"],
        operation_id=_download_operation_id,
        operation_class=DownloadOperation,
        responses=errors(400, 404, 409, 503),
    )
    async def download(
        self,
        request: Request[Any, Any, Any],
        downloads: NamedDependency[DownloadService],
        namespace: Segment,
        name: Segment,
        version: Segment,
        part: FromPath[Part],
    ) -> Response[Any]:
        """A file of an approved version, or of a yanked one (an exact pin)."""
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
        operation_id="yankVersion",
        security=SECURITY,
        responses=errors(400, 401, 403, 404, 408, 409, 413, 415, 503),
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
        """Withdraw an approved version from latest; exact pins still download it."""
        return yanking.set_yanked(
            services.db,
            services.downloads,
            services.queue,
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
        operation_id="unyankVersion",
        security=SECURITY,
        responses=errors(400, 401, 403, 404, 409, 503),
    )
    def unyank(
        self,
        services: NamedDependency[RegistryServices],
        principal: NamedDependency[Principal],
        namespace: Segment,
        name: Segment,
        version: Segment,
    ) -> VersionDetail:
        """Undo a yank."""
        return yanking.set_yanked(
            services.db,
            services.downloads,
            services.queue,
            principal,
            namespace,
            name,
            version,
            yanked=False,
            reason="un-yanked",
        )
