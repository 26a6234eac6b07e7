"""``clawft-registry search`` and ``info``: what a registry offers."""

from __future__ import annotations

import argparse
from typing import Any

import msgspec

from client.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail
from client.cli.registry_options import add_registry_options, client_from
from client.cli.terminal import shown
from client.registry import RegistryClientError, parse_reference


def register(subparsers: Any) -> None:
    search: argparse.ArgumentParser = subparsers.add_parser(
        "search", help="search approved plugins by name and description"
    )
    search.add_argument("query")
    search.add_argument("--page", type=int, default=1)
    search.add_argument("--per-page", type=int, default=20)
    search.add_argument("--json", action="store_true")
    add_registry_options(search)
    search.set_defaults(handler=run_search)

    info: argparse.ArgumentParser = subparsers.add_parser(
        "info", help="show a plugin's versions, or one version's record and verification"
    )
    info.add_argument("reference", metavar="NAME[@VERSION]")
    info.add_argument("--json", action="store_true")
    add_registry_options(info)
    info.set_defaults(handler=run_info)


def run_search(args: argparse.Namespace) -> int:
    try:
        client = client_from(args)
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    with client:
        try:
            page = client.search(args.query, page=args.page, per_page=args.per_page)
        except RegistryClientError as exc:
            return fail(str(exc))
    if args.json:
        print(msgspec.json.encode(page).decode())
        return EXIT_OK
    for item in page.items:
        print(
            f"{shown(item.name):<32} {shown(item.latest_version or '-'):<12} "
            f"{shown(item.description)}"
        )
    print(f"{page.total} plugin(s) match; page {page.page}")
    return EXIT_OK


def run_info(args: argparse.Namespace) -> int:
    try:
        name, version = parse_reference(args.reference)
        client = client_from(args)
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    with client:
        try:
            if version is None:
                plugin = client.plugin(name)
                if args.json:
                    print(msgspec.json.encode(plugin).decode())
                    return EXIT_OK
                print(f"{shown(plugin.name)}: {shown(plugin.description)}")
                for v in plugin.versions:
                    flag = " (yanked)" if v.yanked else ""
                    print(
                        f"  {shown(v.version):<14} {shown(v.status)}{flag}  {shown(v.created_at)}"
                    )
                return EXIT_OK
            detail = client.version(name, version)
        except RegistryClientError as exc:
            return fail(str(exc))
    if args.json:
        print(msgspec.json.encode(detail).decode())
        return EXIT_OK
    yanked = (
        f" (yanked: {shown(detail.yanked_reason or 'no reason given')})" if detail.yanked else ""
    )
    print(f"{shown(detail.name)} {shown(detail.version)}: {shown(detail.status)}{yanked}")
    print(f"  component {shown(detail.component.filename)} sha256 {shown(detail.component.sha256)}")
    if detail.report_summary:
        for check in detail.report_summary.checks:
            mark = "skip" if check.skipped else "ok  " if check.passed else "FAIL"
            print(f"  {mark} {shown(check.name):<20} {shown(check.reason)}")
    return EXIT_OK if detail.status != "rejected" else EXIT_FAILED
