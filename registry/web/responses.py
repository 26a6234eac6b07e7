"""How every page is answered: the template environment (autoescape on, and every string from
outside shown with its control, format and bidi characters as visible escapes), the security
headers, ``ETag``/``Cache-Control`` with ``304`` on ``If-None-Match``, and HTML error pages.
"""

from __future__ import annotations

import hashlib
import logging
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template import TemplateConfig
from markupsafe import Markup

from client.cli.terminal import shown
from registry.domain.plugins.downloads import etag_matches
from registry.errors import RegistryError

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "SECURITY_HEADERS",
    "STATIC_DIR",
    "html_error_handlers",
    "render_page",
    "static_url",
    "template_config",
]

_log = logging.getLogger("clawft.registry")

STATIC_DIR = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""No inline script or style anywhere; ``connect-src 'self'`` lets search-as-you-type fetch
``/search``."""

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

PAGE_CACHE_CONTROL = "public, max-age=30"
"""Pages change with approvals, yanks and download counts: caches keep them half a minute, and
revalidate with the ETag after that."""

STATIC_CACHE_CONTROL = "public, max-age=31536000, immutable"
"""Static files are named with their content hash (``?v=``), so caches keep them for ever."""


@cache
def static_url(name: str) -> str:
    """``/static/<name>?v=<hash of its bytes>``: a changed file gets a new URL."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


def _visible(value: Any) -> Any:
    if isinstance(value, str) and not isinstance(value, Markup):
        return shown(value, newlines=True)
    return value


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    environment = Environment(
        loader=PackageLoader("registry.web", "templates"),
        autoescape=True,
        finalize=_visible,
        undefined=StrictUndefined,
        auto_reload=False,
    )
    environment.globals["static"] = static_url
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def _render(request: Request[Any, Any, Any], template: str, context: dict[str, Any]) -> bytes:
    engine = request.app.template_engine
    if not isinstance(engine, JinjaTemplateEngine):
        raise RuntimeError("the app was built without registry.web.template_config()")
    return engine.get_template(template).render(**context).encode()


def render_page(
    request: Request[Any, Any, Any], template: str, context: dict[str, Any]
) -> Response[bytes]:
    """A page with its security headers and an ``ETag`` (its bytes' digest); ``304`` when
    ``If-None-Match`` names it."""
    body = _render(request, template, context)
    tag = hashlib.sha256(body).hexdigest()[:32]
    headers = {**SECURITY_HEADERS, "ETag": f'"{tag}"', "Cache-Control": PAGE_CACHE_CONTROL}
    if etag_matches(request.headers.get("if-none-match"), tag):
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type=MediaType.HTML, headers=headers)


_TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    409: "Not available",
    413: "Request too large",
    503: "The registry is busy",
}


def error_page(request: Request[Any, Any, Any], status: int, detail: str) -> Response[bytes]:
    title = _TITLES.get(status, "Something went wrong")
    body = _render(request, "error.html", {"title": title, "detail": detail[:300]})
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    if status == 503:
        headers["Retry-After"] = "5"
    return Response(body, status_code=status, media_type=MediaType.HTML, headers=headers)


def _registry_error(request: Request[Any, Any, Any], exc: RegistryError) -> Response[bytes]:
    return error_page(request, exc.status, exc.detail)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    detail = {
        400: "The request's parameters are not valid: a search is at most 200 characters.",
        404: "There is no page at this address.",
    }.get(exc.status_code, "The request could not be answered.")
    return error_page(request, exc.status_code, detail)


def _unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    _log.warning("service unavailable: %s", exc)
    return error_page(request, 503, "A service the registry needs is down; try again soon.")


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    _log.exception("unexpected error rendering a page", exc_info=exc)
    return error_page(request, 500, "The registry failed unexpectedly; the error is in its log.")


def html_error_handlers() -> dict[type[Exception] | int, Any]:
    """The pages' errors as HTML (the JSON API keeps :func:`registry.errors.error_handlers`)."""
    from registry.db import DatabaseUnavailable
    from registry.storage import StorageUnavailable

    return {
        RegistryError: _registry_error,
        HTTPException: _http_error,
        DatabaseUnavailable: _unavailable,
        StorageUnavailable: _unavailable,
        Exception: _unexpected,
    }
