"""Verification: a bundle against a plugin's two files (or one artifact) and a trust policy.

sigstore-python's ``Verifier`` does the cryptography (certificate chain at the log's time,
SCT, policy, inclusion proof, checkpoint, signed entry timestamp, signature, log-entry
consistency); this module supplies the policy, checks what the signed statement says, and turns
every failure into a ``SignatureVerificationError`` with a reason and a message for the user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sigstore.errors import CertValidationError
from sigstore.hashes import Hashed
from sigstore.models import Bundle
from sigstore.verify import Verifier

from client.signing.errors import FailureReason, SignatureVerificationError, exception_summary
from client.signing.limits import DEFAULT_LIMITS, SigningLimits
from client.signing.plugin_files import PluginFiles
from client.signing.policy import PolicyMismatch, PublisherPolicy, TrustedPublisher, TrustPolicy
from client.signing.statement import check_statement


@dataclass(frozen=True)
class VerifiedSigner:
    """Who signed, as proven by the certificate, and the OIDC issuer that vouched for them."""

    identity: str
    issuer: str


@dataclass(frozen=True)
class VerifiedPlugin:
    """A plugin whose component and manifest a trusted publisher signed."""

    name: str
    version: str
    signer: VerifiedSigner


_MAX_DETAIL = 200  # characters of sigstore's own message kept after ours

# sigstore-python's verifier raises one error type; its message says which step failed.
# (message fragment, reason, what it means for the user)
_CHAIN_MEANING = (
    "the signing certificate does not chain to a certificate authority this trust "
    "configuration trusts: the bundle comes from another Sigstore instance or is forged"
)
_SIGSTORE_FAILURES: tuple[tuple[str, FailureReason, str], ...] = (
    (
        "without a DSSE envelope",
        FailureReason.WRONG_BUNDLE_KIND,
        "the bundle signs a plain file, not a plugin statement: verify it with --artifact",
    ),
    (
        "Missing bundle message signature",
        FailureReason.WRONG_BUNDLE_KIND,
        "the bundle holds a DSSE statement, not a signature over a file: verify it with --manifest",
    ),
    ("certificate chain", FailureReason.CERTIFICATE_CHAIN, _CHAIN_MEANING),
    (
        "SCT",
        FailureReason.SCT,
        "the signing certificate's signed certificate timestamp (SCT) is invalid: no trusted "
        "CT log vouches for the certificate",
    ),
    (
        "invalid log entry: SET",
        FailureReason.SIGNED_ENTRY_TIMESTAMP,
        "the transparency log's signed entry timestamp is invalid: the log entry or its time "
        "was altered, or another log signed it",
    ),
    (
        "invalid log entry",
        FailureReason.INCLUSION_PROOF,
        "the transparency-log inclusion proof or its signed checkpoint is invalid: the entry "
        "is not provably in a trusted log",
    ),
    (
        "inconsistent with other materials",
        FailureReason.LOG_ENTRY_MISMATCH,
        "the transparency-log entry does not match the bundle's signature and certificate "
        "(CVE-2022-36056 class): the bundle was assembled from mismatched parts",
    ),
    (
        "log entry",
        FailureReason.LOG_ENTRY_MISMATCH,
        "the transparency-log entry does not match the bundle's envelope",
    ),
    (
        "digest mismatch",
        FailureReason.ARTIFACT_MISMATCH,
        "the file is not the one that was signed",
    ),
    (
        "Signature is invalid for input",
        FailureReason.ARTIFACT_MISMATCH,
        "the signature does not match this file: it is not the one that was signed",
    ),
    (
        "DSSE",
        FailureReason.SIGNATURE,
        "the envelope's signature does not verify with the signing certificate's key",
    ),
    (
        "expired at time of signing",
        FailureReason.CERTIFICATE,
        "the signing certificate was not valid when the log recorded the signature",
    ),
    (
        "usage",
        FailureReason.CERTIFICATE,
        "the signing certificate is not a code-signing certificate",
    ),
    (
        "verified time",
        FailureReason.MALFORMED_BUNDLE,
        "the bundle carries no verifiable signing time (no signed entry timestamp)",
    ),
)


def _classify(exc: Exception) -> SignatureVerificationError:
    if isinstance(exc, PolicyMismatch):
        return SignatureVerificationError(str(exc), reason=exc.reason)
    detail = str(exc) or type(exc).__name__
    if len(detail) > _MAX_DETAIL:  # sigstore may dump a whole inclusion proof
        detail = detail[:_MAX_DETAIL] + "..."
    if isinstance(exc, CertValidationError):
        return SignatureVerificationError(
            f"{_CHAIN_MEANING} ({detail})", reason=FailureReason.CERTIFICATE_CHAIN
        )
    for fragment, reason, meaning in _SIGSTORE_FAILURES:
        if fragment in detail:
            return SignatureVerificationError(f"{meaning} ({detail})", reason=reason)
    return SignatureVerificationError(
        f"the bundle does not verify: {detail}", reason=FailureReason.OTHER
    )


def load_bundle(data: bytes, *, limits: SigningLimits = DEFAULT_LIMITS) -> Bundle:
    """Parse a Sigstore bundle; malformed or oversized input is a verification failure."""
    if len(data) > limits.max_bundle_bytes:
        raise SignatureVerificationError(
            f"the bundle is {len(data)} bytes, over the {limits.max_bundle_bytes}-byte limit",
            reason=FailureReason.MALFORMED_BUNDLE,
        )
    try:
        return Bundle.from_json(data)
    except Exception as exc:  # InvalidBundle, pydantic errors, bad base64, bad DER, ...
        detail = exception_summary(exc, limit=_MAX_DETAIL)
        raise SignatureVerificationError(
            f"the bundle is malformed, not a Sigstore bundle ({detail}): obtain the "
            "bundle again from the publisher",
            reason=FailureReason.MALFORMED_BUNDLE,
        ) from exc


def verify_plugin_bundle(
    bundle: bytes | Bundle,
    files: PluginFiles,
    *,
    policy: TrustPolicy,
    verifier: Verifier,
    limits: SigningLimits = DEFAULT_LIMITS,
) -> VerifiedPlugin:
    """Verify ``bundle`` over a plugin's manifest and component under ``policy``.

    Returns the plugin and its verified signer; raises ``SignatureVerificationError`` with a
    specific reason otherwise. The namespace whose publishers apply is the manifest's, and the
    signed statement must name the same plugin and version.
    """
    parsed = bundle if isinstance(bundle, Bundle) else load_bundle(bundle, limits=limits)
    publisher_policy = policy.policy_for(files.plugin.namespace)
    try:
        payload_type, payload = verifier.verify_dsse(parsed, publisher_policy)
    except Exception as exc:  # fail closed: whatever goes wrong, the bundle is not accepted
        raise _classify(exc) from exc
    plugin = check_statement(payload_type, payload, files)
    signer = publisher_policy.matching_publisher(parsed.signing_certificate)
    return VerifiedPlugin(
        name=plugin.name,
        version=plugin.version,
        signer=VerifiedSigner(identity=signer.identity, issuer=signer.issuer),
    )


def verify_artifact_bundle(
    bundle: bytes | Bundle,
    artifact: bytes | Hashed,
    *,
    publishers: Sequence[TrustedPublisher],
    verifier: Verifier,
    limits: SigningLimits = DEFAULT_LIMITS,
) -> VerifiedSigner:
    """Verify a plain message-signature bundle (``sigstore sign FILE``) over ``artifact``."""
    parsed = bundle if isinstance(bundle, Bundle) else load_bundle(bundle, limits=limits)
    publisher_policy = PublisherPolicy(publishers)
    try:
        verifier.verify_artifact(artifact, parsed, publisher_policy)
    except Exception as exc:  # fail closed
        raise _classify(exc) from exc
    signer = publisher_policy.matching_publisher(parsed.signing_certificate)
    return VerifiedSigner(identity=signer.identity, issuer=signer.issuer)
