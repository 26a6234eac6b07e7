"""``clawft-registry sign`` and ``verify-signature``: Sigstore signatures over plugins and files.

``sign`` writes ``<component>.sigstore.json`` beside the component. ``verify-signature`` exits
0 when the bundle verifies for the given identity and issuer, 1 (with the reason) when it does
not, 2 when an input cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from client.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_sigstore_instance_options,
    fail,
)
from client.cli.terminal import shown
from client.signing import (
    IdentityTokenError,
    PluginFilesError,
    SignatureVerificationError,
    SigningServiceError,
    SigstoreInstance,
    TrustConfigError,
    TrustedPublisher,
    TrustPolicy,
    default_bundle_path,
    hash_artifact_file,
    obtain_identity_token,
    read_plugin_files,
    sign_plugin_files,
    verify_artifact_bundle,
    verify_plugin_bundle,
    write_bundle,
)
from client.signing.limits import DEFAULT_LIMITS, read_bounded


def register(subparsers: Any) -> None:
    sign: argparse.ArgumentParser = subparsers.add_parser(
        "sign",
        help="sign a plugin's component and manifest with Sigstore",
        description=(
            "Sign a plugin (its component and clawft-plugin.toml) as an in-toto statement in a "
            "DSSE envelope, and write <component>.sigstore.json beside the component. Public "
            "Sigstore is the default instance. Exit status: 0 signed; 1 signing failed; 2 usage "
            "or unreadable input."
        ),
    )
    sign.add_argument("plugin", type=Path, metavar="PLUGIN_DIR_OR_MANIFEST")
    add_sigstore_instance_options(sign)
    sign.add_argument(
        "--identity-token",
        metavar="TOKEN",
        help="OIDC identity token to sign with ('-' reads it from stdin); default: an ambient "
        "CI credential, else an interactive login",
    )
    sign.add_argument("--output", type=Path, metavar="FILE", help="where to write the bundle")
    sign.set_defaults(handler=run_sign)

    verify: argparse.ArgumentParser = subparsers.add_parser(
        "verify-signature",
        help="verify a Sigstore bundle over a plugin or a file",
        description=(
            "Verify a Sigstore bundle for a signer identity and OIDC issuer. With --manifest, "
            "the bundle must sign the plugin's statement (component and manifest digests); with "
            "--artifact, it must be a plain signature over the file (what `sigstore sign FILE` "
            "writes). Exit status: 0 verified; 1 not verified (the reason is printed); 2 usage "
            "or unreadable input."
        ),
    )
    target = verify.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--manifest", type=Path, metavar="M", help="the plugin's clawft-plugin.toml (or its dir)"
    )
    target.add_argument("--artifact", type=Path, metavar="FILE", help="any signed file")
    verify.add_argument("--bundle", type=Path, required=True, metavar="B")
    verify.add_argument(
        "--identity", required=True, metavar="ID", help="expected signer (email or workflow URI)"
    )
    verify.add_argument(
        "--issuer", required=True, metavar="ISS", help="expected OIDC issuer of that identity"
    )
    add_sigstore_instance_options(verify)
    verify.add_argument(
        "--offline",
        action="store_true",
        help="do not refresh the public trusted root over the network (use the shipped copy)",
    )
    verify.set_defaults(handler=run_verify_signature)


def _instance(args: argparse.Namespace) -> SigstoreInstance:
    return SigstoreInstance.choose(trust_config=args.trust_config, staging=args.staging)


def run_sign(args: argparse.Namespace) -> int:
    supplied: str | None = args.identity_token
    if supplied == "-":
        supplied = sys.stdin.readline().strip()
    try:
        instance = _instance(args)
        files = read_plugin_files(args.plugin)  # refuse a bad path before any login
        token = obtain_identity_token(instance, supplied)
        bundle = sign_plugin_files(
            files,
            context=instance.signing_context(),
            identity_token=token,
            service=instance.description,
        )
        written = args.output or default_bundle_path(args.plugin, files.plugin)
        write_bundle(bundle, written)
    except (PluginFilesError, TrustConfigError) as exc:
        return fail(str(exc), EXIT_USAGE)
    except (IdentityTokenError, SigningServiceError) as exc:
        return fail(f"not signed: {exc}", EXIT_FAILED)
    except OSError as exc:
        return fail(f"cannot write the bundle: {exc}", EXIT_USAGE)
    print(
        f"signed {shown(args.plugin)} as {shown(token.identity)} (issuer {shown(token.issuer)}): "
        f"wrote {shown(written)}"
    )
    return EXIT_OK


def run_verify_signature(args: argparse.Namespace) -> int:
    try:
        publisher = TrustedPublisher(identity=args.identity, issuer=args.issuer)
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    try:
        bundle_bytes = read_bounded(args.bundle, DEFAULT_LIMITS.max_bundle_bytes, "bundle")
    except FileNotFoundError:
        return fail(f"bundle {args.bundle} does not exist", EXIT_USAGE)
    except ValueError as exc:
        return fail(f"not verified (malformed-bundle): {exc}", EXIT_FAILED)
    except OSError as exc:
        return fail(f"cannot read bundle {args.bundle}: {exc}", EXIT_USAGE)
    try:
        verifier = _instance(args).verifier(offline=args.offline)
        if args.manifest is not None:
            files = read_plugin_files(args.manifest)
            policy = TrustPolicy.for_namespace(files.plugin.namespace, publisher)
            plugin = verify_plugin_bundle(bundle_bytes, files, policy=policy, verifier=verifier)
            subject = f"plugin {plugin.name} {plugin.version} (component and manifest)"
            signer = plugin.signer
        else:
            try:
                digest = hash_artifact_file(args.artifact)
            except OSError as exc:
                return fail(f"cannot read artifact {args.artifact}: {exc}", EXIT_USAGE)
            signer = verify_artifact_bundle(
                bundle_bytes, digest, publishers=[publisher], verifier=verifier
            )
            subject = str(args.artifact)
    except (PluginFilesError, TrustConfigError) as exc:
        return fail(str(exc), EXIT_USAGE)
    except SignatureVerificationError as exc:
        return fail(f"not verified ({exc.reason}): {exc}", EXIT_FAILED)
    print(
        f"verified: {shown(subject)} signed by {shown(signer.identity)} "
        f"(issuer {shown(signer.issuer)})"
    )
    return EXIT_OK
