"""Trust policy over real certificates issued by the local CA: identity and issuer, separately."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore.errors import VerificationError

from client.signing import (
    FailureReason,
    PublisherPolicy,
    SignatureVerificationError,
    TrustedPublisher,
    TrustPolicy,
)
from client.signing.policy import PolicyMismatch, certificate_identities, certificate_issuer
from infra.sigstore_authority import DEV_ISSUER, SigningAuthority
from infra.sigstore_authority.ca import subject_alternative_name

WORKFLOW = "https://github.com/acme/hello/.github/workflows/release.yml@refs/heads/main"
GITHUB_ACTIONS = "https://token.actions.githubusercontent.com"


def _certificate(authority: SigningAuthority, identity: str, issuer: str) -> x509.Certificate:
    return authority.ca.issue(
        public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
        san=subject_alternative_name(identity, max_length=512),
        issuer=issuer,
        now=datetime.now(UTC),
    )


def test_certificate_names_identity_and_issuer(local_authority: SigningAuthority) -> None:
    email = _certificate(local_authority, "alice@example.com", DEV_ISSUER)
    assert certificate_identities(email) == {"alice@example.com"}
    assert certificate_issuer(email) == DEV_ISSUER
    workflow = _certificate(local_authority, WORKFLOW, GITHUB_ACTIONS)
    assert certificate_identities(workflow) == {WORKFLOW}
    assert certificate_issuer(workflow) == GITHUB_ACTIONS


def test_any_listed_publisher_is_accepted(local_authority: SigningAuthority) -> None:
    policy = PublisherPolicy(
        [
            TrustedPublisher(identity="alice@example.com", issuer=DEV_ISSUER),
            TrustedPublisher(identity=WORKFLOW, issuer=GITHUB_ACTIONS),
        ]
    )
    cert = _certificate(local_authority, WORKFLOW, GITHUB_ACTIONS)
    policy.verify(cert)
    assert policy.matching_publisher(cert).identity == WORKFLOW


def test_wrong_identity_is_an_identity_mismatch(local_authority: SigningAuthority) -> None:
    policy = PublisherPolicy([TrustedPublisher(identity="bob@example.com", issuer=DEV_ISSUER)])
    with pytest.raises(PolicyMismatch) as caught:
        policy.verify(_certificate(local_authority, "alice@example.com", DEV_ISSUER))
    assert caught.value.reason is FailureReason.IDENTITY_MISMATCH
    assert "alice@example.com" in str(caught.value)
    assert "bob@example.com" in str(caught.value)
    assert isinstance(caught.value, VerificationError)  # what sigstore's Verifier propagates


def test_right_identity_through_another_issuer_is_an_issuer_mismatch(
    local_authority: SigningAuthority,
) -> None:
    policy = PublisherPolicy(
        [TrustedPublisher(identity="alice@example.com", issuer="https://accounts.google.com")]
    )
    with pytest.raises(PolicyMismatch) as caught:
        policy.verify(_certificate(local_authority, "alice@example.com", DEV_ISSUER))
    assert caught.value.reason is FailureReason.ISSUER_MISMATCH
    assert "https://accounts.google.com" in str(caught.value)


def test_publishers_are_per_namespace() -> None:
    alice = TrustedPublisher(identity="alice@example.com", issuer=DEV_ISSUER)
    policy = TrustPolicy({"acme": [alice], "empty": []})
    assert policy.publishers_for("acme") == (alice,)
    for namespace in ("other", "empty"):
        with pytest.raises(SignatureVerificationError) as caught:
            policy.policy_for(namespace)
        assert caught.value.reason is FailureReason.UNTRUSTED_NAMESPACE


def test_publishers_need_identity_and_issuer() -> None:
    with pytest.raises(ValueError, match="identity and an issuer"):
        TrustedPublisher(identity="alice@example.com", issuer="")
    with pytest.raises(ValueError, match="at least one"):
        PublisherPolicy([])
