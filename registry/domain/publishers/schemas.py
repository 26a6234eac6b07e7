"""Wire types of the namespace and token endpoints (the shared ones live in the client)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from client.registry.schemas import NamespaceDetail, Signer

__all__ = ["NamespaceDetail", "Signer", "TokenCreated", "TokenRequest"]


class TokenRequest(msgspec.Struct, frozen=True):
    namespaces: Annotated[list[str], msgspec.Meta(min_length=1, max_length=64)]
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 90
    description: Annotated[str, msgspec.Meta(max_length=200)] = ""


class TokenCreated(msgspec.Struct, frozen=True):
    id: str
    token: str
    namespaces: list[str]
    expires_at: str
