"""Wire types of the namespace and token endpoints (the shared ones live in the client)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from client.registry.schemas import NamespaceDetail, Signer

__all__ = [
    "MAX_SIGNERS",
    "NamespaceDetail",
    "RequestedSigner",
    "Signer",
    "SignerChange",
    "SignersRequested",
    "TokenCreated",
    "TokenRequest",
]

MAX_SIGNERS = 32


class TokenRequest(msgspec.Struct, frozen=True):
    namespaces: Annotated[list[str], msgspec.Meta(min_length=1, max_length=64)]
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 90
    description: Annotated[str, msgspec.Meta(max_length=200)] = ""


class TokenCreated(msgspec.Struct, frozen=True):
    id: str
    token: str
    namespaces: list[str]
    expires_at: str


class RequestedSigner(msgspec.Struct, frozen=True):
    """A Sigstore identity and the OIDC issuer that vouches for it."""

    identity: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    issuer: Annotated[str, msgspec.Meta(max_length=512, pattern=r"^https?://[^\s]+$")]


class SignerChange(msgspec.Struct, frozen=True):
    """``PUT /api/v1/namespaces/{ns}/signers``: who should be able to sign the namespace."""

    signers: Annotated[list[RequestedSigner], msgspec.Meta(max_length=MAX_SIGNERS)]


class SignersRequested(msgspec.Struct, frozen=True):
    namespace: str
    signers: list[Signer]
    status: str
    """``awaiting signature``: an admin signs it with the offline targets key."""
