"""``clawft-registry pull``: install an approved plugin, verified end to end."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from client.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_sigstore_instance_options, fail
from client.cli.registry_options import add_registry_options, client_from, progress_bar
from client.cli.terminal import shown
from client.registry import RegistryClientError, pull


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "pull",
        help="download and install an approved plugin, verified",
        description=(
            "Download NAME[@VERSION] (the latest approved version by default), check every "
            "file's length and sha256 against the registry's record and the signature against "
            "the namespace's trusted signers, then move it into DEST/<namespace>/<name>/<version> "
            "atomically. Exit status: 0 installed; 1 refused or not verified; 2 usage."
        ),
    )
    parser.add_argument("reference", metavar="NAME[@VERSION]")
    parser.add_argument("--dest", type=Path, default=Path("plugins"), help="default: ./plugins")
    parser.add_argument(
        "--allow-unsigned",
        action="store_true",
        help="install even when the namespace lists no trusted signers",
    )
    add_sigstore_instance_options(parser)
    add_registry_options(parser)
    parser.set_defaults(handler=run_pull)


def run_pull(args: argparse.Namespace) -> int:
    from client.signing import SigningError, SigstoreInstance

    try:
        instance = SigstoreInstance.choose(trust_config=args.trust_config, staging=args.staging)
        client = client_from(args)
    except (ValueError, SigningError) as exc:
        return fail(str(exc), EXIT_USAGE)
    with client:
        try:
            with progress_bar("downloading", enabled=sys.stderr.isatty()) as progress:
                installed = pull(
                    client,
                    args.reference,
                    args.dest,
                    instance=instance,
                    allow_unsigned=args.allow_unsigned,
                    progress=progress,
                )
        except ValueError as exc:
            return fail(str(exc), EXIT_USAGE)
        except RegistryClientError as exc:
            return fail(str(exc))
    signed = f", signed by {shown(installed.signer)}" if installed.signer else ", unsigned"
    yanked = " (yanked)" if installed.yanked else ""
    print(
        f"installed {shown(installed.name)} {shown(installed.version)}{yanked} in "
        f"{shown(installed.directory)}{signed}"
    )
    return EXIT_OK if installed.directory.exists() else EXIT_FAILED
