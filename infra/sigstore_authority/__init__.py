"""A local Sigstore-compatible signing authority, for offline development and tests only.

NOT FOR PRODUCTION: it mints identity tokens for any name it is asked for.

It speaks the parts of Fulcio v2 (``POST /api/v2/signingCert``) and Rekor v1
(``POST /api/v1/log/entries``) that sigstore-python's signer uses, with its own CA, CT log key
and transparency-log key, all persisted in a state directory together with the log (SQLite),
so a restart keeps the same trust configuration and every entry::

    authority = SigningAuthority(state_dir)
    with AuthorityServer(authority, port=0) as server:
        trust_config = server.trust_config()       # a ClientTrustConfig, as a dict
        token = authority.tokens.mint("alice@example.com")
"""

from __future__ import annotations

from infra.sigstore_authority.authority import SigningAuthority, mint_identity_token
from infra.sigstore_authority.errors import AuthorityError
from infra.sigstore_authority.server import AuthorityServer
from infra.sigstore_authority.settings import DEV_ISSUER, NOT_FOR_PRODUCTION, AuthorityConfig

__all__ = [
    "DEV_ISSUER",
    "NOT_FOR_PRODUCTION",
    "AuthorityConfig",
    "AuthorityError",
    "AuthorityServer",
    "SigningAuthority",
    "mint_identity_token",
]
