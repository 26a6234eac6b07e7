"""The marketplace's HTML routes: thin handlers over :class:`~registry.web.pages.Marketplace`.

Not in the OpenAPI schema (the JSON API is the contract); errors are HTML pages with the same
security headers as every page.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import Parameter

from registry.web.pages import Marketplace
from registry.web.responses import html_error_handlers, render_page

__all__ = ["WebController"]

Name = Annotated[str, Parameter(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
Version = Annotated[str, Parameter(max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")]
AnyRequest = Request[Any, Any, Any]


class WebController(Controller):
    path = "/"
    include_in_schema = False
    exception_handlers = html_error_handlers()

    @get("/", sync_to_thread=True)
    def home(
        self, request: AnyRequest, marketplace: NamedDependency[Marketplace]
    ) -> Response[bytes]:
        return render_page(request, "home.html", {"recent": marketplace.recent()})

    @get("/search", sync_to_thread=True)
    def search(
        self,
        request: AnyRequest,
        marketplace: NamedDependency[Marketplace],
        q: Annotated[str, Parameter(max_length=200)] = "",
        namespace: Annotated[str, Parameter(max_length=64)] = "",
        permission: Annotated[Literal["", "no-network", "no-files"], Parameter()] = "",
        page: Annotated[int, Parameter(ge=1, le=10_000)] = 1,
    ) -> Response[bytes]:
        view = marketplace.search(q.strip(), namespace.strip(), permission, page)
        return render_page(request, "search.html", {"view": view})

    @get("/plugins/{namespace:str}/{name:str}", sync_to_thread=True)
    def plugin(
        self,
        request: AnyRequest,
        marketplace: NamedDependency[Marketplace],
        namespace: Name,
        name: Name,
    ) -> Response[bytes]:
        page = marketplace.plugin_page(namespace, name, None)
        return render_page(request, "plugin.html", {"page": page})

    @get("/plugins/{namespace:str}/{name:str}/{version:str}", sync_to_thread=True)
    def version(
        self,
        request: AnyRequest,
        marketplace: NamedDependency[Marketplace],
        namespace: Name,
        name: Name,
        version: Version,
    ) -> Response[bytes]:
        page = marketplace.plugin_page(namespace, name, version)
        return render_page(request, "plugin.html", {"page": page})

    @get("/namespaces/{namespace:str}", sync_to_thread=True)
    def namespace(
        self, request: AnyRequest, marketplace: NamedDependency[Marketplace], namespace: Name
    ) -> Response[bytes]:
        return render_page(request, "namespace.html", {"ns": marketplace.namespace(namespace)})
