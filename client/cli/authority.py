"""``clawft-registry dev-authority``: the local Sigstore-compatible signing authority.

NOT FOR PRODUCTION. ``dev-authority --out trust-config.json`` starts the authority (CA, CT log,
transparency log) on a loopback port and writes the trust config clients sign and verify with;
``dev-authority token --identity alice@example.com`` prints an identity token for that name.
Both keep their keys and log in ``--state-dir``, so a restart keeps the same trust.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from client.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail

_BANNER = "!" * 78


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/clawft-registry/dev-authority`` (``~/.local/state`` when unset)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "clawft-registry" / "dev-authority"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dev-authority",
        help="run the local signing authority for development (NOT FOR PRODUCTION)",
        description=(
            "Run a local Sigstore-compatible signing authority (Fulcio- and Rekor-like) for "
            "offline development and tests. NOT FOR PRODUCTION: it issues identity tokens for "
            "any name. Writes the trust config (--out) that `sign --trust-config` and "
            "`verify-signature --trust-config` use. Exit status: 0 stopped cleanly; 1 failed; "
            "2 usage."
        ),
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="keys and log (default: $XDG_STATE_HOME/clawft-registry/dev-authority)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write the trust config here")
    parser.set_defaults(handler=run_authority)

    actions = parser.add_subparsers(dest="authority_action", metavar="ACTION")
    token = actions.add_parser(
        "token",
        help="print a development identity token for a named identity",
        description=(
            "Print an identity token the local authority accepts, for IDENTITY (an email or "
            "a URI). Development only. Exit status: 0 printed; 2 usage."
        ),
    )
    token.add_argument("--identity", required=True, help="e.g. alice@example.com")
    token.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        dest="token_state_dir",
        help="the authority's state directory (default: as for dev-authority)",
    )
    token.set_defaults(handler=run_token)


def _warn() -> None:
    from infra.sigstore_authority import NOT_FOR_PRODUCTION

    print(f"{_BANNER}\n{NOT_FOR_PRODUCTION}\n{_BANNER}", file=sys.stderr)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
        Path(tmp_name).chmod(0o644)
        Path(tmp_name).replace(path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def run_token(args: argparse.Namespace) -> int:
    from infra.sigstore_authority import AuthorityError, mint_identity_token

    state_dir = args.token_state_dir or args.state_dir or default_state_dir()
    try:
        token = mint_identity_token(state_dir, args.identity)
    except AuthorityError as exc:
        return fail(str(exc), EXIT_USAGE)
    except (OSError, ValueError) as exc:
        return fail(f"cannot use state directory {state_dir}: {exc}", EXIT_USAGE)
    print("development identity token: NOT FOR PRODUCTION", file=sys.stderr)
    print(token)
    return EXIT_OK


def run_authority(args: argparse.Namespace) -> int:
    from infra.sigstore_authority import AuthorityServer, SigningAuthority

    if args.out is None:
        return fail("--out FILE is required: where to write the trust config", EXIT_USAGE)
    if not 0 <= args.port <= 65535:
        return fail(f"--port {args.port} is not a TCP port", EXIT_USAGE)
    state_dir = args.state_dir or default_state_dir()
    _warn()
    try:
        authority = SigningAuthority(state_dir)
    except (OSError, ValueError) as exc:
        return fail(f"cannot open state directory {state_dir}: {exc}", EXIT_FAILED)
    try:
        try:
            server = AuthorityServer(authority, host=args.host, port=args.port)
        except ValueError as exc:
            return fail(str(exc), EXIT_USAGE)
        except OSError as exc:
            return fail(f"cannot listen on {args.host}:{args.port}: {exc}", EXIT_FAILED)
        try:
            _write_json(args.out, server.trust_config())
        except OSError as exc:
            server.stop()
            return fail(f"cannot write trust config {args.out}: {exc}", EXIT_USAGE)
        return _serve_until_signalled(server, args.out, authority.tokens.issuer)
    finally:
        authority.close()


def _serve_until_signalled(server: Any, out: Path, issuer: str) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    server.start()
    print(
        f"dev authority listening on {server.url} (issuer {issuer}); trust config: {out}",
        flush=True,
    )
    try:
        stop.wait()
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("dev authority stopped", file=sys.stderr)
    return EXIT_OK
