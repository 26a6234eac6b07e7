"""The authority restarts with the same keys and log: old bundles still verify, indices go on."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
from sigstore.oidc import IdentityToken

from client.signing import (
    SigstoreInstance,
    TrustedPublisher,
    TrustPolicy,
    read_plugin_files,
    sign_plugin,
    verify_plugin_bundle,
)
from infra.sigstore_authority import AuthorityServer, SigningAuthority
from tests.conftest import ALICE
from tests.signing_fixtures import MakePlugin


def _start(state: Path, out: Path) -> tuple[SigningAuthority, AuthorityServer, SigstoreInstance]:
    authority = SigningAuthority(state)
    server = AuthorityServer(authority)
    server.start()
    out.write_text(json.dumps(server.trust_config()))
    return authority, server, SigstoreInstance.from_trust_config_file(out)


def _stop(authority: SigningAuthority, server: AuthorityServer) -> None:
    server.stop()
    authority.close()


def _keys(trust_config: Path) -> dict[str, object]:
    root = json.loads(trust_config.read_text())["trustedRoot"]
    return {
        "ca": root["certificateAuthorities"][0]["certChain"],
        "tlog": root["tlogs"][0]["publicKey"],
        "ctlog": root["ctlogs"][0]["publicKey"],
    }


def _log_index(bundle: Path) -> tuple[int, int]:
    entry = json.loads(bundle.read_bytes())["verificationMaterial"]["tlogEntries"][0]
    return int(entry["logIndex"]), int(entry["inclusionProof"]["treeSize"])


def test_restart_keeps_trust_and_log(tmp_path: Path, make_plugin: MakePlugin) -> None:
    state = tmp_path / "state"
    first_config, second_config = tmp_path / "first.json", tmp_path / "second.json"

    authority, server, instance = _start(state, first_config)
    try:
        token = IdentityToken(authority.tokens.mint(ALICE))
        issuer = authority.tokens.issuer
        first = sign_plugin(make_plugin(directory="first"), instance=instance, identity_token=token)
    finally:
        _stop(authority, server)

    authority, server, instance = _start(state, second_config)
    try:
        assert _keys(first_config) == _keys(second_config)
        second = sign_plugin(
            make_plugin(directory="second"), instance=instance, identity_token=token
        )
        assert authority.log.size == 2
    finally:
        _stop(authority, server)

    assert _log_index(first) == (0, 1)
    assert _log_index(second) == (1, 2)
    policy = TrustPolicy.for_namespace("acme", TrustedPublisher(identity=ALICE, issuer=issuer))
    verifier = instance.verifier()
    for bundle in (first, second):  # the first bundle verifies under the restarted trust config
        verified = verify_plugin_bundle(
            bundle.read_bytes(), read_plugin_files(bundle.parent), policy=policy, verifier=verifier
        )
        assert verified.signer.identity == ALICE
    with sqlite3.connect(state / "log.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone() == (2,)


def test_a_corrupted_log_is_detected_on_start(tmp_path: Path, make_plugin: MakePlugin) -> None:
    state = tmp_path / "state"
    authority, server, instance = _start(state, tmp_path / "tc.json")
    try:
        token = IdentityToken(authority.tokens.mint(ALICE))
        sign_plugin(make_plugin(), instance=instance, identity_token=token)
    finally:
        _stop(authority, server)
    with sqlite3.connect(state / "log.sqlite3") as db:
        db.execute("UPDATE entries SET body = ? WHERE log_index = 0", (b'{"rewritten": true}',))
    with pytest.raises(ValueError, match="corrupt"):
        SigningAuthority(state)


def test_concurrent_signers_get_distinct_entries(tmp_path: Path, make_plugin: MakePlugin) -> None:
    authority, server, instance = _start(tmp_path / "state", tmp_path / "tc.json")
    plugins = [make_plugin(directory=f"p{index}") for index in range(6)]
    bundles: list[Path] = []
    errors: list[BaseException] = []

    def sign(plugin: Path) -> None:
        try:
            token = IdentityToken(authority.tokens.mint(ALICE))
            bundles.append(sign_plugin(plugin, instance=instance, identity_token=token))
        except BaseException as exc:
            errors.append(exc)

    try:
        threads = [threading.Thread(target=sign, args=(plugin,)) for plugin in plugins]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        _stop(authority, server)
    assert not errors
    assert sorted(_log_index(bundle)[0] for bundle in bundles) == list(range(6))
