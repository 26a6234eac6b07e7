"""Signing failures say what to do; plain-file bundles verify through the same library."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore.oidc import IdentityToken

from client.signing import (
    FailureReason,
    IdentityTokenError,
    PluginFilesError,
    SignatureVerificationError,
    SigningServiceError,
    SigstoreInstance,
    TrustedPublisher,
    obtain_identity_token,
    parse_identity_token,
    sign_plugin,
    verify_artifact_bundle,
)
from tests.conftest import ALICE, RunningAuthority
from tests.integration.client.signing.conftest import SignedPlugin
from tests.signing_fixtures import MakePlugin

# -- signing ----------------------------------------------------------------------------------


def test_a_forged_token_is_refused_by_the_authority(
    dev_authority: RunningAuthority, make_plugin: MakePlugin
) -> None:
    now = int(time.time())
    forged = jwt.encode(
        {"iss": dev_authority.issuer, "sub": ALICE, "aud": "sigstore", "iat": now, "exp": now + 60},
        ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256",
    )
    with pytest.raises(SigningServiceError, match=r"HTTP 401.*signature"):
        sign_plugin(
            make_plugin(), instance=dev_authority.instance, identity_token=IdentityToken(forged)
        )


def test_an_expired_token_is_refused_before_any_request() -> None:
    now = int(time.time())
    expired = jwt.encode(
        {"iss": "x", "sub": ALICE, "aud": "sigstore", "iat": now - 900, "exp": now - 600},
        ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256",
    )
    for token in (expired, "garbage", ""):
        with pytest.raises(IdentityTokenError, match="obtain a fresh one"):
            parse_identity_token(token)


def test_no_token_for_an_instance_without_oidc_says_how_to_get_one(
    dev_authority: RunningAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    for ambient in (
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "BUILDKITE",
        "CIRCLECI",
        "GOOGLE_SERVICE_ACCOUNT_NAME",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
    ):
        monkeypatch.delenv(ambient, raising=False)
    with pytest.raises(IdentityTokenError, match="dev-authority token"):
        obtain_identity_token(dev_authority.instance, None)


def test_a_stale_trust_config_is_caught_while_signing(
    dev_authority: RunningAuthority, other_authority: RunningAuthority, make_plugin: MakePlugin
) -> None:
    """The other authority's keys, this authority's URLs: the SCT check fails during signing."""
    config = json.loads(other_authority.trust_config_path.read_text())
    config["signingConfig"] = json.loads(dev_authority.trust_config_path.read_text())[
        "signingConfig"
    ]
    instance = SigstoreInstance.from_trust_config(json.dumps(config))
    with pytest.raises(SigningServiceError, match="regenerate"):
        sign_plugin(make_plugin(), instance=instance, identity_token=dev_authority.token())


def test_an_unreachable_authority(dev_authority: RunningAuthority, make_plugin: MakePlugin) -> None:
    config = json.loads(dev_authority.trust_config_path.read_text())
    for service in ("caUrls", "rekorTlogUrls"):
        config["signingConfig"][service][0]["url"] = "http://127.0.0.1:9"  # discard port
    instance = SigstoreInstance.from_trust_config(json.dumps(config))
    with pytest.raises(SigningServiceError, match="cannot reach"):
        sign_plugin(make_plugin(), instance=instance, identity_token=dev_authority.token())


def test_signing_a_missing_plugin(dev_authority: RunningAuthority, tmp_path: Path) -> None:
    with pytest.raises(PluginFilesError, match="no plugin manifest"):
        sign_plugin(tmp_path, instance=dev_authority.instance, identity_token=dev_authority.token())


# -- plain-file bundles (what `sigstore sign FILE` writes) -------------------------------------


@pytest.fixture
def artifact_bundle(dev_authority: RunningAuthority) -> tuple[bytes, bytes]:
    artifact = b"release notes for acme/hello 0.1.0\n"
    with dev_authority.instance.signing_context().signer(dev_authority.token()) as signer:
        bundle = signer.sign_artifact(artifact)
    return artifact, bundle.to_json().encode()


def test_artifact_bundle_verifies(
    dev_authority: RunningAuthority, artifact_bundle: tuple[bytes, bytes]
) -> None:
    artifact, bundle = artifact_bundle
    signer = verify_artifact_bundle(
        bundle,
        artifact,
        publishers=[TrustedPublisher(identity=ALICE, issuer=dev_authority.issuer)],
        verifier=dev_authority.instance.verifier(),
    )
    assert (signer.identity, signer.issuer) == (ALICE, dev_authority.issuer)


def test_artifact_bundle_over_another_file(
    dev_authority: RunningAuthority, artifact_bundle: tuple[bytes, bytes]
) -> None:
    artifact, bundle = artifact_bundle
    with pytest.raises(SignatureVerificationError) as caught:
        verify_artifact_bundle(
            bundle,
            artifact + b"!",
            publishers=[TrustedPublisher(identity=ALICE, issuer=dev_authority.issuer)],
            verifier=dev_authority.instance.verifier(),
        )
    assert caught.value.reason is FailureReason.ARTIFACT_MISMATCH


def test_bundle_kinds_are_not_interchangeable(
    dev_authority: RunningAuthority,
    artifact_bundle: tuple[bytes, bytes],
    signed_hello: SignedPlugin,
) -> None:
    from client.signing import TrustPolicy, read_plugin_files, verify_plugin_bundle

    publisher = TrustedPublisher(identity=ALICE, issuer=dev_authority.issuer)
    verifier = dev_authority.instance.verifier()
    with pytest.raises(SignatureVerificationError) as as_artifact:
        verify_artifact_bundle(
            signed_hello.bundle.read_bytes(),
            signed_hello.component.read_bytes(),
            publishers=[publisher],
            verifier=verifier,
        )
    assert as_artifact.value.reason is FailureReason.WRONG_BUNDLE_KIND
    with pytest.raises(SignatureVerificationError) as as_plugin:
        verify_plugin_bundle(
            artifact_bundle[1],
            read_plugin_files(signed_hello.directory),
            policy=TrustPolicy.for_namespace("acme", publisher),
            verifier=verifier,
        )
    assert as_plugin.value.reason is FailureReason.WRONG_BUNDLE_KIND
