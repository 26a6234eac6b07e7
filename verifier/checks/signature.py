"""Check 7, the signature: the bundle verifies for the component and manifest, and the signer
is a trusted publisher of the plugin's namespace. Offline: no network inside the check."""

from __future__ import annotations

from collections.abc import Sequence

from client.signing import (
    PluginFiles,
    SignatureVerificationError,
    SigningError,
    SigstoreInstance,
    TrustedPublisher,
    TrustPolicy,
    verify_plugin_bundle,
)
from verifier.report import CheckResult

NAME = "signature"


def check_signature(
    manifest: bytes,
    component: bytes,
    bundle: bytes | None,
    publishers: Sequence[TrustedPublisher],
    instance: SigstoreInstance,
) -> CheckResult:
    if bundle is None and not publishers:
        return CheckResult(
            name=NAME,
            passed=True,
            skipped=True,
            reason="not checked: no bundle and no trusted publishers were given",
        )
    if bundle is None:
        return CheckResult(
            name=NAME, passed=False, reason="trusted publishers were given but no bundle"
        )
    if not publishers:
        return CheckResult(
            name=NAME,
            passed=False,
            reason="a bundle was given but no trusted publishers to check its signer against",
        )
    try:
        files = PluginFiles.from_bytes(manifest=manifest, component=component)
        policy = TrustPolicy({files.plugin.namespace: publishers})
        verified = verify_plugin_bundle(
            bundle, files, policy=policy, verifier=instance.verifier(offline=True)
        )
    except SignatureVerificationError as exc:
        return CheckResult(
            name=NAME, passed=False, reason=str(exc), details={"failure": str(exc.reason)}
        )
    except SigningError as exc:
        return CheckResult(name=NAME, passed=False, reason=str(exc))
    return CheckResult(
        name=NAME,
        passed=True,
        reason=f"signed by {verified.signer.identity} ({verified.signer.issuer}), a trusted "
        f"publisher of {files.plugin.namespace}",
        details={
            "identity": verified.signer.identity,
            "issuer": verified.signer.issuer,
            "instance": instance.description,
        },
    )
