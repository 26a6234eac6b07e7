"""``clawft-registry search`` and ``info``: what a registry offers."""

from __future__ import annotations

import argparse
from typing import Any

import msgspec

from client.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_sigstore_instance_options,
    fail,
)
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
    add_sigstore_instance_options(info)
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
    proof = _proof(args, detail.name, detail.version, detail.status)
    if args.json:
        record = msgspec.to_builtins(detail)
        record["proof"] = proof
        print(msgspec.json.encode(record).decode())
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
    _print_proof(proof)
    return EXIT_OK if detail.status != "rejected" else EXIT_FAILED


def _proof(args: argparse.Namespace, name: str, version: str, status: str) -> dict[str, Any]:
    """The chain of proof of an approved version, checked against the pinned TUF root: who
    signed it (Sigstore), what it may do (its signed manifest), the report that approved it
    (by digest) and the TUF metadata versions it came from."""
    if status not in ("approved", "yanked"):
        return {"verified": False, "why": f"the version is {status}: nothing of it is served"}
    from client.registry import load_client_config
    from client.signing import SigstoreInstance
    from client.sync import RepositoryUntrusted, RootNotPinned
    from client.sync.fetch import PluginRefused, fetch_plugin
    from client.sync.repository import TargetMissing, TrustedRepository
    from client.sync.trust import trust_dir

    try:
        url = load_client_config(url=args.registry).url
        instance = SigstoreInstance.choose(trust_config=args.trust_config, staging=args.staging)
        repo = TrustedRepository(trust_dir(url), registry_url=url, mirror=None)
        namespace, plugin = name.split("/")
        index = repo.plugin_index(namespace, plugin)
        entry = next((e for e in (index.versions if index else []) if e.version == version), None)
        if entry is None:
            return {"verified": False, "why": "the signed metadata does not list this version"}
        verified = fetch_plugin(repo, name, entry, instance=instance)
    except RootNotPinned:
        return {
            "verified": False,
            "why": "no TUF root pinned for this registry: clawft-registry trust init --root FILE",
        }
    except (RepositoryUntrusted, PluginRefused, TargetMissing, ValueError) as exc:
        return {"verified": False, "why": str(exc)}
    permissions = verified.manifest.permissions
    return {
        "verified": True,
        "signer": verified.signer,
        "permissions": {
            "network": list(permissions.network),
            "filesystem": list(permissions.filesystem),
            "env": list(permissions.env),
        },
        "report_sha256": entry.report_sha256,
        "metadata": repo.versions(),
    }


def _print_proof(proof: dict[str, Any]) -> None:
    if not proof.get("verified"):
        print(f"  proof: not verified ({shown(str(proof.get('why', '')))})")
        return
    print(f"  proof: signed by {shown(str(proof['signer'] or 'nobody (unsigned)'))}")
    for kind, entries in proof["permissions"].items():
        print(f"    may use {kind}: {shown(', '.join(entries) or 'nothing')}")
    print(f"    approved by the report with sha256 {shown(proof['report_sha256'])}")
    versions = ", ".join(f"{role} {v}" for role, v in sorted(proof["metadata"].items()))
    print(f"    through TUF metadata: {shown(versions)}")
