"""Identity tokens: sigstore-python accepts the minted ones; the CA side rejects the rest."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore.oidc import IdentityToken

from infra.sigstore_authority import DEV_ISSUER, AuthorityConfig, mint_identity_token
from infra.sigstore_authority.authority import token_issuer
from infra.sigstore_authority.errors import Unauthorized
from infra.sigstore_authority.tokens import TokenIssuer


@pytest.fixture
def issuer(tmp_path: Path) -> TokenIssuer:
    return token_issuer(tmp_path / "state", AuthorityConfig())


def test_minted_token_is_what_sigstore_python_expects(issuer: TokenIssuer) -> None:
    token = IdentityToken(issuer.mint("alice@example.com"))
    assert token.identity == "alice@example.com"
    assert token.issuer == DEV_ISSUER
    assert issuer.verify(str(token)).identity == "alice@example.com"


def test_the_token_command_and_the_server_share_the_key(tmp_path: Path) -> None:
    state = tmp_path / "state"
    minted = mint_identity_token(state, "alice@example.com")
    assert token_issuer(state, AuthorityConfig()).verify(minted).identity == "alice@example.com"


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": DEV_ISSUER,
        "sub": "alice@example.com",
        "aud": "sigstore",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"exp": -3600}, "expired"),
        ({"aud": "not-sigstore"}, "audience"),
        ({"iss": "https://accounts.google.com"}, "not issued by"),
        ({"sub": None}, "rejected"),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "no-subject"],
)
def test_tokens_with_bad_claims_are_unauthorized(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    # Claims made when the test runs, not when it is collected: a suite that takes longer
    # than a token lives would see only "expired".
    if "exp" in overrides:
        overrides = {"exp": int(time.time()) + int(str(overrides["exp"]))}
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = TokenIssuer(key, issuer=DEV_ISSUER, audience="sigstore", lifetime_s=600, leeway_s=5)
    with pytest.raises(Unauthorized, match=message):
        issuer.verify(jwt.encode(_claims(**overrides), key, algorithm="ES256"))


def test_a_token_signed_by_another_key_is_forged(issuer: TokenIssuer) -> None:
    forged = jwt.encode(_claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
    with pytest.raises(Unauthorized, match="signature"):
        issuer.verify(forged)


def test_unsigned_and_symmetric_tokens_are_refused(issuer: TokenIssuer) -> None:
    unsigned = jwt.encode(_claims(), None, algorithm="none")
    symmetric = jwt.encode(_claims(), "a shared secret of sufficient length", algorithm="HS256")
    for token in (unsigned, symmetric, "", "not.a.jwt", "a" * 5000):
        with pytest.raises(Unauthorized):
            issuer.verify(token)
