"""The marketplace's routes: the pages (with their :class:`Marketplace`) and ``/static/``."""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.static_files import create_static_files_router

from registry.services import RegistryServices
from registry.web.controllers import WebController
from registry.web.pages import Marketplace
from registry.web.responses import STATIC_DIR

__all__ = ["web_handlers"]


def _static_headers(response: Any) -> Any:
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def web_handlers(services: RegistryServices) -> list[Router]:
    """The pages (with their :class:`Marketplace`) and ``/static/``."""
    marketplace = Marketplace(services)
    pages = Router(
        path="/",
        route_handlers=[WebController],
        dependencies={
            "marketplace": Provide(lambda: marketplace, sync_to_thread=False, use_cache=True)
        },
        include_in_schema=False,
    )
    static = create_static_files_router(
        path="/static",
        directories=[STATIC_DIR],
        cache_control=CacheControlHeader(max_age=31_536_000, public=True, immutable=True),
        after_request=_static_headers,
        include_in_schema=False,
    )
    return [pages, static]
