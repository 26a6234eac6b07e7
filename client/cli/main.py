"""Composition root of the ``clawft-registry`` command.

Each command group is a module with a ``register(subparsers)`` function that adds its
sub-commands and sets ``handler`` on them. A handler takes the parsed arguments and returns
the process exit code: 0 success, 1 the operation failed (plugin error, refusal, rejection),
2 usage or unreadable input.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Command groups, in the order ``--help`` lists them. Modules that need the ``[server]``
# extra import it inside their handlers, so a client-only install still lists every command.
COMMAND_GROUPS: tuple[str, ...] = (
    "client.cli.run",
    "client.cli.inspect",
    "client.cli.verify",
    "client.cli.signing",
    "client.cli.authority",
    "client.cli.publish",
    "client.cli.pull",
    "client.cli.sync",
    "client.cli.trust",
    "client.cli.browse",
    "client.cli.yank",
    "client.cli.server",
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clawft-registry",
        description="Publish, verify, pull and run sandboxed WebAssembly plugins for clawft.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_GROUPS:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
