"""Every tunable of the local authority, in one frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass

DEV_ISSUER = "https://dev-authority.clawft.invalid"
"""OIDC issuer of the tokens the authority mints. The ``.invalid`` top-level domain (RFC 2606)
guarantees it can never name a real identity provider, so a policy that trusts it is visibly a
development policy."""

NOT_FOR_PRODUCTION = (
    "clawft development signing authority: NOT FOR PRODUCTION. It mints identity tokens for "
    "any name it is asked for, so a signature it certifies proves nothing about who signed. "
    "Use it for offline development and tests only."
)


@dataclass(frozen=True)
class AuthorityConfig:
    """Limits and lifetimes of the local signing authority."""

    issuer: str = DEV_ISSUER
    """``iss`` of minted identity tokens, and the only issuer the CA accepts."""

    audience: str = "sigstore"
    """``aud`` every identity token must carry (what sigstore-python requests)."""

    token_lifetime_s: int = 600
    """How long a minted identity token stays valid."""

    certificate_lifetime_s: int = 600
    """Validity of an issued code-signing certificate (Fulcio issues ten-minute certificates)."""

    ca_lifetime_days: int = 3650
    """Validity of the authority's root certificate, created on first start."""

    clock_skew_s: int = 5
    """Leeway when checking token times."""

    max_request_bytes: int = 1_048_576
    """Largest request body accepted by any endpoint; larger ones are refused with 413."""

    request_timeout_s: float = 10.0
    """Socket timeout for one request, so a stalled client cannot hold a thread forever."""

    max_identity_length: int = 512
    """Longest identity (email or URI) a token or certificate may name."""
