"""``clawft-registry inspect``: size, gzipped size, imports and exports of a component."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import msgspec

from client.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail
from client.cli.terminal import shown
from client.host import HostError, HostSettings
from client.host.engine import shared_engine
from client.host.inspection import MAX_INSPECT_BYTES, inspect_component


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "inspect",
        help="show a component's sizes, imports and exports",
        description="Show a component's size, gzipped size, sha256, imports and exports, and "
        "every reason the sandbox would refuse it. Exit status 1 when it would be refused.",
    )
    parser.add_argument("component", type=Path, help="a .wasm file")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(handler=inspect)


def inspect(args: argparse.Namespace) -> int:
    try:
        with args.component.open("rb") as handle:
            data = handle.read(MAX_INSPECT_BYTES + 1)
    except OSError as exc:
        return fail(f"cannot read {args.component}: {exc.strerror or exc}", EXIT_USAGE)
    settings = HostSettings()
    try:
        report = inspect_component(data, shared_engine().engine, settings.size_budget)
    except HostError as exc:
        return fail(str(exc))
    if args.json:
        print(msgspec.json.format(msgspec.json.encode(report)).decode())
    else:
        budget = settings.size_budget
        print(f"component   {shown(args.component)}")
        print(f"kind        {shown(report.kind)}")
        print(f"sha256      {report.sha256}")
        print(f"size        {report.size:,} bytes (budget {budget.component_bytes:,})")
        print(f"gzipped     {report.gzipped_size:,} bytes (budget {budget.component_gzip_bytes:,})")
        for title, items in (("imports", report.imports), ("exports", report.exports)):
            print(f"{title}:" if items else f"{title}: none")
            for name, item in sorted(items.items()):
                # Names come from the component: shown with control characters escaped.
                if isinstance(item, dict):
                    print(f"  {shown(name)}")
                    for func, sig in sorted(item.items()):
                        print(f"    {shown(func)}: {shown(sig)}")
                else:
                    print(f"  {shown(name)}: {shown(item)}")
        if report.problems:
            print("refused by the sandbox because:")
            for problem in report.problems:
                print(f"  - {shown(problem)}")
        else:
            print("loads in the sandbox: yes")
    return EXIT_FAILED if report.problems else EXIT_OK
