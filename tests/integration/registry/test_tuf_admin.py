"""Who may sign a namespace changes only with the offline key: an owner asks
(``PUT /api/v1/namespaces/{ns}/signers``), nothing changes, an admin signs
(``clawft-registry admin sign-signers``), and then verifier and devices agree on the new list.
Also the other admin commands that need offline keys: ``tuf-init`` and ``rotate-key``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from client.cli.main import main
from client.signing import sign_plugin
from client.sync import STATE_DIR, ChangeKind, pin_root
from registry.db import Database, DatabaseSettings
from registry.db.migrate import upgrade
from tests.conftest import ALICE, RunningAuthority
from tests.integration.registry.harness import Registry, publish, variant
from tests.integration.registry.tuf_harness import sync_via

MALLORY = "mallory@example.com"


@pytest.fixture
def admin_env(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    """The admin commands read the registry's settings from CLAWFT_*, as in production."""
    monkeypatch.setenv("CLAWFT_DATABASE_URL", registry.services.settings.database.url)
    monkeypatch.setenv("CLAWFT_DATA_DIR", str(registry.data_dir))


def put_signers(registry: Registry, body: object, token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token or registry.token}"} if token != "" else {}
    return httpx.put(f"{registry.url}/api/v1/namespaces/clawft/signers", json=body, headers=headers)


def test_new_signers_apply_only_once_an_admin_signs_them(
    registry: Registry,
    admin_env: None,
    built: dict[str, Path],
    dev_authority: RunningAuthority,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    both = [
        {"identity": ALICE, "issuer": dev_authority.issuer},
        {"identity": MALLORY, "issuer": dev_authority.issuer},
    ]
    answer = put_signers(registry, {"signers": both})
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "awaiting signature"
    with registry.client() as client:  # nothing changed yet, for the verifier either
        assert [s.identity for s in client.namespace("clawft").trusted_signers] == [ALICE]
        plugin = variant(built, dev_authority, tmp_path / "src")
        sign_plugin(
            plugin, instance=dev_authority.instance, identity_token=dev_authority.token(MALLORY)
        )
        publish(client, plugin)
    registry.verify_queued()
    with registry.client() as client:
        assert client.version("clawft/hello", "0.1.0").status == "rejected"

    targets_key = registry.data_dir / "tuf" / "offline" / "targets.pem"
    assert main(["admin", "sign-signers", "--targets-key", str(targets_key)]) == 0
    assert "signed the signer policies of clawft" in capsys.readouterr().out
    registry.settle_tuf()
    with registry.client() as client:
        assert sorted(s.identity for s in client.namespace("clawft").trusted_signers) == [
            ALICE,
            MALLORY,
        ]
        later = variant(built, dev_authority, tmp_path / "src2", version="0.2.0")
        sign_plugin(
            later, instance=dev_authority.instance, identity_token=dev_authority.token(MALLORY)
        )
        publish(client, later)
    registry.verify_queued()
    dest = tmp_path / "device"
    pin_root(dest / STATE_DIR, (registry.data_dir / "tuf" / "1.root.json").read_bytes())
    summary = sync_via(registry.url, dest, dev_authority)
    assert [(c.kind, c.version) for c in summary.changes] == [(ChangeKind.ADDED, "0.2.0")]
    assert main(["admin", "sign-signers", "--targets-key", str(targets_key)]) == 0
    assert "no signer changes waiting" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("body", "token", "status", "error"),
    [
        ({"signers": [{"identity": ALICE, "issuer": "https://x"}]}, "", 401, "unauthorized"),
        ({"signers": [{"identity": ALICE, "issuer": "not a url"}]}, None, 400, "bad_request"),
        ({"signers": [{"identity": "", "issuer": "https://x"}]}, None, 400, "bad_request"),
        (
            {"signers": [{"identity": "a" * 600, "issuer": "https://x"}]},
            None,
            400,
            "bad_request",
        ),
        ({"signers": [{"identity": ALICE, "issuer": "https://x"}] * 40}, None, 400, "bad_request"),
        ({"signers": "alice"}, None, 400, "bad_request"),
        ([], None, 400, "bad_request"),
    ],
)
def test_hostile_signer_requests_are_refused_and_change_nothing(
    registry: Registry, body: object, token: str | None, status: int, error: str
) -> None:
    answer = put_signers(registry, body, token)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error
    with registry.client() as client:
        assert [s.identity for s in client.namespace("clawft").trusted_signers] == [ALICE]


def test_a_token_for_another_namespace_cannot_ask(registry: Registry) -> None:
    answer = httpx.put(
        f"{registry.url}/api/v1/namespaces/someone-else/signers",
        json={"signers": []},
        headers={"authorization": f"Bearer {registry.token}"},
    )
    assert answer.status_code == 403 and answer.json()["error"] == "forbidden"


@pytest.mark.parametrize("registry", ["embedded"], indirect=True)
def test_tuf_init_and_rotate_key_from_the_command_line(
    registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A production registry's repository, created and rotated with keys an operator holds."""
    data = tmp_path / "prod"
    url = f"sqlite:///{data / 'registry.sqlite3'}"
    data.mkdir()
    db = Database(DatabaseSettings(url=url))
    upgrade(db.engine)
    db.dispose()
    monkeypatch.setenv("CLAWFT_DATABASE_URL", url)
    monkeypatch.setenv("CLAWFT_DATA_DIR", str(data))
    keys = tmp_path / "usb"
    root_out = tmp_path / "1.root.json"
    init = ["admin", "tuf-init", "--root-key", str(keys / "root.pem"), "--targets-key"]
    init += [str(keys / "targets.pem"), "--root-out", str(root_out)]
    assert main(init) == 0
    assert root_out.is_file() and (keys / "root.pem").stat().st_mode & 0o777 == 0o600
    assert main(init) == 1
    assert "already holds a TUF repository" in capsys.readouterr().err
    rotate = ["admin", "rotate-key", "root", "--root-key", str(keys / "root.pem")]
    assert main([*rotate, "--new-key", str(keys / "root-2.pem")]) == 0
    assert "root key rotated: root version 2" in capsys.readouterr().out
    online = ["admin", "rotate-key", "online", "--root-key", str(keys / "root-2.pem")]
    assert main([*online, "--new-key", str(keys / "online-2.pem")]) == 2  # no --targets-key
    assert (
        main(
            [
                *online,
                "--targets-key",
                str(keys / "targets.pem"),
                "--new-key",
                str(keys / "online-2.pem"),
            ]
        )
        == 0
    )
    assert "restart the workers" in capsys.readouterr().out
    wrong = ["admin", "rotate-key", "root", "--root-key", str(keys / "targets.pem")]
    assert main([*wrong, "--new-key", str(keys / "root-3.pem")]) == 1
