"""The plugin statement: what is signed, and every way a statement can fail the two files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from client.signing import (
    PREDICATE_TYPE,
    FailureReason,
    PluginFiles,
    SignatureVerificationError,
    build_statement,
    check_statement,
)
from client.signing.statement import IN_TOTO_PAYLOAD_TYPE

PAYLOAD_TYPE = IN_TOTO_PAYLOAD_TYPE


def _payload(files: PluginFiles) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(build_statement(files)._contents)
    return loaded


def _reason(payload: dict[str, Any] | bytes, files: PluginFiles, ptype: str = PAYLOAD_TYPE) -> str:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pytest.raises(SignatureVerificationError) as caught:
        check_statement(ptype, data, files)
    return str(caught.value.reason)


def test_statement_names_both_files_with_sha256_and_the_plugin(hello_files: PluginFiles) -> None:
    statement = _payload(hello_files)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == PREDICATE_TYPE == "https://clawft.dev/plugin/v0.1"
    assert statement["predicate"] == {"name": "acme/hello", "version": "0.1.0"}
    assert {s["name"]: s["digest"]["sha256"] for s in statement["subject"]} == {
        "hello.wasm": hashlib.sha256(hello_files.component).hexdigest(),
        "clawft-plugin.toml": hashlib.sha256(hello_files.manifest).hexdigest(),
    }


def test_statement_checks_against_the_same_files(hello_files: PluginFiles) -> None:
    payload = json.dumps(_payload(hello_files)).encode()
    assert check_statement(PAYLOAD_TYPE, payload, hello_files) == hello_files.plugin


def test_changed_component_is_a_digest_mismatch(
    hello_files: PluginFiles, make_files: Callable[..., PluginFiles]
) -> None:
    tampered = make_files(component=hello_files.component + b"\x00")
    with pytest.raises(SignatureVerificationError) as caught:
        check_statement(PAYLOAD_TYPE, json.dumps(_payload(hello_files)).encode(), tampered)
    assert caught.value.reason is FailureReason.DIGEST_MISMATCH
    assert "component 'hello.wasm' does not match" in str(caught.value)


def test_changed_manifest_is_a_digest_mismatch(
    hello_files: PluginFiles, make_files: Callable[..., PluginFiles]
) -> None:
    tampered = make_files(extra='description = "now with more permissions"\n')
    with pytest.raises(SignatureVerificationError) as caught:
        check_statement(PAYLOAD_TYPE, json.dumps(_payload(hello_files)).encode(), tampered)
    assert caught.value.reason is FailureReason.DIGEST_MISMATCH
    assert "manifest 'clawft-plugin.toml'" in str(caught.value)


@pytest.mark.parametrize("missing", ["hello.wasm", "clawft-plugin.toml"])
def test_a_file_missing_from_the_subjects_is_named(hello_files: PluginFiles, missing: str) -> None:
    statement = _payload(hello_files)
    statement["subject"] = [s for s in statement["subject"] if s["name"] != missing]
    assert _reason(statement, hello_files) == FailureReason.SUBJECT_MISSING


def test_another_plugin_or_version_is_refused(
    hello_files: PluginFiles, make_files: Callable[..., PluginFiles]
) -> None:
    other = make_files(name="acme/other")
    assert _reason(_payload(other), hello_files) == FailureReason.WRONG_PLUGIN
    newer = make_files(version="0.2.0")
    assert _reason(_payload(newer), hello_files) == FailureReason.WRONG_PLUGIN


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.update(predicateType="https://slsa.dev/provenance/v1"),
        lambda s: s.update(_type="https://in-toto.io/Statement/v0.1"),
        lambda s: s.update(predicate=None),
        lambda s: s.update(subject=[]),
        lambda s: s["subject"].append({"name": "extra.bin", "digest": {"sha256": "00" * 32}}),
        lambda s: s["subject"].append(dict(s["subject"][0])),
        lambda s: s["subject"][0].update(digest={"sha512": "00" * 64}),
    ],
    ids=[
        "foreign-predicate",
        "old-statement-type",
        "no-predicate",
        "no-subjects",
        "extra-subject",
        "duplicate-subject",
        "no-sha256",
    ],
)
def test_statements_of_the_wrong_shape_are_refused(
    hello_files: PluginFiles, mutate: Callable[[dict[str, Any]], None]
) -> None:
    statement = _payload(hello_files)
    mutate(statement)
    assert _reason(statement, hello_files) == FailureReason.WRONG_PAYLOAD


@pytest.mark.parametrize("payload", [b"", b"{", b"[]", b"null", b"\xff\xfe", b"[" * 100_000])
def test_garbage_payloads_are_refused(hello_files: PluginFiles, payload: bytes) -> None:
    assert _reason(payload, hello_files) == FailureReason.WRONG_PAYLOAD


def test_a_non_in_toto_payload_type_is_refused(hello_files: PluginFiles) -> None:
    assert _reason(_payload(hello_files), hello_files, "text/plain") == FailureReason.WRONG_PAYLOAD
