"""Domain errors of the registry, and the one map that turns them into HTTP responses.

Services raise these, never HTTP exceptions; :func:`error_handlers` gives Litestar the map.
Every response body is ``{"error": code, "detail": message}``.

    RegistryError                 (500 internal)
     ├── Unauthorized             401 unauthorized: no, bad, expired or revoked token
     ├── Forbidden                403 forbidden: the token does not cover that namespace
     ├── NotFound                 404 not_found
     ├── Conflict                 409 conflict
     │    ├── VersionExists       409 version_exists: versions are immutable and never reused
     │    └── NotApproved         409 not_approved: pending, verifying or rejected
     ├── InvalidUpload            400 invalid_upload: a malformed upload or part
     ├── InvalidRequest           400 bad_request: a malformed request body or parameter
     ├── RequestTimeout           408 request_timeout: the body came too slowly
     ├── PayloadTooLarge          413 too_large
     ├── UnsupportedMediaType     415 unsupported_media_type
     ├── RateLimited              429 rate_limited (with Retry-After)
     └── ServiceUnavailable       503 unavailable: database, object store or broker down
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException

_log = logging.getLogger("clawft.registry")


class RegistryError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}


class Unauthorized(RegistryError):
    status, code = 401, "unauthorized"


class Forbidden(RegistryError):
    status, code = 403, "forbidden"


class NotFound(RegistryError):
    status, code = 404, "not_found"


class Conflict(RegistryError):
    status, code = 409, "conflict"


class VersionExists(Conflict):
    code = "version_exists"


class NotApproved(Conflict):
    code = "not_approved"


class InvalidUpload(RegistryError):
    status, code = 400, "invalid_upload"


class InvalidRequest(RegistryError):
    status, code = 400, "bad_request"


class RequestTimeout(RegistryError):
    status, code = 408, "request_timeout"


class PayloadTooLarge(RegistryError):
    status, code = 413, "too_large"


class UnsupportedMediaType(RegistryError):
    status, code = 415, "unsupported_media_type"


class RateLimited(RegistryError):
    status, code = 429, "rate_limited"


class ServiceUnavailable(RegistryError):
    status, code = 503, "unavailable"


def error_body(code: str, detail: str) -> dict[str, str]:
    return {"error": code, "detail": detail}


def _registry_error(_request: Request[Any, Any, Any], exc: RegistryError) -> Response[Any]:
    if exc.status >= 500:
        _log.error("%s: %s", exc.code, exc.detail)
    return Response(
        error_body(exc.code, exc.detail),
        status_code=exc.status,
        headers=exc.headers,
        media_type=MediaType.JSON,
    )


MAX_ECHOED_CHARS = 300
"""How much of a request an error answer may repeat: enough to recognise, never all of it."""


def _echo(text: str) -> str:
    return text if len(text) <= MAX_ECHOED_CHARS else text[: MAX_ECHOED_CHARS - 1] + "…"


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    codes = {
        400: "bad_request",
        401: "unauthorized",
        404: "not_found",
        405: "method_not_allowed",
        413: "too_large",
        415: "unsupported_media_type",
        429: "rate_limited",
    }
    # Litestar's messages name the request URL; the path is enough (a 100 KB query string
    # would otherwise come back in full), and each detail is cut.
    detail = _echo(str(exc.detail).replace(str(request.url), request.url.path))
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        problems = [
            {key: _echo(str(value)) for key, value in item.items()}
            if isinstance(item, dict)
            else _echo(str(item))
            for item in exc.extra[:10]
        ]
        detail = f"{detail}: {problems}"
    return Response(
        error_body(codes.get(exc.status_code, "error"), detail[: 4 * MAX_ECHOED_CHARS]),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type=MediaType.JSON,
    )


def _unexpected(_request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    _log.exception("unexpected error", exc_info=exc)
    return Response(
        error_body("internal", "the registry failed unexpectedly; the error is in its log"),
        status_code=500,
        media_type=MediaType.JSON,
    )


def _unavailable(_request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A backing service is down: 503, nothing half-done, and the client may retry."""
    _log.warning("service unavailable: %s", exc)
    return Response(
        error_body("unavailable", f"{exc}; nothing was changed, try again later"),
        status_code=503,
        headers={"Retry-After": "5"},
        media_type=MediaType.JSON,
    )


def error_handlers() -> dict[type[Exception] | int, Any]:
    from registry.db import DatabaseUnavailable
    from registry.storage import StorageUnavailable

    return {
        RegistryError: _registry_error,
        DatabaseUnavailable: _unavailable,
        StorageUnavailable: _unavailable,
        NotFoundException: _http_error,
        HTTPException: _http_error,
        Exception: _unexpected,
    }
