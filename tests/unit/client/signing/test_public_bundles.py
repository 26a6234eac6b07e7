"""Genuine bundles from Sigstore's public infrastructure, verified offline.

Both assets were logged in Sigstore's staging instance (see tests/assets/sigstore-public/README.md):
one must verify, the CVE-2022-36056 one must be rejected for its mismatched log entry, and the
production root (also offline) must reject a bundle from another instance at the chain.
"""

from __future__ import annotations

import pytest

from client.signing import (
    FailureReason,
    SignatureVerificationError,
    SigstoreInstance,
    TrustedPublisher,
    verify_artifact_bundle,
)
from tests.conftest import ASSETS as TEST_ASSETS

ASSETS = TEST_ASSETS / "sigstore-public"
SIGNER = TrustedPublisher(identity="william@yossarian.net", issuer="https://github.com/login/oauth")


def _asset(name: str) -> tuple[bytes, bytes]:
    return (ASSETS / name).read_bytes(), (ASSETS / f"{name}.sigstore").read_bytes()


def test_genuine_bundle_verifies_offline() -> None:
    artifact, bundle = _asset("bundle_v3.txt")
    verifier = SigstoreInstance.staging().verifier(offline=True)
    signer = verify_artifact_bundle(bundle, artifact, publishers=[SIGNER], verifier=verifier)
    assert (signer.identity, signer.issuer) == (SIGNER.identity, SIGNER.issuer)


def test_cve_2022_36056_bundle_is_rejected_for_its_log_entry() -> None:
    artifact, bundle = _asset("bundle_cve_2022_36056.txt")
    verifier = SigstoreInstance.staging().verifier(offline=True)
    with pytest.raises(SignatureVerificationError) as caught:
        verify_artifact_bundle(bundle, artifact, publishers=[SIGNER], verifier=verifier)
    assert caught.value.reason is FailureReason.LOG_ENTRY_MISMATCH
    assert "CVE-2022-36056" in str(caught.value)


def test_genuine_bundle_over_another_file_is_rejected() -> None:
    _, bundle = _asset("bundle_v3.txt")
    verifier = SigstoreInstance.staging().verifier(offline=True)
    with pytest.raises(SignatureVerificationError) as caught:
        verify_artifact_bundle(
            bundle, b"not the signed text", publishers=[SIGNER], verifier=verifier
        )
    assert caught.value.reason is FailureReason.ARTIFACT_MISMATCH


def test_genuine_bundle_for_another_signer_is_rejected() -> None:
    artifact, bundle = _asset("bundle_v3.txt")
    verifier = SigstoreInstance.staging().verifier(offline=True)
    impostor = TrustedPublisher(identity="mallory@example.com", issuer=SIGNER.issuer)
    with pytest.raises(SignatureVerificationError) as caught:
        verify_artifact_bundle(bundle, artifact, publishers=[impostor], verifier=verifier)
    assert caught.value.reason is FailureReason.IDENTITY_MISMATCH


def test_production_root_works_offline_and_rejects_another_instances_bundle() -> None:
    artifact, bundle = _asset("bundle_v3.txt")
    verifier = SigstoreInstance.production().verifier(offline=True)
    with pytest.raises(SignatureVerificationError) as caught:
        verify_artifact_bundle(bundle, artifact, publishers=[SIGNER], verifier=verifier)
    assert caught.value.reason is FailureReason.CERTIFICATE_CHAIN
