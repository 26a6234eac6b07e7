"""Sign through the local authority, verify; then every listed failure, with its reason."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sigstore import dsse

from client.signing import (
    FailureReason,
    SignatureVerificationError,
    SigstoreInstance,
    TrustedPublisher,
    TrustPolicy,
    read_plugin_files,
    sign_plugin,
    verify_plugin_bundle,
)
from client.signing.statement import PREDICATE_TYPE
from tests.conftest import ALICE, RunningAuthority
from tests.integration.client.signing.conftest import SignedPlugin
from tests.signing_fixtures import MakePlugin


def _policy(dev: RunningAuthority, identity: str = ALICE, issuer: str | None = None) -> TrustPolicy:
    return TrustPolicy.for_namespace(
        "acme", TrustedPublisher(identity=identity, issuer=issuer or dev.issuer)
    )


def _verify(
    dev: RunningAuthority,
    plugin: Path,
    bundle: bytes,
    *,
    policy: TrustPolicy | None = None,
    instance: SigstoreInstance | None = None,
) -> Any:
    return verify_plugin_bundle(
        bundle,
        read_plugin_files(plugin),
        policy=policy or _policy(dev),
        verifier=(instance or dev.instance).verifier(offline=True),
    )


def _reason(dev: RunningAuthority, plugin: Path, bundle: bytes, **kwargs: Any) -> FailureReason:
    with pytest.raises(SignatureVerificationError) as caught:
        _verify(dev, plugin, bundle, **kwargs)
    assert str(caught.value)  # every rejection explains itself
    return caught.value.reason


def _edit_bundle(bundle: Path, edit: Callable[[dict[str, Any]], None]) -> bytes:
    data = json.loads(bundle.read_bytes())
    edit(data)
    return json.dumps(data).encode()


def _entry(data: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = data["verificationMaterial"]["tlogEntries"][0]
    return entry


# -- the round trip ---------------------------------------------------------------------------


def test_signed_plugin_verifies_and_names_its_signer(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin
) -> None:
    assert signed_hello.bundle == signed_hello.directory / "hello.wasm.sigstore.json"
    verified = _verify(dev_authority, signed_hello.directory, signed_hello.bundle.read_bytes())
    assert (verified.name, verified.version) == ("acme/hello", "0.1.0")
    assert verified.signer.identity == ALICE
    assert verified.signer.issuer == dev_authority.issuer


def test_bundle_is_a_dsse_statement_logged_with_proof_and_set(signed_hello: SignedPlugin) -> None:
    data = json.loads(signed_hello.bundle.read_bytes())
    envelope = data["dsseEnvelope"]
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["predicateType"] == PREDICATE_TYPE
    assert {s["name"] for s in statement["subject"]} == {"hello.wasm", "clawft-plugin.toml"}
    entry = _entry(data)
    assert entry["kindVersion"] == {"kind": "dsse", "version": "0.0.1"}
    assert entry["inclusionPromise"]["signedEntryTimestamp"]
    assert entry["inclusionProof"]["checkpoint"]["envelope"]


def test_a_publisher_among_several_is_enough(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin
) -> None:
    policy = TrustPolicy(
        {
            "acme": [
                TrustedPublisher(identity="bob@example.com", issuer=dev_authority.issuer),
                TrustedPublisher(identity=ALICE, issuer=dev_authority.issuer),
            ]
        }
    )
    verified = _verify(
        dev_authority, signed_hello.directory, signed_hello.bundle.read_bytes(), policy=policy
    )
    assert verified.signer.identity == ALICE


# -- the failures the issue lists -------------------------------------------------------------


def test_tampered_component(dev_authority: RunningAuthority, signed_hello: SignedPlugin) -> None:
    signed_hello.component.write_bytes(signed_hello.component.read_bytes() + b"\x90")
    reason = _reason(dev_authority, signed_hello.directory, signed_hello.bundle.read_bytes())
    assert reason is FailureReason.DIGEST_MISMATCH


def test_tampered_manifest(dev_authority: RunningAuthority, signed_hello: SignedPlugin) -> None:
    with signed_hello.manifest.open("a") as manifest:
        manifest.write('[permissions]\nnetwork = ["*.attacker.example"]\n')
    reason = _reason(dev_authority, signed_hello.directory, signed_hello.bundle.read_bytes())
    assert reason is FailureReason.DIGEST_MISMATCH


def test_wrong_identity(dev_authority: RunningAuthority, signed_hello: SignedPlugin) -> None:
    reason = _reason(
        dev_authority,
        signed_hello.directory,
        signed_hello.bundle.read_bytes(),
        policy=_policy(dev_authority, identity="bob@example.com"),
    )
    assert reason is FailureReason.IDENTITY_MISMATCH


def test_wrong_issuer(dev_authority: RunningAuthority, signed_hello: SignedPlugin) -> None:
    reason = _reason(
        dev_authority,
        signed_hello.directory,
        signed_hello.bundle.read_bytes(),
        policy=_policy(dev_authority, issuer="https://accounts.google.com"),
    )
    assert reason is FailureReason.ISSUER_MISMATCH


def test_namespace_without_publishers(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin
) -> None:
    policy = TrustPolicy.for_namespace(
        "other", TrustedPublisher(identity=ALICE, issuer=dev_authority.issuer)
    )
    reason = _reason(
        dev_authority, signed_hello.directory, signed_hello.bundle.read_bytes(), policy=policy
    )
    assert reason is FailureReason.UNTRUSTED_NAMESPACE


def test_bundle_from_another_plugin(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin, make_plugin: MakePlugin
) -> None:
    other = make_plugin(name="acme/other", content=b"other component")
    other_bundle = sign_plugin(
        other, instance=dev_authority.instance, identity_token=dev_authority.token()
    )
    reason = _reason(dev_authority, signed_hello.directory, other_bundle.read_bytes())
    assert reason is FailureReason.WRONG_PLUGIN


def test_bundle_from_another_version_of_the_same_plugin(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin, make_plugin: MakePlugin
) -> None:
    newer = make_plugin(version="0.2.0", directory="hello-0.2.0")
    bundle = sign_plugin(
        newer, instance=dev_authority.instance, identity_token=dev_authority.token()
    )
    reason = _reason(dev_authority, signed_hello.directory, bundle.read_bytes())
    assert reason is FailureReason.WRONG_PLUGIN


def test_bundle_signed_by_a_different_authority(
    dev_authority: RunningAuthority, other_authority: RunningAuthority, make_plugin: MakePlugin
) -> None:
    plugin = make_plugin()
    bundle = sign_plugin(
        plugin,
        instance=other_authority.instance,
        identity_token=other_authority.token(),
        output=plugin / "elsewhere.sigstore.json",
    )
    assert _verify(other_authority, plugin, bundle.read_bytes()).signer.identity == ALICE
    reason = _reason(dev_authority, plugin, bundle.read_bytes())
    assert reason is FailureReason.CERTIFICATE_CHAIN


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_bundle(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin, keep: float
) -> None:
    data = signed_hello.bundle.read_bytes()
    truncated = data[: int(len(data) * keep)]
    reason = _reason(dev_authority, signed_hello.directory, truncated)
    assert reason is FailureReason.MALFORMED_BUNDLE


@pytest.mark.parametrize(
    "garbage",
    [
        b"null",
        b"[]",
        b"{}",
        b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}',
        b"\xff\xfe\xfd",
        b"[" * 50_000,
        b" " * 2_000_000,
    ],
    ids=["null", "list", "empty", "only-media-type", "binary", "deep", "oversized"],
)
def test_garbage_bundle(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin, garbage: bytes
) -> None:
    reason = _reason(dev_authority, signed_hello.directory, garbage)
    assert reason is FailureReason.MALFORMED_BUNDLE


def test_bundle_without_the_certificate(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin
) -> None:
    bundle = _edit_bundle(
        signed_hello.bundle, lambda d: d["verificationMaterial"].pop("certificate")
    )
    assert _reason(dev_authority, signed_hello.directory, bundle) is FailureReason.MALFORMED_BUNDLE


def test_statement_missing_a_file(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin, tmp_path: Path
) -> None:
    """A real signature over a statement that covers the component but not the manifest."""
    files = read_plugin_files(signed_hello.directory)
    statement = (
        dsse.StatementBuilder()
        .subjects(
            [
                dsse.Subject(
                    name="hello.wasm",
                    digest=dsse.DigestSet(root={"sha256": _sha256(files.component)}),
                )
            ]
        )
        .predicate_type(PREDICATE_TYPE)
        .predicate({"name": "acme/hello", "version": "0.1.0"})
        .build()
    )
    context = dev_authority.instance.signing_context()
    with context.signer(dev_authority.token()) as signer:
        bundle = signer.sign_dsse(statement).to_json().encode()
    reason = _reason(dev_authority, signed_hello.directory, bundle)
    assert reason is FailureReason.SUBJECT_MISSING


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_invalid_sct(
    dev_authority: RunningAuthority,
    other_authority: RunningAuthority,
    signed_hello: SignedPlugin,
    tmp_path: Path,
) -> None:
    """Same CA and logs, but the trusted CT log key is another log's: the SCT must fail."""
    config = json.loads(dev_authority.trust_config_path.read_text())
    foreign = json.loads(other_authority.trust_config_path.read_text())
    config["trustedRoot"]["ctlogs"] = foreign["trustedRoot"]["ctlogs"]
    instance = SigstoreInstance.from_trust_config(json.dumps(config))
    reason = _reason(
        dev_authority, signed_hello.directory, signed_hello.bundle.read_bytes(), instance=instance
    )
    assert reason is FailureReason.SCT


def _flip_b64(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_invalid_inclusion_proof(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin
) -> None:
    def edit(data: dict[str, Any]) -> None:
        proof = _entry(data)["inclusionProof"]
        proof["rootHash"] = _flip_b64(proof["rootHash"])

    bundle = _edit_bundle(signed_hello.bundle, edit)
    reason = _reason(dev_authority, signed_hello.directory, bundle)
    assert reason is FailureReason.INCLUSION_PROOF


def test_invalid_inclusion_proof_path(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin, make_plugin: MakePlugin
) -> None:
    # make sure the tree has more than one leaf, so the proof has hashes to tamper with
    for index in range(2):
        extra = make_plugin(directory=f"filler-{index}")
        sign_plugin(extra, instance=dev_authority.instance, identity_token=dev_authority.token())
    bundle_path = sign_plugin(
        make_plugin(directory="proof-target"),
        instance=dev_authority.instance,
        identity_token=dev_authority.token(),
    )

    def edit(data: dict[str, Any]) -> None:
        hashes = _entry(data)["inclusionProof"]["hashes"]
        assert hashes, "the proof should have sibling hashes"
        hashes[0] = _flip_b64(hashes[0])

    bundle = _edit_bundle(bundle_path, edit)
    reason = _reason(dev_authority, bundle_path.parent, bundle)
    assert reason is FailureReason.INCLUSION_PROOF


def test_invalid_checkpoint_signature(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin
) -> None:
    def edit(data: dict[str, Any]) -> None:
        checkpoint = _entry(data)["inclusionProof"]["checkpoint"]
        note, _, signature_line = checkpoint["envelope"].partition("\n\n")
        name, _, signature = signature_line.rstrip("\n").rpartition(" ")
        checkpoint["envelope"] = f"{note}\n\n{name} {_flip_b64(signature)}\n"

    bundle = _edit_bundle(signed_hello.bundle, edit)
    reason = _reason(dev_authority, signed_hello.directory, bundle)
    assert reason is FailureReason.INCLUSION_PROOF


def test_invalid_signed_entry_timestamp(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin
) -> None:
    def edit(data: dict[str, Any]) -> None:
        entry = _entry(data)
        entry["integratedTime"] = str(int(entry["integratedTime"]) + 1)

    bundle = _edit_bundle(signed_hello.bundle, edit)
    reason = _reason(dev_authority, signed_hello.directory, bundle)
    assert reason is FailureReason.SIGNED_ENTRY_TIMESTAMP


def test_forged_signed_entry_timestamp(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin
) -> None:
    def edit(data: dict[str, Any]) -> None:
        promise = _entry(data)["inclusionPromise"]
        promise["signedEntryTimestamp"] = _flip_b64(promise["signedEntryTimestamp"])

    bundle = _edit_bundle(signed_hello.bundle, edit)
    reason = _reason(dev_authority, signed_hello.directory, bundle)
    assert reason is FailureReason.SIGNED_ENTRY_TIMESTAMP


def test_log_entry_of_another_signature(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin, make_plugin: MakePlugin
) -> None:
    """CVE-2022-36056 class: a valid log entry, but for other materials."""
    donor = sign_plugin(
        make_plugin(directory="donor"),
        instance=dev_authority.instance,
        identity_token=dev_authority.token(),
    )
    donor_entry = _entry(json.loads(donor.read_bytes()))

    def edit(data: dict[str, Any]) -> None:
        data["verificationMaterial"]["tlogEntries"] = [donor_entry]

    bundle = _edit_bundle(signed_hello.bundle, edit)
    reason = _reason(dev_authority, signed_hello.directory, bundle)
    assert reason is FailureReason.LOG_ENTRY_MISMATCH


def test_envelope_signature_over_another_payload(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin
) -> None:
    def edit(data: dict[str, Any]) -> None:
        envelope = data["dsseEnvelope"]
        statement = json.loads(base64.b64decode(envelope["payload"]))
        statement["predicate"]["version"] = "9.9.9"
        envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()

    bundle = _edit_bundle(signed_hello.bundle, edit)
    reason = _reason(dev_authority, signed_hello.directory, bundle)
    assert reason is FailureReason.SIGNATURE
