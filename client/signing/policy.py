"""Trust policy: which (identity, OIDC issuer) pairs may publish into which namespace.

Built from sigstore-python's policy objects (``AnyOf`` of ``Identity``), wrapped so that a
mismatch says *which* half failed: the identity, or the issuer it came through.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cryptography.hazmat import asn1
from cryptography.x509 import (
    Certificate,
    ExtensionNotFound,
    ObjectIdentifier,
    OtherName,
    RFC822Name,
    SubjectAlternativeName,
    UniformResourceIdentifier,
)
from sigstore.errors import VerificationError
from sigstore.verify.policy import AnyOf, Identity, VerificationPolicy

from client.signing.errors import FailureReason, SignatureVerificationError

_OIDC_ISSUER_OID = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_OIDC_ISSUER_V2_OID = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
_SIGSTORE_OTHERNAME_OID = ObjectIdentifier("1.3.6.1.4.1.57264.1.7")


@dataclass(frozen=True)
class TrustedPublisher:
    """A signer identity (an email, or a CI workflow URI) and the OIDC issuer that vouches."""

    identity: str
    issuer: str

    def __post_init__(self) -> None:
        if not self.identity or not self.issuer:
            raise ValueError("a trusted publisher needs both an identity and an issuer")

    def as_sigstore_policy(self) -> Identity:
        return Identity(identity=self.identity, issuer=self.issuer)

    def __str__(self) -> str:
        return f"{self.identity} (issuer {self.issuer})"


def certificate_identities(cert: Certificate) -> set[str]:
    """The identities a signing certificate names (email, URI and Sigstore other-name SANs)."""
    try:
        sans = cert.extensions.get_extension_for_class(SubjectAlternativeName).value
    except ExtensionNotFound:
        return set()
    names: set[str] = set(sans.get_values_for_type(RFC822Name))
    names.update(sans.get_values_for_type(UniformResourceIdentifier))
    names.update(
        other.value.decode(errors="replace")
        for other in sans.get_values_for_type(OtherName)
        if other.type_id == _SIGSTORE_OTHERNAME_OID
    )
    return names


def certificate_issuer(cert: Certificate) -> str | None:
    """The OIDC issuer a Fulcio-style certificate records, if any."""
    for oid in (_OIDC_ISSUER_OID, _OIDC_ISSUER_V2_OID):
        try:
            raw = cert.extensions.get_extension_for_oid(oid).value
        except ExtensionNotFound:
            continue
        value: bytes = getattr(raw, "value", b"")
        if oid == _OIDC_ISSUER_V2_OID:
            try:
                return asn1.decode_der(str, value)
            except ValueError:
                continue
        return value.decode(errors="replace")
    return None


class PublisherPolicy:
    """A sigstore ``VerificationPolicy``: the certificate must match one trusted publisher."""

    def __init__(self, publishers: Sequence[TrustedPublisher]) -> None:
        if not publishers:
            raise ValueError("a publisher policy needs at least one trusted publisher")
        self.publishers = tuple(publishers)
        self._policy: VerificationPolicy = AnyOf(
            [publisher.as_sigstore_policy() for publisher in self.publishers]
        )

    def verify(self, cert: Certificate) -> None:
        try:
            self._policy.verify(cert)
        except VerificationError:
            raise PolicyMismatch.explain(cert, self.publishers) from None

    def matching_publisher(self, cert: Certificate) -> TrustedPublisher:
        """The first trusted publisher ``cert`` satisfies (call after ``verify`` passed)."""
        for publisher in self.publishers:
            try:
                publisher.as_sigstore_policy().verify(cert)
            except VerificationError:
                continue
            return publisher
        raise PolicyMismatch.explain(cert, self.publishers)


class PolicyMismatch(VerificationError):
    """Raised inside sigstore's verifier when the signer is not a trusted publisher."""

    def __init__(self, message: str, reason: FailureReason) -> None:
        super().__init__(message)
        self.reason = reason

    @classmethod
    def explain(cls, cert: Certificate, publishers: Sequence[TrustedPublisher]) -> PolicyMismatch:
        identities = certificate_identities(cert)
        issuer = certificate_issuer(cert)
        signer = f"{', '.join(sorted(identities)) or 'an unnamed identity'} (issuer {issuer})"
        same_identity = [p for p in publishers if p.identity in identities]
        if same_identity:
            expected = ", ".join(p.issuer for p in same_identity)
            return cls(
                f"issuer mismatch: the bundle was signed by {signer}, but "
                f"{same_identity[0].identity} is trusted only through issuer {expected}",
                FailureReason.ISSUER_MISMATCH,
            )
        trusted = "; ".join(str(p) for p in publishers)
        return cls(
            f"identity mismatch: the bundle was signed by {signer}, which is not a trusted "
            f"publisher here (trusted: {trusted})",
            FailureReason.IDENTITY_MISMATCH,
        )


class TrustPolicy:
    """Trusted publishers per namespace (the ``acme`` of ``acme/weather``)."""

    def __init__(self, publishers: Mapping[str, Iterable[TrustedPublisher]]) -> None:
        self._publishers = {
            namespace: tuple(entries) for namespace, entries in publishers.items() if entries
        }

    @classmethod
    def for_namespace(cls, namespace: str, *publishers: TrustedPublisher) -> TrustPolicy:
        return cls({namespace: publishers})

    def publishers_for(self, namespace: str) -> tuple[TrustedPublisher, ...]:
        publishers = self._publishers.get(namespace)
        if not publishers:
            raise SignatureVerificationError(
                f"no trusted publishers are configured for namespace {namespace!r}: "
                "add one before accepting its plugins",
                reason=FailureReason.UNTRUSTED_NAMESPACE,
            )
        return publishers

    def policy_for(self, namespace: str) -> PublisherPolicy:
        """The sigstore verification policy for plugins in ``namespace``."""
        return PublisherPolicy(self.publishers_for(namespace))
