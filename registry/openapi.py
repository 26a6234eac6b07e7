"""The registry's HTTP contract, as OpenAPI: what Litestar cannot infer from the handlers.

Litestar builds the schema from the handlers' signatures; this module adds the rest, declared
next to the routes that use it:

* the error body every failure answers with (:class:`ErrorBody`) and, per operation, every
  status it can answer (:func:`errors`), in place of Litestar's own 400 shape, which this
  server never sends;
* the bearer token scheme (``bearerAuth``) and which operations need it (:data:`SECURITY`);
* the bodies Litestar does not parse itself: the multipart publish body
  (:class:`PublishOperation`) and the bytes of a download with their headers
  (:class:`DownloadOperation`);
* links, so a client (and schemathesis' stateful phase) can follow publish → the version →
  its downloads and report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import msgspec
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Components,
    Link,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
    SecurityScheme,
)

__all__ = [
    "SECURITY",
    "DownloadOperation",
    "ErrorBody",
    "NamespaceOperation",
    "PluginOperation",
    "PublishOperation",
    "SearchOperation",
    "TokenOperation",
    "VersionOperation",
    "errors",
    "openapi_config",
]

API_VERSION = "1.0.0"


class ErrorBody(msgspec.Struct, frozen=True):
    """Every error answer: a stable code for machines and a message for people."""

    error: str
    """``unauthorized``, ``forbidden``, ``not_found``, ``conflict``, ``version_exists``,
    ``not_approved``, ``invalid_upload``, ``bad_request``, ``request_timeout``, ``too_large``,
    ``unsupported_media_type``, ``rate_limited``, ``unavailable``, ``method_not_allowed``."""
    detail: str
    """What went wrong and what to do; it repeats at most 300 characters of the request."""


_MEANINGS = {
    400: "The request is malformed: a parameter, a body or a part (error: bad_request or "
    "invalid_upload).",
    401: "No token, or a malformed, unknown, expired or revoked one (error: unauthorized).",
    403: "The token does not cover this namespace, or may not do this (error: forbidden).",
    404: "No such plugin, version, namespace or token (error: not_found).",
    408: "The request body did not arrive in time (error: request_timeout).",
    409: "The version exists already (version_exists), is not approved (not_approved), or "
    "changed meanwhile (conflict).",
    413: "The body is larger than allowed (error: too_large).",
    415: "The body is not of the media type this operation takes (error: unsupported_media_type).",
    429: "Too many requests from this publisher; retry after Retry-After seconds (error: "
    "rate_limited).",
    503: "The database, object store or broker is down; nothing was changed, retry later "
    "(error: unavailable).",
}


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """The error answers an operation can give, each with the :class:`ErrorBody`."""
    return {
        status: ResponseSpec(
            data_container=ErrorBody, description=_MEANINGS[status], generate_examples=False
        )
        for status in statuses
    }


SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]
"""Operations that need an API token (``Authorization: Bearer <token>``)."""


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="clawft-registry",
        version=API_VERSION,
        description=(
            "The plugin registry of the clawft agent: signed WebAssembly components, verified "
            "in a sandbox, served only when approved. Errors are always "
            '{"error": code, "detail": message}.'
        ),
        components=Components(
            security_schemes={
                "bearerAuth": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="An API token (clawft_<id>_<secret>) of a publisher.",
                )
            }
        ),
        use_handler_docstrings=True,
    )


def _binary(description: str) -> Schema:
    return Schema(type=OpenAPIType.STRING, format="binary", description=description)  # type: ignore[arg-type]


def _header(description: str, *, pattern: str | None = None) -> OpenAPIHeader:
    return OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING, pattern=pattern), description=description
    )


def _link(operation_id: str, description: str, **parameters: str) -> Link:
    return Link(operation_id=operation_id, parameters=dict(parameters), description=description)


_PLUGIN_IN_PATH = {"namespace": "$request.path.namespace", "name": "$request.path.name"}
"""The plugin this request's path names."""


@dataclass
class _LinkedOperation(Operation):
    """An operation whose success answer links to what a client does next with it."""

    SUCCESS: ClassVar[str] = "200"
    LINKS: ClassVar[dict[str, Link]] = {}

    def __post_init__(self) -> None:
        answer = self.responses.get(self.SUCCESS) if self.responses else None
        if isinstance(answer, OpenAPIResponse):
            answer.links = dict(self.LINKS)


@dataclass
class PublishOperation(_LinkedOperation):
    """``publishPlugin``: the multipart body the handler parses itself, and a link to the
    version it created."""

    SUCCESS: ClassVar[str] = "202"
    LINKS: ClassVar[dict[str, Link]] = {
        "getVersion": _link(
            "getVersion",
            "The version just published: its status and, once judged, its verdict.",
            namespace="$response.body#/namespace",
            name="$response.body#/plugin",
            version="$response.body#/version",
        )
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        self.request_body = RequestBody(
            required=True,
            description=(
                "The plugin: three file parts, sent as files (a part that is not a file, or "
                "declares a charset other than UTF-8, is refused)."
            ),
            content={
                "multipart/form-data": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        required=["manifest", "component"],
                        additional_properties=False,
                        properties={
                            "manifest": _binary("clawft-plugin.toml, as a file (at most 64 KiB)."),
                            "component": _binary(
                                "The WebAssembly component, as a file named as the manifest's "
                                "component field (at most 300 KiB)."
                            ),
                            "bundle": _binary(
                                "The Sigstore bundle of the plugin (at most 1 MiB); required "
                                "when the namespace has trusted signers."
                            ),
                        },
                    )
                )
            },
        )


def _first_plugin_links(pointer: str) -> dict[str, Link]:
    """Links to the first plugin of a list in the answer (``pointer`` to the list)."""
    return {
        "getPlugin": _link(
            "getPlugin",
            "The first plugin listed, with its versions.",
            namespace=f"$response.body#{pointer}/0/namespace",
            name=f"$response.body#{pointer}/0/plugin",
        ),
        "getLatestVersion": _link(
            "getLatestVersion",
            "The latest version of the first plugin listed.",
            namespace=f"$response.body#{pointer}/0/namespace",
            name=f"$response.body#{pointer}/0/plugin",
        ),
    }


@dataclass
class SearchOperation(_LinkedOperation):
    """``searchPlugins``: links to the plugins found."""

    LINKS: ClassVar[dict[str, Link]] = _first_plugin_links("/items")


@dataclass
class NamespaceOperation(_LinkedOperation):
    """``getNamespace``: links to the namespace's plugins."""

    LINKS: ClassVar[dict[str, Link]] = _first_plugin_links("/plugins")


@dataclass
class PluginOperation(_LinkedOperation):
    """``getPlugin``: links to its versions."""

    LINKS: ClassVar[dict[str, Link]] = {
        "getVersion": _link(
            "getVersion",
            "The first version listed.",
            **_PLUGIN_IN_PATH,
            version="$response.body#/versions/0/version",
        ),
        "getLatestVersion": _link(
            "getLatestVersion", "The highest approved version.", **_PLUGIN_IN_PATH
        ),
    }


@dataclass
class VersionOperation(_LinkedOperation):
    """``getVersion`` / ``getLatestVersion``: links to the version's downloads and report (the
    version from the answer: ``latest`` has none in its path)."""

    LINKS: ClassVar[dict[str, Link]] = {
        "downloadComponent": _link(
            "downloadPart",
            "The component's bytes.",
            **_PLUGIN_IN_PATH,
            version="$response.body#/version",
            part="component",
        ),
        "downloadManifest": _link(
            "downloadPart",
            "The manifest's bytes.",
            **_PLUGIN_IN_PATH,
            version="$response.body#/version",
            part="manifest",
        ),
        "getReport": _link(
            "getVersionReport",
            "The verification report.",
            **_PLUGIN_IN_PATH,
            version="$response.body#/version",
        ),
    }


@dataclass
class TokenOperation(_LinkedOperation):
    """``createToken``: a link to revoking the token just created."""

    SUCCESS: ClassVar[str] = "201"
    LINKS: ClassVar[dict[str, Link]] = {
        "revokeToken": _link(
            "revokeToken",
            "Revoke the token just created (and every token it created).",
            token_id="$response.body#/id",  # noqa: S106 - a runtime expression, not a secret
        )
    }


_DOWNLOAD_HEADERS = {
    "ETag": _header('The file\'s sha256 in quotes: "<64 hex digits>".'),
    "Clawft-Digest": _header("sha256=<64 hex digits>", pattern="^sha256=[0-9a-f]{64}$"),
    "Clawft-Yanked": _header("true when the version is yanked (an exact pin still gets it)."),
    "Cache-Control": _header("public, max-age=31536000, immutable: the bytes never change."),
}


@dataclass
class DownloadOperation(Operation):
    """``downloadPart`` / ``headPart``: bytes, not JSON, with their digest headers; 304 for a
    matching If-None-Match, 302 to a presigned URL when the store hands them out."""

    def __post_init__(self) -> None:
        responses = self.responses if self.responses is not None else {}
        body = (
            None
            if self.operation_id == "headPart"
            else {"application/octet-stream": OpenAPIMediaType(schema=_binary("The file's bytes."))}
        )
        responses["200"] = OpenAPIResponse(
            description="The file (HEAD: its headers only).",
            content=body,
            headers={
                **_DOWNLOAD_HEADERS,
                "Content-Length": _header("The file's size in bytes.", pattern="^[0-9]+$"),
                "Content-Disposition": _header("attachment; filename=<the file's name>"),
            },
        )
        responses["302"] = OpenAPIResponse(
            description="The bytes are at a presigned URL of the object store.",
            headers={**_DOWNLOAD_HEADERS, "Location": _header("The presigned URL.")},
        )
        responses["304"] = OpenAPIResponse(
            description="If-None-Match named this file's ETag: the copy the client has is it.",
            headers=dict(_DOWNLOAD_HEADERS),
        )
        self.responses = responses
