"""Publishers, namespaces, trusted signers and API tokens."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.db import (
    ApiToken,
    Database,
    Namespace,
    Plugin,
    Publisher,
    SignerRequest,
    TrustedSigner,
)
from registry.db.models import utcnow
from registry.domain.publishers.schemas import (
    NamespaceDetail,
    RequestedSigner,
    Signer,
    SignersRequested,
    TokenCreated,
    TokenRequest,
)
from registry.domain.publishers.tokens import issue_token, secret_matches, split_token
from registry.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    InvalidUpload,
    NotFound,
    Unauthorized,
)
from registry.ratelimit import Limiter, rate_limit

__all__ = [
    "NAME",
    "Principal",
    "authenticate",
    "bootstrap_publisher",
    "create_token",
    "create_token_for",
    "namespace_detail",
    "request_signers",
    "revoke_token",
    "trusted_signers",
]

NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


LAST_USED_RESOLUTION = timedelta(minutes=1)
"""How exact a token's ``last_used_at`` is: written at most once a minute, so authenticated
requests do not queue one database write each (SQLite has one writer)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an API token speaks for, and how far."""

    publisher_id: str
    publisher: str
    namespaces: tuple[str, ...]
    token_id: str
    expires_at: datetime

    def require_namespace(self, namespace: str) -> None:
        if namespace not in self.namespaces:
            raise Forbidden(f"this token may not act on namespace {namespace!r}")

    @property
    def actor(self) -> str:
        return f"publisher:{self.publisher}"


def authenticate(session: Session, authorization: str | None) -> Principal:
    """The principal of a ``Bearer`` token; :class:`Unauthorized` with the reason otherwise."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthorized(
            "send an API token as 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    parts = split_token(authorization.removeprefix("Bearer ").strip())
    if parts is None:
        raise Unauthorized("the token is malformed", headers={"WWW-Authenticate": "Bearer"})
    lookup_id, secret = parts
    token = session.scalar(sa.select(ApiToken).where(ApiToken.lookup_id == lookup_id))
    if token is None or not secret_matches(secret, token.secret_hash):
        raise Unauthorized("the token is not valid", headers={"WWW-Authenticate": "Bearer"})
    now = utcnow()
    if token.revoked_at is not None:
        raise Unauthorized("the token was revoked")
    if token.parent_id is not None:
        # Revoking a token revokes what it created (see revoke_token); a child created while
        # its parent was being revoked is caught here.
        parent = session.get(ApiToken, token.parent_id)
        if parent is None or parent.revoked_at is not None:
            raise Unauthorized("the token that created this token was revoked")
    if token.expires_at <= now:
        raise Unauthorized("the token has expired; create a new one")
    if token.publisher.disabled:
        raise Unauthorized("the publisher of this token is disabled")
    last = token.last_used_at
    if last is None or now - last >= LAST_USED_RESOLUTION:
        token.last_used_at = now
    return Principal(
        token.publisher_id,
        token.publisher.name,
        tuple(token.namespaces),
        token.id,
        token.expires_at,
    )


def create_token(
    session: Session,
    publisher: Publisher,
    namespaces: list[str],
    *,
    days: int,
    description: str,
    parent: Principal | None = None,
    limiter: Limiter | None = None,
) -> TokenCreated:
    """A new token of ``publisher`` for ``namespaces``, valid ``days``.

    Created by a token (``parent``), it may cover only namespaces the parent covers and may
    not outlive it: a narrow or short-lived token can never mint a wider or longer one. An
    admin (no parent) may give any of the publisher's namespaces.
    """
    owned = set(
        session.scalars(sa.select(Namespace.name).where(Namespace.owner_id == publisher.id))
    )
    foreign = sorted(set(namespaces) - owned)
    if foreign:
        raise Forbidden(f"{publisher.name} does not own namespace(s) {', '.join(foreign)}")
    expires = utcnow() + timedelta(days=days)
    if parent is not None:
        wider = sorted(set(namespaces) - set(parent.namespaces))
        if wider:
            raise Forbidden(
                f"this token covers {', '.join(parent.namespaces)}; it cannot create a token "
                f"for {', '.join(wider)}"
            )
        expires = min(expires, parent.expires_at)
    if limiter is not None:  # counted per publisher, once the request may act
        rate_limit(limiter, publisher.id, "token requests")
    issued = issue_token()
    row = ApiToken(
        lookup_id=issued.lookup_id,
        secret_hash=issued.secret_hash,
        publisher=publisher,
        namespaces=sorted(set(namespaces)),
        description=description,
        expires_at=expires,
        parent_id=parent.token_id if parent is not None else None,
    )
    session.add(row)
    session.flush()
    return TokenCreated(row.id, issued.token, row.namespaces, expires.isoformat())


def create_token_for(
    db: Database, principal: Principal, request: TokenRequest, limiter: Limiter
) -> TokenCreated:
    """The token a token asks for (``POST /api/v1/tokens``): see :func:`create_token`."""
    with db.session() as session:
        publisher = session.get(Publisher, principal.publisher_id)
        if publisher is None:
            raise NotFound("the publisher of this token no longer exists")
        return create_token(
            session,
            publisher,
            request.namespaces,
            days=request.expires_in_days,
            description=request.description,
            parent=principal,
            limiter=limiter,
        )


def revoke_token(session: Session, principal: Principal, token_id: str) -> None:
    """Revoke one of the publisher's tokens and every token created from it, transitively."""
    token = session.scalar(
        sa.select(ApiToken).where(
            ApiToken.id == token_id, ApiToken.publisher_id == principal.publisher_id
        )
    )
    if token is None:
        raise NotFound("no such token among yours")
    now = utcnow()
    pending = [token]
    while pending:
        current = pending.pop()
        current.revoked_at = current.revoked_at or now
        pending.extend(session.scalars(sa.select(ApiToken).where(ApiToken.parent_id == current.id)))


def bootstrap_publisher(
    session: Session,
    name: str,
    namespaces: list[str],
    signers: list[Signer],
    *,
    days: int,
) -> TokenCreated:
    """Create a publisher owning ``namespaces`` with trusted ``signers``; return its token."""
    for value in (name, *namespaces):
        if not NAME.match(value):
            raise InvalidUpload(f"{value!r} is not a valid name (lowercase a-z, 0-9, '-')")
    if session.scalar(sa.select(Publisher).where(Publisher.name == name)) is not None:
        raise Conflict(f"publisher {name!r} exists already")
    publisher = Publisher(name=name)
    session.add(publisher)
    for namespace in namespaces:
        if session.scalar(sa.select(Namespace).where(Namespace.name == namespace)) is not None:
            raise Conflict(f"namespace {namespace!r} belongs to another publisher")
        session.add(
            Namespace(
                name=namespace,
                owner=publisher,
                signers=[TrustedSigner(identity=s.identity, issuer=s.issuer) for s in signers],
            )
        )
    session.flush()
    return create_token(session, publisher, namespaces, days=days, description="bootstrap")


def namespace_detail(session: Session, name: str) -> NamespaceDetail:
    from registry.domain.plugins.search import summaries

    namespace = session.scalar(sa.select(Namespace).where(Namespace.name == name))
    if namespace is None:
        raise NotFound(f"no namespace {name!r}")
    plugins = session.scalars(
        sa.select(Plugin).where(Plugin.namespace_id == namespace.id).order_by(Plugin.name)
    ).all()
    return NamespaceDetail(
        name=namespace.name,
        owner=namespace.owner.name,
        trusted_signers=[Signer(s.identity, s.issuer) for s in namespace.signers],
        plugins=summaries(session, list(plugins)),
    )


def request_signers(
    db: Database, principal: Principal, namespace: str, signers: Sequence[RequestedSigner]
) -> SignersRequested:
    """Record an owner's wish to change a namespace's signers; an admin's offline signature
    applies it (``clawft-registry admin sign-signers``)."""
    principal.require_namespace(namespace)
    unique = sorted({(s.identity, s.issuer) for s in signers})
    for identity, issuer in unique:
        if not identity or not issuer or len(identity) > 512 or len(issuer) > 512:
            raise InvalidRequest("a signer is an identity and an issuer of at most 512 characters")
        if not issuer.startswith(("https://", "http://")):
            raise InvalidRequest(f"the issuer {issuer[:80]!r} is not an OIDC issuer URL")
    with db.session() as session:
        row = session.scalar(sa.select(Namespace).where(Namespace.name == namespace))
        if row is None:
            raise NotFound(f"no namespace {namespace}")
        request = session.get(SignerRequest, row.id) or SignerRequest(namespace_id=row.id)
        request.signers = [{"identity": i, "issuer": s} for i, s in unique]
        request.requested_by = principal.actor
        request.requested_at = utcnow()
        session.add(request)
    return SignersRequested(namespace, [Signer(i, s) for i, s in unique], "awaiting signature")


def trusted_signers(session: Session, namespace: str) -> list[Signer]:
    row = session.scalar(sa.select(Namespace).where(Namespace.name == namespace))
    return [] if row is None else [Signer(s.identity, s.issuer) for s in row.signers]
