"""HTTP handlers of namespaces and API tokens."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from litestar import Controller, Request, delete, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, Parameter

from registry.db import ApiToken, Publisher
from registry.db.models import utcnow
from registry.domain.publishers.schemas import NamespaceDetail, TokenCreated, TokenRequest
from registry.domain.publishers.services import authenticate, create_token, namespace_detail
from registry.errors import NotFound, RateLimited
from registry.services import RegistryServices

Name = Annotated[str, Parameter(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]


class NamespaceController(Controller):
    path = "/api/v1/namespaces"
    tags = ["namespaces"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/{namespace:str}", sync_to_thread=True)
    def namespace(self, state: State, namespace: Name) -> NamespaceDetail:
        services: RegistryServices = state.services
        with services.db.session() as session:
            return namespace_detail(session, namespace)


class TokenController(Controller):
    path = "/api/v1/tokens"
    tags = ["tokens"]  # noqa: RUF012 - Litestar reads this class attribute

    @post("/", sync_to_thread=True, status_code=201)
    def create(
        self, request: Request[Any, Any, Any], state: State, data: JSONBody[TokenRequest]
    ) -> TokenCreated:
        services: RegistryServices = state.services
        with services.db.session() as session:
            principal = authenticate(session, request.headers.get("authorization"))
            wait = services.token_limiter.acquire(principal.publisher_id)
            if wait is not None:
                raise RateLimited(
                    f"too many token requests; retry in {wait:g} s",
                    headers={"Retry-After": str(int(wait))},
                )
            publisher = session.get(Publisher, principal.publisher_id)
            assert publisher is not None
            return create_token(
                session,
                publisher,
                data.namespaces,
                days=data.expires_in_days,
                description=data.description,
            )

    @delete("/{token_id:str}", sync_to_thread=True, status_code=204)
    def revoke(
        self,
        request: Request[Any, Any, Any],
        state: State,
        token_id: Annotated[str, Parameter(max_length=32)],
    ) -> None:
        services: RegistryServices = state.services
        with services.db.session() as session:
            principal = authenticate(session, request.headers.get("authorization"))
            token = session.scalar(
                sa.select(ApiToken).where(
                    ApiToken.id == token_id, ApiToken.publisher_id == principal.publisher_id
                )
            )
            if token is None:
                raise NotFound("no such token among yours")
            token.revoked_at = token.revoked_at or utcnow()
