"""HTTP handlers of namespaces and API tokens."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter

from registry.auth import PRINCIPAL, namespace_in_scope, token_required
from registry.domain.publishers.schemas import (
    NamespaceDetail,
    SignerChange,
    SignersRequested,
    TokenCreated,
    TokenRequest,
)
from registry.domain.publishers.services import (
    Principal,
    create_token_for,
    namespace_detail,
    request_signers,
    revoke_token,
)
from registry.openapi import SECURITY, NamespaceOperation, TokenOperation, errors
from registry.services import RegistryServices
from registry.settings import MAX_JSON_BODY_BYTES

Name = Annotated[str, Parameter(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]


class NamespaceController(Controller):
    path = "/api/v1/namespaces"
    tags = ["namespaces"]  # noqa: RUF012 - Litestar reads this class attribute

    @get(
        "/{namespace:str}",
        sync_to_thread=True,
        operation_id="getNamespace",
        operation_class=NamespaceOperation,
        responses=errors(400, 404, 503),
    )
    def namespace(
        self, services: NamedDependency[RegistryServices], namespace: Name
    ) -> NamespaceDetail:
        """A namespace: its owner, its trusted signers and its plugins."""
        with services.db.session() as session:
            return namespace_detail(session, namespace)

    @put(
        "/{namespace:str}/signers",
        sync_to_thread=True,
        status_code=202,
        guards=[token_required, namespace_in_scope],
        dependencies=PRINCIPAL,
        request_max_body_size=MAX_JSON_BODY_BYTES,
        operation_id="requestSigners",
        security=SECURITY,
        responses=errors(400, 401, 403, 404, 408, 413, 415, 503),
    )
    def request_signers(
        self,
        services: NamedDependency[RegistryServices],
        principal: NamedDependency[Principal],
        namespace: Name,
        data: JSONBody[SignerChange],
    ) -> SignersRequested:
        """Ask for new trusted signers; they apply once an admin signs them offline."""
        return request_signers(services.db, principal, namespace, data.signers)


class TokenController(Controller):
    path = "/api/v1/tokens"
    tags = ["tokens"]  # noqa: RUF012 - Litestar reads this class attribute

    @post(
        "/",
        sync_to_thread=True,
        status_code=201,
        guards=[token_required],
        dependencies=PRINCIPAL,
        request_max_body_size=MAX_JSON_BODY_BYTES,
        operation_id="createToken",
        operation_class=TokenOperation,
        security=SECURITY,
        responses=errors(400, 401, 403, 408, 413, 415, 429, 503),
    )
    def create(
        self,
        services: NamedDependency[RegistryServices],
        principal: NamedDependency[Principal],
        data: JSONBody[TokenRequest],
    ) -> TokenCreated:
        """A token for some of this token's namespaces, expiring no later than it."""
        return create_token_for(services.db, principal, data, services.token_limiter)

    @delete(
        "/{token_id:str}",
        sync_to_thread=True,
        status_code=204,
        guards=[token_required],
        dependencies=PRINCIPAL,
        operation_id="revokeToken",
        security=SECURITY,
        responses=errors(400, 401, 404, 503),
    )
    def revoke(
        self,
        services: NamedDependency[RegistryServices],
        principal: NamedDependency[Principal],
        token_id: Annotated[str, Parameter(max_length=32)],
    ) -> None:
        """Revoke one of the publisher's tokens, and every token created from it."""
        with services.db.session() as session:
            revoke_token(session, principal, token_id)
