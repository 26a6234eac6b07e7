"""The local CA's certificates meet the Sigstore X.509 profile that sigstore-python checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from sigstore._internal.sct import verify_sct
from sigstore._internal.trust import CTKeyring, KeyringPurpose
from sigstore._utils import cert_is_leaf, cert_is_root_ca
from sigstore.errors import VerificationError
from sigstore.models import ClientTrustConfig

from infra.sigstore_authority import AuthorityError, SigningAuthority
from infra.sigstore_authority.ca import subject_alternative_name


def _leaf(authority: SigningAuthority, identity: str = "alice@example.com") -> x509.Certificate:
    return authority.ca.issue(
        public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
        san=subject_alternative_name(identity, max_length=512),
        issuer="https://issuer.example",
        now=datetime.now(UTC),
    )


def _ct_keyring(authority: SigningAuthority) -> CTKeyring:
    config = ClientTrustConfig.from_json(json.dumps(authority.trust_config("http://127.0.0.1:1")))
    return config.trusted_root.ct_keyring(KeyringPurpose.VERIFY)


def test_leaf_matches_the_sigstore_profile(local_authority: SigningAuthority) -> None:
    leaf = _leaf(local_authority)
    assert cert_is_leaf(leaf)
    assert cert_is_root_ca(local_authority.ca.root)
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CODE_SIGNING in eku
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert lifetime.total_seconds() == local_authority.config.certificate_lifetime_s
    leaf.verify_directly_issued_by(local_authority.ca.root)


def test_embedded_sct_verifies_with_sigstore(local_authority: SigningAuthority) -> None:
    leaf = _leaf(local_authority)
    verify_sct(leaf, [local_authority.ca.root], _ct_keyring(local_authority))


def test_sct_from_another_ct_log_does_not_verify(
    local_authority: SigningAuthority, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = SigningAuthority(tmp_path_factory.mktemp("other-authority"))
    with pytest.raises(VerificationError, match="SCT"):
        verify_sct(_leaf(local_authority), [local_authority.ca.root], _ct_keyring(other))


@pytest.mark.parametrize(
    "identity", ["", "alice", "alice@", "a b@example.com", "ålice@example.com", "x" * 600]
)
def test_identities_that_are_neither_email_nor_uri_are_refused(identity: str) -> None:
    with pytest.raises(AuthorityError):
        subject_alternative_name(identity, max_length=512)
