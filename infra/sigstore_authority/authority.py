"""The signing authority: CA, CT log, transparency log and token issuer over one state dir.

The service layer takes decoded JSON and returns JSON-ready dictionaries; it raises
``AuthorityError`` subclasses for refusals and knows nothing about HTTP.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from infra.sigstore_authority.ca import CertificateAuthority, subject_alternative_name
from infra.sigstore_authority.ctlog import CTLog
from infra.sigstore_authority.entries import canonical_body
from infra.sigstore_authority.errors import AuthorityError, Unauthorized
from infra.sigstore_authority.keys import b64, key_id, load_or_create_key, spki_der
from infra.sigstore_authority.settings import NOT_FOR_PRODUCTION, AuthorityConfig
from infra.sigstore_authority.tlog import TransparencyLog
from infra.sigstore_authority.tokens import TokenIssuer

TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
SIGNING_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
OPERATOR = "clawft-dev-authority (NOT FOR PRODUCTION)"


def _state_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def token_issuer(state_dir: Path, config: AuthorityConfig) -> TokenIssuer:
    """The token issuer of the authority whose state lives in ``state_dir``."""
    key = load_or_create_key(_state_dir(state_dir) / "token.key.pem")
    return TokenIssuer(
        key,
        issuer=config.issuer,
        audience=config.audience,
        lifetime_s=config.token_lifetime_s,
        leeway_s=config.clock_skew_s,
    )


def mint_identity_token(
    state_dir: Path, identity: str, *, config: AuthorityConfig | None = None
) -> str:
    """A development identity token for ``identity``, signed with the state dir's token key.

    Works whether or not the authority is running: both read the same persisted key.
    """
    config = config or AuthorityConfig()
    subject_alternative_name(identity, max_length=config.max_identity_length)
    return token_issuer(state_dir, config).mint(identity)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SigningAuthority:
    """A local Sigstore instance: Fulcio-like CA, CT log, Rekor-like log, token issuer."""

    def __init__(self, state_dir: Path, config: AuthorityConfig | None = None) -> None:
        self.config = config or AuthorityConfig()
        self.state_dir = _state_dir(state_dir)
        self.ct_log = CTLog(load_or_create_key(self.state_dir / "ctlog.key.pem"))
        self.ca = CertificateAuthority.open(
            self.state_dir,
            load_or_create_key(self.state_dir / "ca.key.pem"),
            self.ct_log,
            certificate_lifetime=timedelta(seconds=self.config.certificate_lifetime_s),
            ca_lifetime=timedelta(days=self.config.ca_lifetime_days),
        )
        self.log = TransparencyLog(
            self.state_dir / "log.sqlite3", load_or_create_key(self.state_dir / "tlog.key.pem")
        )
        self.tokens = token_issuer(self.state_dir, self.config)

    def close(self) -> None:
        self.log.close()

    # -- Fulcio v2 ---------------------------------------------------------------------------

    def issue_certificate(
        self, request: dict[str, Any], authorization: str | None
    ) -> dict[str, Any]:
        """``POST /api/v2/signingCert``: a certificate chain for the token's identity."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("an identity token is required (Authorization: Bearer <token>)")
        identity = self.tokens.verify(token.strip())
        san = subject_alternative_name(
            identity.identity, max_length=self.config.max_identity_length
        )
        encoded = request.get("certificateSigningRequest")
        if not isinstance(encoded, str) or not encoded:
            raise AuthorityError("certificateSigningRequest (base64 PEM CSR) is required")
        try:
            csr = x509.load_pem_x509_csr(base64.b64decode(encoded, validate=True))
            public_key = csr.public_key()
            proves_possession = csr.is_signature_valid
        except (binascii.Error, ValueError, UnsupportedAlgorithm) as exc:
            raise AuthorityError("certificateSigningRequest is not a base64 PEM CSR") from exc
        if not proves_possession:
            raise AuthorityError(
                "the CSR signature does not verify: no proof of possession of the private key"
            )
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name not in (
            "secp256r1",
            "secp384r1",
        ):
            raise AuthorityError("only ECDSA P-256 or P-384 keys can be certified")
        leaf = self.ca.issue(
            public_key=public_key,
            san=san,
            issuer=identity.issuer,
            now=datetime.now(UTC),
        )
        chain = [
            cert.public_bytes(serialization.Encoding.PEM).decode() for cert in (leaf, self.ca.root)
        ]
        return {"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}}

    def trust_bundle(self) -> dict[str, Any]:
        """``GET /api/v2/trustBundle``."""
        root = self.ca.root.public_bytes(serialization.Encoding.PEM).decode()
        return {"chains": [{"certificates": [root]}]}

    # -- Rekor v1 ----------------------------------------------------------------------------

    def create_log_entry(self, proposed: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/v1/log/entries``: check, append and prove a proposed entry."""
        return self.log.append(canonical_body(proposed))

    # -- development only --------------------------------------------------------------------

    def mint_token(self, request: dict[str, Any]) -> dict[str, Any]:
        """``POST /dev/v1/token``: a token for any named identity. Development only."""
        identity = request.get("identity")
        if not isinstance(identity, str):
            raise AuthorityError('send {"identity": "<email or URI>"}')
        subject_alternative_name(identity, max_length=self.config.max_identity_length)
        return {
            "identityToken": self.tokens.mint(identity),
            "issuer": self.tokens.issuer,
            "warning": NOT_FOR_PRODUCTION,
        }

    # -- trust configuration -----------------------------------------------------------------

    def trust_config(self, base_url: str) -> dict[str, Any]:
        """The ``ClientTrustConfig`` (trusted root and signing config) of this instance."""
        start = _iso(self.ca.root.not_valid_before_utc)
        base_url = base_url.rstrip("/")

        def log_instance(key: ec.EllipticCurvePublicKey, url: str) -> dict[str, Any]:
            return {
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": b64(spki_der(key)),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": start},
                },
                "logId": {"keyId": b64(key_id(key))},
            }

        def service(url: str) -> dict[str, Any]:
            return {
                "url": url,
                "majorApiVersion": 1,
                "validFor": {"start": start},
                "operator": OPERATOR,
            }

        root_der = self.ca.root.public_bytes(serialization.Encoding.DER)
        return {
            "mediaType": TRUST_CONFIG_MEDIA_TYPE,
            "trustedRoot": {
                "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
                "tlogs": [log_instance(self.log.public_key, base_url)],
                "certificateAuthorities": [
                    {
                        "subject": {
                            "organization": "clawft dev authority NOT FOR PRODUCTION",
                            "commonName": "clawft-dev-root",
                        },
                        "uri": base_url,
                        "certChain": {"certificates": [{"rawBytes": b64(root_der)}]},
                        "validFor": {"start": start},
                    }
                ],
                "ctlogs": [log_instance(self.ct_log.public_key, f"{base_url}/ct")],
                "timestampAuthorities": [],
            },
            "signingConfig": {
                "mediaType": SIGNING_CONFIG_MEDIA_TYPE,
                "caUrls": [service(base_url)],
                "oidcUrls": [],
                "rekorTlogUrls": [service(base_url)],
                "tsaUrls": [],
                "rekorTlogConfig": {"selector": "ANY"},
                "tsaConfig": {"selector": "ANY"},
            },
        }
