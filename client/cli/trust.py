"""``clawft-registry trust init --root FILE``: pin a registry's TUF root for ``pull`` and
``info`` on this machine (devices pin theirs with ``sync init``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from client.cli.common import EXIT_OK, EXIT_USAGE, fail
from client.cli.terminal import shown

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "trust",
        help="pin a registry's TUF root: where trust in its plugins starts",
        description=(
            "init: pin FILE (the registry's root, fetched once from "
            "<registry>/tuf/metadata/1.root.json and checked out of band) as the root of trust "
            "for the registry; pull and info then prove everything against it."
        ),
    )
    parser.add_argument("action", choices=("init",))
    parser.add_argument("--root", type=Path, required=True, metavar="FILE")
    parser.add_argument(
        "--registry",
        metavar="URL",
        help="registry URL (default: $CLAWFT_REGISTRY_URL, the config file, or the local one)",
    )
    parser.set_defaults(handler=run_trust)


def run_trust(args: argparse.Namespace) -> int:
    from client.registry import load_client_config
    from client.sync import RepositoryUntrusted, pin_root
    from client.sync.trust import trust_dir

    try:
        url = load_client_config(url=args.registry).url
        path = pin_root(trust_dir(url), args.root.read_bytes())
    except (ValueError, OSError, RepositoryUntrusted) as exc:
        return fail(str(exc), EXIT_USAGE)
    print(f"pinned {shown(args.root)} as the root of trust for {shown(url)} ({shown(path)})")
    return EXIT_OK
