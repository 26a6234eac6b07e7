"""Authentication and namespace scope, written once as Litestar guards.

``token_required`` turns the ``Authorization: Bearer`` token into the :class:`Principal` it
speaks for (401 otherwise) before anything else of the request is read, body included;
``namespace_in_scope`` then refuses (403) a route's ``{namespace}`` the token does not cover.
Handlers receive the principal through the ``principal`` dependency.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.concurrency import sync_to_thread
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler

from registry.domain.publishers.services import Principal, authenticate
from registry.services import RegistryServices, services_of

__all__ = ["PRINCIPAL", "namespace_in_scope", "token_required"]


def _authenticate(services: RegistryServices, authorization: str | None) -> Principal:
    with services.db.session() as session:
        return authenticate(session, authorization)


async def token_required(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    services = services_of(connection.app)
    principal = await sync_to_thread(
        _authenticate, services, connection.headers.get("authorization")
    )
    connection.state.principal = principal


def namespace_in_scope(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    principal: Principal = connection.state.principal
    principal.require_namespace(connection.path_params["namespace"])


def _principal(request: Request[Any, Any, Any]) -> Principal:
    principal: Principal = request.state.principal
    return principal


PRINCIPAL = {"principal": Provide(_principal, sync_to_thread=False)}
"""The ``principal`` dependency of handlers behind :func:`token_required`."""
