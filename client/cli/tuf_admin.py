"""``clawft-registry admin tuf-init | sign-signers | rotate-key``: the TUF operations that need
the offline keys, run by an operator who holds them (settings from ``CLAWFT_*`` as for
``worker``; ``serve`` does ``tuf-init`` by itself on its first start).

A key is a PEM file (``--root-key FILE``; ``tuf-init`` creates missing ones, readable by their
owner only) or a securesystemslib signer URI (``awskms:…``, ``gcpkms:…``, ``hsm:…``): the
public key then comes from the repository's current root.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from client.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail
from client.cli.server import server_command

__all__ = ["register_actions", "sign_namespaces"]

SERVER_EXTRA = "this command needs the server extra: pip install 'clawft-registry[server]'"


def register_actions(actions: Any) -> None:
    init = actions.add_parser(
        "tuf-init",
        help="create the registry's TUF repository (production; serve does it by itself)",
    )
    init.add_argument("--root-key", required=True, metavar="FILE|URI")
    init.add_argument("--targets-key", required=True, metavar="FILE|URI")
    init.add_argument(
        "--online-key",
        metavar="FILE",
        help="the online key (default: CLAWFT_TUF_ONLINE_KEY_URI, or DATA_DIR/tuf/online.pem)",
    )
    init.add_argument(
        "--root-out", type=Path, required=True, metavar="FILE", help="write the root devices pin"
    )
    init.set_defaults(handler=server_command(run_tuf_init))

    sign = actions.add_parser(
        "sign-signers",
        help="apply the namespaces' requested signer changes, signed with the targets key",
    )
    sign.add_argument("namespaces", nargs="*", metavar="NAMESPACE", help="default: every request")
    sign.add_argument("--targets-key", required=True, metavar="FILE|URI")
    sign.set_defaults(handler=server_command(run_sign_signers))

    rotate = actions.add_parser("rotate-key", help="replace a TUF signing key")
    rotate.add_argument("role", choices=("online", "targets", "root"))
    rotate.add_argument(
        "--root-key", required=True, metavar="FILE|URI", help="the current root key"
    )
    rotate.add_argument("--targets-key", metavar="FILE|URI", help="online: the current targets key")
    rotate.add_argument(
        "--new-key", required=True, type=Path, metavar="FILE", help="created when it does not exist"
    )
    rotate.set_defaults(handler=server_command(run_rotate_key))


def _open(args: argparse.Namespace) -> Any:
    from client.cli.server import _settings, open_database

    settings = _settings(args)
    return settings, open_database(settings)


def _offline_signer(value: str, role: str, db: Any, *, create: bool = False) -> Any:
    """A key file (created when ``create`` and missing) or a signer URI, for ``role``."""
    from registry.tuf.keys import create_key_file, file_signer, signer_for

    if ":" in value and not Path(value).exists():
        import sqlalchemy as sa
        from tuf.api.metadata import Metadata, Root

        from registry.db import TufMetadata

        with db.session() as session:
            body = session.scalar(
                sa.select(TufMetadata.body)
                .where(TufMetadata.role == Root.type)
                .order_by(TufMetadata.version.desc())
                .limit(1)
            )
        if body is None:
            raise ValueError(f"a signer URI for the {role} key needs an existing repository")
        root = Metadata[Root].from_bytes(body).signed
        keyid = root.roles[role].keyids[0]
        return signer_for(value, root.keys[keyid])
    path = Path(value)
    if not path.exists() and create:
        print(f"created the {role} key {path} (keep it offline)", file=sys.stderr)
        return create_key_file(path)
    return file_signer(path)


def run_tuf_init(args: argparse.Namespace) -> int:
    try:
        from registry.db import PluginVersion, TufMetadata
        from registry.db.models import DOWNLOADABLE
        from registry.db.tuf_targets import list_version
        from registry.tuf.keys import RepositoryKeys, SigningKeyError
        from registry.tuf.policies import policy_targets
        from registry.tuf.repository import RepositoryExists, create_repository, publish_changes
        from registry.tuf.settings import online_key_uri
    except ImportError:
        return fail(SERVER_EXTRA, EXIT_USAGE)
    import sqlalchemy as sa

    try:
        settings, db = _open(args)
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    try:
        online_value = (
            str(args.online_key)
            if args.online_key
            else online_key_uri(settings.tuf, settings.data_dir).removeprefix("file2:")
        )
        keys = RepositoryKeys(
            online=_offline_signer(online_value, "timestamp", db, create=True),
            root=_offline_signer(args.root_key, "root", db, create=True),
            targets=_offline_signer(args.targets_key, "targets", db, create=True),
        )
        with db.session() as session:
            create_repository(session, keys, settings.tuf, policy_targets(session))
            for version in session.scalars(
                sa.select(PluginVersion).where(PluginVersion.status.in_(DOWNLOADABLE))
            ):
                list_version(session, version)
            publish_changes(session, keys, settings.tuf)
        with db.session() as session:
            first_root = session.get(TufMetadata, ("root", 1))
            if first_root is None:  # pragma: no cover - created just above
                return fail("the repository has no root", EXIT_FAILED)
            args.root_out.write_bytes(first_root.body)
    except (ValueError, SigningKeyError, RepositoryExists) as exc:
        return fail(str(exc), EXIT_FAILED)
    finally:
        db.dispose()
    print(f"TUF repository created; devices pin {args.root_out}")
    return EXIT_OK


def run_sign_signers(args: argparse.Namespace) -> int:
    return sign_namespaces(args, args.namespaces or None)


def sign_namespaces(args: argparse.Namespace, namespaces: list[str] | None) -> int:
    """Apply pending signer changes (of ``namespaces``, or all) and sign their policies with
    ``args.targets_key``."""
    try:
        from registry.tuf.keys import RepositoryKeys, SigningKeyError
        from registry.tuf.policies import sign_signer_requests
        from registry.tuf.tasks import online_keys
    except ImportError:
        return fail(SERVER_EXTRA, EXIT_USAGE)
    try:
        settings, db = _open(args)
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    try:
        targets = _offline_signer(args.targets_key, "targets", db)
        # Signing policies touches the snapshot and timestamp too: the online key signs them.
        online = online_keys(db, settings.tuf, settings.data_dir).online
        keys = RepositoryKeys(online=online, targets=targets)
        with db.session() as session:
            signed = sign_signer_requests(session, keys, settings.tuf, namespaces)
    except (ValueError, SigningKeyError, OSError) as exc:
        return fail(str(exc), EXIT_FAILED)
    finally:
        db.dispose()
    if not signed:
        print("no signer changes waiting")
    else:
        print(f"signed the signer policies of {', '.join(signed)}")
    return EXIT_OK


def run_rotate_key(args: argparse.Namespace) -> int:
    try:
        from registry.tuf.keys import RepositoryKeys, SigningKeyError
        from registry.tuf.rotation import rotate_online_key, rotate_root_key, rotate_targets_key
        from registry.tuf.tasks import online_keys
    except ImportError:
        return fail(SERVER_EXTRA, EXIT_USAGE)
    try:
        settings, db = _open(args)
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    try:
        root = _offline_signer(args.root_key, "root", db)
        role = "timestamp" if args.role == "online" else args.role
        new = _offline_signer(str(args.new_key), role, db, create=True)
        with db.session() as session:
            if args.role == "online":
                if args.targets_key is None:
                    return fail("rotating the online key needs --targets-key too", EXIT_USAGE)
                keys = RepositoryKeys(
                    online=new, root=root, targets=_offline_signer(args.targets_key, "targets", db)
                )
                version = rotate_online_key(session, keys, settings.tuf, new)
            else:
                online = online_keys(db, settings.tuf, settings.data_dir).online
                keys = RepositoryKeys(online=online, root=root)
                rotate = rotate_root_key if args.role == "root" else rotate_targets_key
                version = rotate(session, keys, settings.tuf, new)
    except (ValueError, SigningKeyError, OSError) as exc:
        return fail(str(exc), EXIT_FAILED)
    finally:
        db.dispose()
    advice = (
        "; point CLAWFT_TUF_ONLINE_KEY_URI at the new key and restart the workers"
        if args.role == "online"
        else ""
    )
    print(f"{args.role} key rotated: root version {version}{advice}")
    return EXIT_OK
