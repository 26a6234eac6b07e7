"""``clawft-registry run``: run one tool of a plugin in the sandbox and print its JSON output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from client.cli.common import EXIT_OK, EXIT_USAGE, fail, host_settings
from client.cli.terminal import shown
from client.decoding import Undecodable, decode_json
from client.host import HostError, InvalidInput, PluginHost
from client.host.cache import UnsafeCacheDirectory
from client.host.sandbox import LOG_LEVELS


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="run a tool of a plugin in the sandbox",
        description=(
            "Run one tool of a plugin component in the sandbox and print its JSON output. "
            "Exit status: 0 ok; 1 plugin error, trap, limit hit or policy refusal; 2 usage."
        ),
    )
    parser.add_argument("component", type=Path, help="the plugin's .wasm component")
    parser.add_argument(
        "--manifest",
        type=Path,
        help="clawft-plugin.toml (default: the one beside the component)",
    )
    parser.add_argument("--tool", required=True, help="name of the tool to run")
    parser.add_argument("--input", required=True, help="the tool's input, a JSON document")
    parser.add_argument(
        "--data-dir", type=Path, help="the plugin's data directory for read-file/write-file"
    )
    parser.add_argument("--audit", type=Path, help="write the audit log here as JSON lines")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a variable get-env may return (repeatable); never the host's own environment",
    )
    parser.add_argument("--config", type=Path, help="host settings (TOML)")
    parser.add_argument("--cache-dir", type=Path, help="compiled-component cache directory")
    parser.add_argument("--no-cache", action="store_true", help="do not use the compiled cache")
    parser.set_defaults(handler=run)


def _stderr_sink(plugin: str, level: int, message: str) -> None:
    print(f"[{plugin}] {LOG_LEVELS[level]}: {shown(message)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    environment: dict[str, str] = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            return fail(f"--env takes NAME=VALUE, not {item!r}", EXIT_USAGE)
        environment[name] = value
    if not args.component.is_file():
        return fail(f"component {args.component} does not exist", EXIT_USAGE)
    if args.manifest is not None and not args.manifest.is_file():
        return fail(f"manifest {args.manifest} does not exist", EXIT_USAGE)
    try:
        settings = host_settings(args.config, args.cache_dir, args.no_cache)
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    try:
        host = PluginHost(settings, log_sink=_stderr_sink)
    except (UnsafeCacheDirectory, OSError) as exc:
        return fail(str(exc), EXIT_USAGE)
    plugin = None
    try:
        plugin = host.load(
            args.component,
            manifest=args.manifest,
            data_dir=args.data_dir,
            environment=environment,
        )
        output = plugin.invoke(args.tool, args.input)
    except InvalidInput as exc:
        return fail(str(exc), EXIT_USAGE)
    except HostError as exc:
        return fail(str(exc))
    finally:
        if plugin is not None and args.audit is not None:
            plugin.audit.write_jsonl(args.audit)
    print(output if _is_json(output) else shown(output))
    return EXIT_OK


def _is_json(text: str) -> bool:
    """JSON output is printed exactly (it has no raw control characters); anything else a
    plugin returns is shown with them escaped."""
    try:
        decode_json(text)
    except Undecodable:
        return False
    return True
