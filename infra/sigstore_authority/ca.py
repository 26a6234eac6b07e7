"""The certificate authority: a self-signed root that issues short-lived code-signing leaves.

A leaf carries what sigstore-python checks: the identity as its only SAN, the OIDC issuer in
Fulcio's extensions (1.3.6.1.4.1.57264.1.1 raw, .1.8 as a DER UTF8String), key usage
digitalSignature, extended key usage codeSigning, and one embedded SCT from the CT log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from infra.sigstore_authority.ctlog import CTLog, der_utf8_string, sct_list_extension_value
from infra.sigstore_authority.errors import AuthorityError
from infra.sigstore_authority.keys import key_id, publish_once

OIDC_ISSUER_OID = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OIDC_ISSUER_V2_OID = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
SCT_LIST_OID = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")

ROOT_SUBJECT = x509.Name(
    [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "clawft dev authority NOT FOR PRODUCTION"),
        x509.NameAttribute(NameOID.COMMON_NAME, "clawft-dev-root"),
    ]
)


def subject_alternative_name(identity: str, *, max_length: int) -> x509.GeneralName:
    """The SAN for ``identity``: an email address, or a URI such as a CI workflow identity."""
    if not identity or len(identity) > max_length:
        raise AuthorityError(f"identity must be 1 to {max_length} characters")
    if not all(0x21 <= ord(ch) <= 0x7E for ch in identity):
        raise AuthorityError("identity must be printable ASCII without spaces")
    if "://" in identity:
        return x509.UniformResourceIdentifier(identity)
    local, at, domain = identity.rpartition("@")
    if at and local and domain and "." in domain.strip("."):
        return x509.RFC822Name(identity)
    raise AuthorityError(
        f"identity {identity!r} is neither an email address nor a URI (scheme://...)"
    )


def _load_or_create_root(
    path: Path, key: ec.EllipticCurvePrivateKey, *, lifetime: timedelta
) -> x509.Certificate:
    public = key.public_key()
    if path.exists():
        return _check_root(path, path.read_bytes(), public)
    now = datetime.now(UTC).replace(microsecond=0)
    ski = x509.SubjectKeyIdentifier.from_public_key(public)
    cert = (
        x509.CertificateBuilder()
        .subject_name(ROOT_SUBJECT)
        .issuer_name(ROOT_SUBJECT)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    stored = publish_once(path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return _check_root(path, stored, public)


def _check_root(path: Path, pem: bytes, public: ec.EllipticCurvePublicKey) -> x509.Certificate:
    root = x509.load_pem_x509_certificate(pem)
    if root.public_key() != public:
        raise ValueError(f"{path} was not issued for this CA key; delete the state directory")
    return root


class CertificateAuthority:
    """Issues leaves chained to the persisted root, each with an embedded SCT."""

    def __init__(
        self,
        *,
        key: ec.EllipticCurvePrivateKey,
        root: x509.Certificate,
        ct_log: CTLog,
        certificate_lifetime: timedelta,
    ) -> None:
        self._key = key
        self.root = root
        self._ct_log = ct_log
        self._lifetime = certificate_lifetime

    @classmethod
    def open(
        cls,
        state_dir: Path,
        key: ec.EllipticCurvePrivateKey,
        ct_log: CTLog,
        *,
        certificate_lifetime: timedelta,
        ca_lifetime: timedelta,
    ) -> CertificateAuthority:
        root = _load_or_create_root(state_dir / "ca.cert.pem", key, lifetime=ca_lifetime)
        return cls(key=key, root=root, ct_log=ct_log, certificate_lifetime=certificate_lifetime)

    def issue(
        self,
        *,
        public_key: ec.EllipticCurvePublicKey,
        san: x509.GeneralName,
        issuer: str,
        now: datetime,
    ) -> x509.Certificate:
        """A code-signing certificate for ``public_key`` naming ``san`` and ``issuer``."""
        not_before = now.astimezone(UTC).replace(microsecond=0)
        ca_ski = self.root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.root.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + self._lifetime)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
            )
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
            .add_extension(x509.UnrecognizedExtension(OIDC_ISSUER_OID, issuer.encode()), False)
            .add_extension(
                x509.UnrecognizedExtension(OIDC_ISSUER_V2_OID, der_utf8_string(issuer)), False
            )
        )
        # The SCT signs the certificate as it is *without* the SCT list: build that first,
        # then add the list as the last extension, which leaves the precertificate TBS as is.
        precertificate = builder.sign(self._key, hashes.SHA256())
        tbs = precertificate.tbs_certificate_bytes
        sct = self._ct_log.sign_precertificate(
            tbs_precertificate=tbs,
            issuer_key_id=key_id(self._key.public_key()),
            timestamp_ms=int(not_before.timestamp()) * 1000,
        )
        leaf = builder.add_extension(
            x509.UnrecognizedExtension(SCT_LIST_OID, sct_list_extension_value([sct])), False
        ).sign(self._key, hashes.SHA256())
        if leaf.tbs_precertificate_bytes != tbs:
            raise AssertionError("the SCT extension changed the precertificate TBS")
        return leaf
