"""Identity tokens: JWTs the authority mints for a named identity and later verifies.

Minting exists for development and tests only: whoever can reach the authority (or read its
state directory) can obtain a token for any identity. The CA side accepts a token only if its
signature is the authority's, its audience is ``sigstore``, its issuer is the authority's and
it is within its validity period.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from infra.sigstore_authority.errors import Unauthorized
from infra.sigstore_authority.keys import key_id


@dataclass(frozen=True)
class VerifiedIdentity:
    """The identity and issuer a valid token vouches for."""

    identity: str
    issuer: str


class TokenIssuer:
    """Mints and verifies ES256 identity tokens."""

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        *,
        issuer: str,
        audience: str,
        lifetime_s: int,
        leeway_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._kid = key_id(key.public_key()).hex()[:16]
        self.issuer = issuer
        self.audience = audience
        self._lifetime_s = lifetime_s
        self._leeway_s = leeway_s
        self._clock = clock

    def mint(self, identity: str, *, lifetime_s: int | None = None) -> str:
        """A token whose subject is ``identity`` (sigstore-python reads ``sub`` for us)."""
        now = int(self._clock())
        claims: dict[str, object] = {
            "iss": self.issuer,
            "sub": identity,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + (self._lifetime_s if lifetime_s is None else lifetime_s),
        }
        if "@" in identity and "://" not in identity:
            claims["email"] = identity
            claims["email_verified"] = True
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self._kid})

    def verify(self, token: str) -> VerifiedIdentity:
        """The identity ``token`` vouches for; ``Unauthorized`` when it vouches for nothing."""
        try:
            claims = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["ES256"],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self._leeway_s,
                options={"require": ["iss", "sub", "aud", "iat", "exp"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("identity token has expired; mint a new one") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized(f"identity token audience must be {self.audience!r}") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized(f"identity token was not issued by {self.issuer}") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthorized("identity token signature is not this authority's") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"identity token rejected: {exc}") from exc
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise Unauthorized("identity token has no usable 'sub' claim")
        return VerifiedIdentity(identity=subject, issuer=self.issuer)
