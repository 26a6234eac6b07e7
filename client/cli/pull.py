"""``clawft-registry pull``: install one approved plugin, trusted through the registry's TUF
metadata (the same path as ``sync``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from client.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_sigstore_instance_options, fail
from client.cli.terminal import shown
from client.registry import DownloadRejected, pull


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "pull",
        help="download and install an approved plugin, verified through TUF",
        description=(
            "Install NAME[@VERSION] (the newest approved, non-yanked version by default; an "
            "exact version may be yanked) into DEST/<namespace>/<name>/<version>, atomically. "
            "The version and who may sign it come from the registry's TUF metadata, proved "
            "against the root you pinned (trust init, or --root): a registry, or anyone "
            "between, cannot roll it back or forge its signer list. Exit status: 0 installed; "
            "1 refused or not verified; 2 usage (no root pinned included)."
        ),
    )
    parser.add_argument("reference", metavar="NAME[@VERSION]")
    parser.add_argument("--dest", type=Path, default=Path("plugins"), help="default: ./plugins")
    parser.add_argument(
        "--root",
        type=Path,
        metavar="FILE",
        help="pin this TUF root for the registry first (as `trust init` does)",
    )
    parser.add_argument(
        "--publisher",
        action="append",
        default=[],
        metavar="IDENTITY=ISSUER",
        help="accept only these signers (repeatable), on top of the namespace's signer policy",
    )
    parser.add_argument(
        "--allow-unsigned",
        action="store_true",
        help="install even when the namespace's signer policy lists nobody",
    )
    parser.add_argument(
        "--registry",
        metavar="URL",
        help="registry URL (default: $CLAWFT_REGISTRY_URL, the config file, or the local one)",
    )
    add_sigstore_instance_options(parser)
    parser.set_defaults(handler=run_pull)


def publishers_from(items: list[str]) -> list[Any]:
    from client.signing import TrustedPublisher

    out = []
    for item in items:
        identity, sep, issuer = item.partition("=")
        if not sep or not identity or not issuer:
            raise ValueError(f"--publisher takes IDENTITY=ISSUER, not {item!r}")
        out.append(TrustedPublisher(identity=identity, issuer=issuer))
    return out


def run_pull(args: argparse.Namespace) -> int:
    from client.registry import load_client_config
    from client.signing import SigningError, SigstoreInstance
    from client.sync import RepositoryUntrusted, RootNotPinned, pin_root
    from client.sync.trust import trust_dir

    try:
        instance = SigstoreInstance.choose(trust_config=args.trust_config, staging=args.staging)
        url = load_client_config(url=args.registry).url
        publishers = publishers_from(args.publisher)
        trust = trust_dir(url)
        if args.root is not None:
            pin_root(trust, args.root.read_bytes())
    except (ValueError, SigningError, OSError, RepositoryUntrusted) as exc:
        return fail(str(exc), EXIT_USAGE)
    try:
        installed = pull(
            args.reference,
            args.dest,
            trust=trust,
            instance=instance,
            registry_url=url,
            allow_unsigned=args.allow_unsigned,
            publishers=publishers,
        )
    except RootNotPinned as exc:
        return fail(str(exc), EXIT_USAGE)
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    except DownloadRejected as exc:
        return fail(str(exc), EXIT_FAILED)
    signed = f", signed by {shown(installed.signer)}" if installed.signer else ", unsigned"
    yanked = " (yanked)" if installed.yanked else ""
    print(
        f"installed {shown(installed.name)} {shown(installed.version)}{yanked} in "
        f"{shown(installed.directory)}{signed}"
    )
    return EXIT_OK
