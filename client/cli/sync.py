"""``clawft-registry sync``: keep a device's plugins in step with a registry, through TUF.

::

    clawft-registry sync init --root 1.root.json --dest /var/lib/clawft/plugins
    clawft-registry sync --registry https://registry.example --dest /var/lib/clawft/plugins \\
        --select acme --select tools/fetch@^1.2 [--every 15m] [--json]
    clawft-registry sync --from /media/usb/mirror --dest …     # an air-gapped site
    clawft-registry sync rollback --dest /var/lib/clawft/plugins

Exit status, for a systemd timer or a fleet agent: 0 synced (or nothing to do); 1 some
selected plugins were refused or could not be resolved (the others synced; the JSON says
which and why); 2 usage (bad arguments, no root pinned); 3 the repository's metadata was
refused or could not be fetched: nothing was changed; 4 the installation could not be written.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

from client.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_sigstore_instance_options, fail
from client.cli.terminal import shown

__all__ = ["EXIT_INSTALL", "EXIT_UNTRUSTED", "parse_duration", "register"]

EXIT_UNTRUSTED = 3
EXIT_INSTALL = 4
_DURATION = re.compile(r"^([1-9][0-9]{0,6})([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sync",
        help="install and update a device's plugins from a registry, through TUF",
        description=(
            "Install and update this device's plugins from a registry's TUF repository: the "
            "newest approved, non-yanked version each --select allows, verified against the "
            "pinned root and the namespace's offline-signed signer policy, installed as one "
            "atomic generation."
        ),
        epilog=(
            "Exit status: 0 synced; 1 some plugins refused (the rest synced); 2 usage; "
            "3 repository metadata refused or unreachable (nothing changed); 4 install failed."
        ),
    )
    parser.add_argument(
        "action",
        nargs="?",
        choices=("init", "rollback"),
        help="init: pin the registry's root on this device; rollback: go back to the previous "
        "set of plugins; none: sync",
    )
    parser.add_argument("--dest", type=Path, required=True, help="where the plugins live")
    parser.add_argument("--root", type=Path, metavar="FILE", help="init: the root to pin")
    parser.add_argument(
        "--registry", metavar="URL", help="the registry (default: $CLAWFT_REGISTRY_URL)"
    )
    parser.add_argument(
        "--from",
        dest="mirror",
        type=Path,
        metavar="MIRROR_DIR",
        help="sync from a directory written by `clawft-registry mirror` instead",
    )
    parser.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="NAMESPACE|NAME[@RANGE]",
        help="what to run (repeatable): a namespace, a plugin, or a plugin in a version range",
    )
    parser.add_argument(
        "--every",
        metavar="DURATION",
        help="sync again every DURATION (30s, 15m, 6h, 1d), with jitter",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.add_argument(
        "--allow-unsigned",
        action="store_true",
        help="install plugins of namespaces whose signer policy lists nobody",
    )
    parser.add_argument("--config", type=Path, help="host settings (host.toml) for precompiling")
    parser.add_argument("--cache-dir", type=Path, help="compiled-component cache directory")
    parser.add_argument("--no-cache", action="store_true", help="do not precompile")
    add_sigstore_instance_options(parser)
    parser.set_defaults(handler=run_sync)


def parse_duration(text: str) -> float:
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not a duration such as 30s, 15m, 6h or 1d")
    return float(int(found.group(1)) * _SECONDS[found.group(2)])


def run_sync(args: argparse.Namespace) -> int:
    from client.sync import STATE_DIR, GenerationError, Generations, RepositoryUntrusted, pin_root

    if args.action == "init":
        if args.root is None:
            return fail(
                "sync init needs --root FILE: the registry's root, checked out of band", EXIT_USAGE
            )
        try:
            path = pin_root(args.dest / STATE_DIR, args.root.read_bytes())
        except OSError as exc:
            return fail(f"cannot read {args.root}: {exc}", EXIT_USAGE)
        except RepositoryUntrusted as exc:
            return fail(f"{args.root}: {exc}", EXIT_USAGE)
        print(f"pinned {shown(args.root)} as the root of trust in {shown(path)}")
        return EXIT_OK
    if args.action == "rollback":
        try:
            current = Generations(args.dest).rollback()
        except GenerationError as exc:
            return fail(str(exc))
        print(f"rolled back: {shown(args.dest / 'current')} is {shown(current.name)} again")
        return EXIT_OK
    try:
        plan = _plan(args)
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    every = plan.pop("every")
    while True:
        code = _sync_once(args, plan)
        if every is None:
            return code
        time.sleep(every * random.uniform(0.9, 1.1))  # noqa: S311 - jitter, not a secret


def _plan(args: argparse.Namespace) -> dict[str, Any]:
    from client.cli.common import host_settings
    from client.registry import load_client_config
    from client.signing import SigningError, SigstoreInstance
    from client.sync import parse_selection

    if not args.select:
        raise ValueError("say what to run: --select NAMESPACE, NAME or NAME@RANGE (repeatable)")
    if args.mirror is not None and args.registry is not None:
        raise ValueError("give --registry or --from, not both")
    try:
        instance = SigstoreInstance.choose(trust_config=args.trust_config, staging=args.staging)
    except SigningError as exc:
        raise ValueError(str(exc)) from None
    return {
        "selections": [parse_selection(text) for text in args.select],
        "registry_url": None if args.mirror else load_client_config(url=args.registry).url,
        "mirror": args.mirror,
        "instance": instance,
        "settings": None if args.no_cache else host_settings(args.config, args.cache_dir, False),
        "every": parse_duration(args.every) if args.every else None,
    }


def _sync_once(args: argparse.Namespace, plan: dict[str, Any]) -> int:
    from client.host import PluginHost
    from client.sync import ChangeKind, GenerationError, RepositoryUntrusted, RootNotPinned, sync

    host = PluginHost(plan["settings"]) if plan["settings"] is not None else None
    try:
        summary = sync(
            args.dest,
            plan["selections"],
            instance=plan["instance"],
            registry_url=plan["registry_url"],
            mirror=plan["mirror"],
            host=host,
            allow_unsigned=args.allow_unsigned,
            progress=_progress if sys.stderr.isatty() and not args.json else None,
        )
    except RootNotPinned as exc:
        return fail(str(exc), EXIT_USAGE)
    except RepositoryUntrusted as exc:
        return fail(f"the repository was not trusted, nothing changed: {exc}", EXIT_UNTRUSTED)
    except GenerationError as exc:
        return fail(str(exc), EXIT_INSTALL)
    failed = summary.of(ChangeKind.FAILED)
    if args.json:
        print(json.dumps(_as_json(summary), indent=2))
    else:
        for change in summary.changes:
            version = f" {shown(change.version)}" if change.version else ""
            before = f" (was {shown(change.previous)})" if change.previous else ""
            reason = f": {shown(change.reason)}" if change.reason else ""
            print(f"{change.kind:9} {shown(change.name)}{version}{before}{reason}")
        print(f"generation {summary.generation or '-'}; metadata {summary.metadata}")
    return EXIT_FAILED if failed else EXIT_OK


def _as_json(summary: Any) -> dict[str, Any]:
    from client.sync import ChangeKind

    return {
        kind.value: [
            {k: v for k, v in vars(c).items() if k != "kind" and v not in (None, "")}
            for c in summary.of(kind)
        ]
        for kind in ChangeKind
    } | {"metadata": summary.metadata, "generation": summary.generation}


def _progress(done: int, total: int, name: str) -> None:
    print(
        f"\r[{done}/{total}] {shown(name)}\033[K", end="" if done < total else "\n", file=sys.stderr
    )
