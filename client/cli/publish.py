"""``clawft-registry publish``: sign (if needed), upload, and optionally wait for the verdict."""

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
from client.cli.registry_options import add_registry_options, client_from, progress_bar
from client.cli.terminal import shown
from client.manifest import BUNDLE_SUFFIX, MANIFEST_FILE_NAME, ManifestInvalid, load_manifest
from client.registry import RegistryClientError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "publish",
        help="upload a plugin to a registry (signing it first if it has no bundle)",
        description=(
            "Upload a plugin directory (clawft-plugin.toml, its component, and "
            "<component>.sigstore.json) to a registry. Without a bundle, the plugin is signed "
            "first (as `clawft-registry sign` does). Exit status: 0 accepted (with --wait: "
            "approved); 1 refused, rejected or failed; 2 usage or unreadable input."
        ),
    )
    parser.add_argument("plugin", type=Path, help="the plugin directory")
    parser.add_argument("--bundle", type=Path, help="the Sigstore bundle to upload")
    parser.add_argument(
        "--no-sign", action="store_true", help="upload without a bundle rather than signing"
    )
    parser.add_argument("--identity-token", help="OIDC identity token for signing")
    add_sigstore_instance_options(parser)
    parser.add_argument("--wait", action="store_true", help="wait for the verification verdict")
    parser.add_argument("--wait-timeout", type=float, default=300.0, metavar="SECONDS")
    add_registry_options(parser)
    parser.set_defaults(handler=publish)


def _sign(args: argparse.Namespace, plugin_dir: Path) -> Path:
    from client.signing import SigstoreInstance, obtain_identity_token, sign_plugin

    instance = SigstoreInstance.choose(trust_config=args.trust_config, staging=args.staging)
    token = obtain_identity_token(instance, args.identity_token)
    return sign_plugin(plugin_dir, instance=instance, identity_token=token)


def publish(args: argparse.Namespace) -> int:
    from client.signing import SigningError

    plugin_dir: Path = args.plugin
    try:
        manifest = load_manifest(plugin_dir / MANIFEST_FILE_NAME)
    except ManifestInvalid as exc:
        return fail(str(exc), EXIT_USAGE)
    component = plugin_dir / manifest.component
    if not component.is_file():
        return fail(f"{component} does not exist (the manifest names it)", EXIT_USAGE)
    bundle = args.bundle or component.with_name(component.name + BUNDLE_SUFFIX)
    if args.bundle is not None and not bundle.is_file():
        return fail(f"bundle {bundle} does not exist", EXIT_USAGE)
    try:
        if not bundle.is_file():
            if args.no_sign:
                bundle = None
            else:
                print(f"signing {manifest.name} {manifest.version} …", file=sys.stderr)
                bundle = _sign(args, plugin_dir)
        client = client_from(args)
    except SigningError as exc:
        return fail(f"signing failed: {exc}")
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    with client:
        try:
            with progress_bar("uploading", enabled=sys.stderr.isatty()) as progress:
                accepted = client.publish(
                    plugin_dir / MANIFEST_FILE_NAME, component, bundle, progress=progress
                )
            print(
                f"accepted {shown(accepted.name)} {shown(accepted.version)}: "
                f"{shown(accepted.status)}"
            )
            if not args.wait:
                return EXIT_OK
            detail = client.wait_for_verdict(
                accepted.name, accepted.version, timeout_s=args.wait_timeout
            )
        except RegistryClientError as exc:
            return fail(str(exc))
    print(f"{shown(detail.name)} {shown(detail.version)}: {shown(detail.status)}")
    if detail.report_summary is not None:
        for check in detail.report_summary.checks:
            mark = "skip" if check.skipped else "ok  " if check.passed else "FAIL"
            print(f"  {mark} {shown(check.name):<20} {shown(check.reason)}")
    return EXIT_OK if detail.status == "approved" else EXIT_FAILED
