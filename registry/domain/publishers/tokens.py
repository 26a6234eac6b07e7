"""API tokens: random, shown once, stored only as a hash, scoped to namespaces, revocable,
expiring. A token reads ``clawft_<id>_<secret>``; the id finds the row, the secret is checked
against its SHA-256 in constant time (the secret has 256 bits of entropy, so a fast hash is
enough: there is nothing to brute-force that a slow KDF would protect)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "clawft"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    lookup_id: str
    """The public half: stored in clear, finds the row."""
    secret_hash: str
    """SHA-256 of the secret: all the database keeps of it."""
    token: str
    """What the user is shown, once."""


def issue_token() -> IssuedToken:
    lookup_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return IssuedToken(lookup_id, hash_secret(secret), f"{PREFIX}_{lookup_id}_{secret}")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """``(lookup id, secret)`` of a well-formed token, else None."""
    prefix, sep, rest = token.partition("_")
    lookup_id, sep2, secret = rest.partition("_")
    if prefix != PREFIX or not sep or not sep2 or len(lookup_id) != 16 or not secret:
        return None
    if len(token) > 200:
        return None
    return lookup_id, secret


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
