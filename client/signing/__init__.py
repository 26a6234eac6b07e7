"""Signing and verifying clawft plugins with Sigstore; shared by the client, verifier, registry.

What is signed: a DSSE envelope around an in-toto Statement whose subjects are the plugin's
component and its manifest (file name and sha256 each), with predicate type
``https://clawft.dev/plugin/v0.1`` recording the plugin's name and version::

    files = read_plugin_files(Path("build/plugins/hello"))
    instance = SigstoreInstance.from_trust_config_file(Path("trust-config.json"))
    bundle = sign_plugin_files(files, context=instance.signing_context(), identity_token=token)

    policy = TrustPolicy({"acme": [TrustedPublisher(identity="alice@example.com",
                                                    issuer="https://accounts.google.com")]})
    verified = verify_plugin_bundle(bundle.to_json().encode(), files, policy=policy,
                                    verifier=instance.verifier(offline=True))
    verified.signer.identity, verified.signer.issuer

Every rejection is a ``SignatureVerificationError`` whose ``reason`` names the failed check.
"""

from __future__ import annotations

from client.signing.errors import (
    FailureReason,
    IdentityTokenError,
    PluginFilesError,
    SignatureVerificationError,
    SigningError,
    SigningServiceError,
    TrustConfigError,
)
from client.signing.instance import SigstoreInstance
from client.signing.limits import SigningLimits
from client.signing.plugin_files import (
    PluginFiles,
    PluginIdentity,
    default_bundle_path,
    hash_artifact_file,
    read_plugin_files,
)
from client.signing.policy import PublisherPolicy, TrustedPublisher, TrustPolicy
from client.signing.sign import (
    obtain_identity_token,
    parse_identity_token,
    sign_plugin,
    sign_plugin_files,
    write_bundle,
)
from client.signing.statement import PREDICATE_TYPE, build_statement, check_statement
from client.signing.verify import (
    VerifiedPlugin,
    VerifiedSigner,
    load_bundle,
    verify_artifact_bundle,
    verify_plugin_bundle,
)

__all__ = [
    "PREDICATE_TYPE",
    "FailureReason",
    "IdentityTokenError",
    "PluginFiles",
    "PluginFilesError",
    "PluginIdentity",
    "PublisherPolicy",
    "SignatureVerificationError",
    "SigningError",
    "SigningLimits",
    "SigningServiceError",
    "SigstoreInstance",
    "TrustConfigError",
    "TrustPolicy",
    "TrustedPublisher",
    "VerifiedPlugin",
    "VerifiedSigner",
    "build_statement",
    "check_statement",
    "default_bundle_path",
    "hash_artifact_file",
    "load_bundle",
    "obtain_identity_token",
    "parse_identity_token",
    "read_plugin_files",
    "sign_plugin",
    "sign_plugin_files",
    "verify_artifact_bundle",
    "verify_plugin_bundle",
    "write_bundle",
]
