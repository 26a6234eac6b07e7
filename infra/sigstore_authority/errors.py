"""Errors the authority raises while handling a request.

Every refusal is an ``AuthorityError`` carrying the HTTP status the server answers with, so
the service layer never builds HTTP responses and the HTTP layer never guesses a status::

    AuthorityError (status 400)          the request is malformed or refers to nothing valid
    ├── Unauthorized (401)               missing, forged, expired or wrongly-aimed identity token
    ├── NotFound (404)                   no such endpoint or log entry
    ├── MethodNotAllowed (405)           the endpoint exists but not for this method
    ├── Conflict (409)                   the proposed log entry is already in the log
    ├── LengthRequired (411)             a body without Content-Length
    ├── PayloadTooLarge (413)            a body above the configured bound
    └── UnsupportedMediaType (415)       a body that is not application/json
"""

from __future__ import annotations

from http import HTTPStatus


class AuthorityError(Exception):
    """A request the authority refuses; ``str(error)`` is the message sent to the client."""

    status: HTTPStatus = HTTPStatus.BAD_REQUEST


class Unauthorized(AuthorityError):
    status = HTTPStatus.UNAUTHORIZED


class NotFound(AuthorityError):
    status = HTTPStatus.NOT_FOUND


class MethodNotAllowed(AuthorityError):
    status = HTTPStatus.METHOD_NOT_ALLOWED


class Conflict(AuthorityError):
    status = HTTPStatus.CONFLICT


class LengthRequired(AuthorityError):
    status = HTTPStatus.LENGTH_REQUIRED


class PayloadTooLarge(AuthorityError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class UnsupportedMediaType(AuthorityError):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
