"""``clawft-registry yank`` / ``unyank``: withdraw a version; exact pins still download it."""

from __future__ import annotations

import argparse
from typing import Any

from client.cli.common import EXIT_OK, EXIT_USAGE, fail
from client.cli.registry_options import add_registry_options, client_from
from client.cli.terminal import shown
from client.registry import RegistryClientError, parse_reference


def register(subparsers: Any) -> None:
    yank: argparse.ArgumentParser = subparsers.add_parser(
        "yank", help="yank a version: only exact pins can still download it"
    )
    yank.add_argument("reference", metavar="NAME@VERSION")
    yank.add_argument("--reason", required=True)
    add_registry_options(yank)
    yank.set_defaults(handler=run_yank, undo=False)

    unyank: argparse.ArgumentParser = subparsers.add_parser("unyank", help="undo a yank")
    unyank.add_argument("reference", metavar="NAME@VERSION")
    add_registry_options(unyank)
    unyank.set_defaults(handler=run_yank, undo=True, reason="")


def run_yank(args: argparse.Namespace) -> int:
    try:
        name, version = parse_reference(args.reference)
        if version is None:
            raise ValueError("yank needs an exact version: NAME@VERSION")
        client = client_from(args)
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    with client:
        try:
            detail = (
                client.unyank(name, version)
                if args.undo
                else client.yank(name, version, args.reason)
            )
        except RegistryClientError as exc:
            return fail(str(exc))
    yanked = " (yanked)" if detail.yanked else ""
    print(f"{shown(detail.name)} {shown(detail.version)}: {shown(detail.status)}{yanked}")
    return EXIT_OK
