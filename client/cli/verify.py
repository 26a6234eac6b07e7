"""``clawft-registry verify``: every check the registry's verifier runs, on a local plugin.

The command a CI pipeline runs before publishing. Exit status: 0 approved, 1 rejected, 2 usage
or unreadable input. A readable summary by default (failures first), JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from client.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_sigstore_instance_options, fail
from client.cli.terminal import shown
from client.manifest import BUNDLE_SUFFIX, MANIFEST_FILE_NAME, ManifestInvalid, parse_manifest

if TYPE_CHECKING:
    from verifier.report import VerificationReport

MAX_READ_BYTES = 64 * 1024 * 1024


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "verify",
        help="run the registry's checks on a plugin (what CI runs before publishing)",
        description=(
            "Check a plugin the way the registry does: manifest, size budget, component "
            "structure, imports, exports, behaviour in the sandbox (describe and the [[tests]] "
            "vectors), and the signature when a bundle and trusted publishers are given. "
            "Exit status: 0 approved, 1 rejected, 2 usage or unreadable input."
        ),
    )
    parser.add_argument("plugin", type=Path, help="plugin directory or its clawft-plugin.toml")
    parser.add_argument(
        "--bundle",
        type=Path,
        help="Sigstore bundle (default: <component>.sigstore.json beside the component)",
    )
    parser.add_argument(
        "--publisher",
        action="append",
        default=[],
        metavar="IDENTITY=ISSUER",
        help="a trusted publisher of the plugin's namespace (repeatable)",
    )
    add_sigstore_instance_options(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--report", type=Path, help="also write the JSON report to this file")
    parser.set_defaults(handler=verify)


def _read(path: Path, what: str) -> bytes:
    with path.open("rb") as handle:
        data = handle.read(MAX_READ_BYTES + 1)
    if len(data) > MAX_READ_BYTES:
        raise ValueError(f"{what} {path} is larger than {MAX_READ_BYTES:,} bytes")
    return data


def _component_path(plugin_dir: Path, manifest: bytes) -> Path:
    """The component the manifest names; if it cannot be parsed, the directory's one .wasm."""
    try:
        return plugin_dir / parse_manifest(manifest).component
    except ManifestInvalid:
        candidates = sorted(plugin_dir.glob("*.wasm"))
        if len(candidates) == 1:
            return candidates[0]
        raise ValueError(
            f"the manifest in {plugin_dir} cannot be read and the directory does not hold "
            "exactly one .wasm file, so there is no component to verify"
        ) from None


def verify(args: argparse.Namespace) -> int:
    from client.signing import SigningError, TrustedPublisher
    from verifier import PluginUpload, VerifierSettings, verify_plugin

    publishers = []
    for item in args.publisher:
        identity, sep, issuer = item.partition("=")
        if not sep or not identity or not issuer:
            return fail(f"--publisher takes IDENTITY=ISSUER, not {item!r}", EXIT_USAGE)
        publishers.append(TrustedPublisher(identity=identity, issuer=issuer))
    manifest_path = args.plugin / MANIFEST_FILE_NAME if args.plugin.is_dir() else args.plugin
    try:
        manifest = _read(manifest_path, "manifest")
        component_path = _component_path(manifest_path.parent, manifest)
        component = _read(component_path, "component")
        bundle_path = args.bundle
        if bundle_path is None and publishers:
            default = component_path.with_name(component_path.name + BUNDLE_SUFFIX)
            bundle_path = default if default.exists() else None
        bundle = _read(bundle_path, "bundle") if bundle_path is not None else None
    except (OSError, ValueError) as exc:
        return fail(str(exc) if isinstance(exc, ValueError) else f"cannot read: {exc}", EXIT_USAGE)
    settings = VerifierSettings(trust_config=args.trust_config, staging=args.staging)
    try:
        report = verify_plugin(
            PluginUpload(
                manifest=manifest,
                component=component,
                component_name=component_path.name,
                bundle=bundle,
            ),
            settings=settings,
            publishers=publishers,
        )
    except SigningError as exc:  # an unreadable trust configuration
        return fail(str(exc), EXIT_USAGE)
    encoded = report.to_json()
    if args.report is not None:
        args.report.write_bytes(encoded + b"\n")
    if args.json:
        sys.stdout.write(encoded.decode() + "\n")
    else:
        print_summary(report)
    return EXIT_OK if report.verdict == "approved" else EXIT_FAILED


def print_summary(report: VerificationReport) -> None:
    """One line per check, failures first, then the verdict."""

    def rank(passed: bool, skipped: bool) -> int:
        return 0 if not passed and not skipped else 1 if not passed else 2

    ordered = sorted(report.checks, key=lambda c: rank(c.passed, c.skipped))
    for check in ordered:
        if not check.passed and not check.skipped:
            mark = "FAIL"
        elif check.skipped:
            mark = "skip"
        else:
            mark = "ok  "
        print(f"{mark} {check.name:<20} {shown(check.reason)}")
    plugin = shown(f"{report.plugin} {report.version}") if report.plugin else "the plugin"
    print(f"verdict: {report.verdict} ({plugin}, sha256 {report.component_sha256[:16]}…)")
