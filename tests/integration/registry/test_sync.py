"""`clawft-registry sync` against a live registry's TUF repository: from empty, change only,
updates within a selection, yanks, removal, rollback, and the plugins a device ends up running.
Every test runs against the embedded registry and the production shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client.cli.main import main
from client.host import PluginHost
from client.sync import (
    STATE_DIR,
    ChangeKind,
    Generations,
    SyncSummary,
    parse_selection,
    pin_root,
    sync,
)
from tests.conftest import RunningAuthority
from tests.integration.registry.harness import Registry, publish, signed, variant


def device(registry: Registry, tmp_path: Path) -> Path:
    dest = tmp_path / "device"
    pin_root(dest / STATE_DIR, (registry.data_dir / "tuf" / "1.root.json").read_bytes())
    return dest


def run_sync(
    registry: Registry, dest: Path, authority: RunningAuthority, *selections: str
) -> SyncSummary:
    return sync(
        dest,
        [parse_selection(s) for s in selections],
        instance=authority.instance,
        registry_url=registry.url,
    )


def kinds(summary: SyncSummary) -> dict[str, tuple[str, str | None]]:
    return {c.name: (c.kind.value, c.version) for c in summary.changes}


def test_sync_from_empty_then_change_only(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    with registry.client() as client:
        publish(client, signed(built, "hello", dev_authority, tmp_path / "src"))
    registry.verify_queued()
    dest = device(registry, tmp_path)

    first = run_sync(registry, dest, dev_authority, "clawft")
    assert kinds(first) == {"clawft/hello": ("added", "0.1.0")}
    assert first.generation == "1"
    assert set(first.metadata) == {"root", "timestamp", "snapshot", "targets"}
    component = dest / "current" / "clawft" / "hello" / "hello.wasm"
    output = PluginHost().load(component).invoke("greet", '{"name": "Oslo"}')
    assert output == '{"greeting":"Hello, Oslo!"}'

    again = run_sync(registry, dest, dev_authority, "clawft")
    assert kinds(again) == {"clawft/hello": ("unchanged", "0.1.0")}
    assert again.generation == "1"  # nothing new to switch to


def test_updates_follow_the_selection_and_yanks(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    with registry.client() as client:
        for version in ("0.1.0", "0.1.1", "0.2.0"):
            publish(client, variant(built, dev_authority, tmp_path / "src", version=version))
    registry.verify_queued()
    dest = device(registry, tmp_path)
    assert kinds(run_sync(registry, dest, dev_authority, "clawft/hello@~0.1.0")) == {
        "clawft/hello": ("added", "0.1.1")
    }
    assert kinds(run_sync(registry, dest, dev_authority, "clawft/hello")) == {
        "clawft/hello": ("updated", "0.2.0")
    }
    with registry.client() as client:
        client.yank("clawft/hello", "0.2.0", "broken")
    registry.settle_tuf()
    # The installed version was yanked: going back to the newest one not yanked is right.
    assert kinds(run_sync(registry, dest, dev_authority, "clawft/hello")) == {
        "clawft/hello": ("updated", "0.1.1")
    }
    assert Generations(dest).installed()["clawft/hello"].version == "0.1.1"


def test_removal_and_rollback(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    with registry.client() as client:
        publish(client, signed(built, "hello", dev_authority, tmp_path / "src"))
        publish(client, signed(built, "notes", dev_authority, tmp_path / "src"))
    registry.verify_queued()
    dest = device(registry, tmp_path)
    assert set(kinds(run_sync(registry, dest, dev_authority, "clawft"))) == {
        "clawft/hello",
        "clawft/notes",
    }
    narrowed = run_sync(registry, dest, dev_authority, "clawft/hello")
    assert kinds(narrowed) == {
        "clawft/hello": ("unchanged", "0.1.0"),
        "clawft/notes": ("removed", None),
    }
    assert not (dest / "current" / "clawft" / "notes").exists()
    assert main(["sync", "rollback", "--dest", str(dest)]) == 0
    assert (dest / "current" / "clawft" / "notes" / "notes.wasm").is_file()


def test_the_command_line_prints_json_and_exit_codes(
    registry: Registry,
    built: dict[str, Path],
    dev_authority: RunningAuthority,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with registry.client() as client:
        publish(client, signed(built, "hello", dev_authority, tmp_path / "src"))
    registry.verify_queued()
    dest = tmp_path / "device"
    root = tmp_path / "root.json"
    root.write_bytes((registry.data_dir / "tuf" / "1.root.json").read_bytes())
    common = [
        "--dest",
        str(dest),
        "--registry",
        registry.url,
        "--trust-config",
        str(dev_authority.trust_config_path),
        "--no-cache",
    ]
    assert main(["sync", *common, "--select", "clawft"]) == 2  # no root pinned yet
    assert "sync init" in capsys.readouterr().err
    assert main(["sync", "init", "--root", str(root), "--dest", str(dest)]) == 0
    capsys.readouterr()
    assert main(["sync", *common, "--select", "clawft", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["added"] == [{"name": "clawft/hello", "version": "0.1.0"}]
    assert summary["generation"] == "1"
    code = main(["sync", *common, "--select", "clawft/nothing-here", "--json"])
    assert code == 1
    failed = json.loads(capsys.readouterr().out)["failed"]
    assert failed == [
        {"name": "clawft/nothing-here", "reason": "the repository lists no such plugin"}
    ]
    for bad in (["--select", "Clawft"], ["--select", "clawft@1.0.0"], ["--every", "5 minutes"]):
        assert main(["sync", *common, *bad]) == 2


def test_a_plugin_signed_outside_the_policy_is_refused(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    """The namespace trusts alice only; a device checks the bundle against the policy in the
    offline-signed metadata, so a plugin the registry lists but someone else signed fails."""
    import sqlalchemy as sa

    from client.signing import sign_plugin
    from registry.db import Namespace, TrustedSigner

    # The registry's database (but not its offline-signed policy) trusts mallory too, so the
    # verifier approves her upload: the device must still refuse it.
    with registry.services.db.session() as session:
        namespace = session.scalar(sa.select(Namespace).where(Namespace.name == "clawft"))
        assert namespace is not None
        session.add(
            TrustedSigner(
                namespace_id=namespace.id,
                identity="mallory@example.com",
                issuer=dev_authority.issuer,
            )
        )
    plugin = variant(built, dev_authority, tmp_path / "src")
    sign_plugin(
        plugin,
        instance=dev_authority.instance,
        identity_token=dev_authority.token("mallory@example.com"),
    )
    with registry.client() as client:
        publish(client, plugin)
    registry.verify_queued()
    dest = device(registry, tmp_path)
    summary = run_sync(registry, dest, dev_authority, "clawft")
    (failed,) = summary.of(ChangeKind.FAILED)
    assert failed.name == "clawft/hello"
    assert "does not verify against the signer policy" in failed.reason
    assert Generations(dest).current() is None
