"""The in-toto Statement a plugin signature covers, and the check of one against two files.

Subjects: the component (by the file name the manifest gives) and the manifest (always
``clawft-plugin.toml``), each with its sha256. Predicate: ``{"name", "version"}`` of the
plugin, under a predicate type this project owns. Both functions are pure: bytes in, values out.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sigstore import dsse

from client.manifest import MANIFEST_FILE_NAME
from client.signing.errors import FailureReason, SignatureVerificationError
from client.signing.plugin_files import PluginFiles, PluginIdentity

PREDICATE_TYPE = "https://clawft.dev/plugin/v0.1"
IN_TOTO_STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def _expected_subjects(files: PluginFiles) -> dict[str, str]:
    return {
        files.plugin.component: hashlib.sha256(files.component).hexdigest(),
        MANIFEST_FILE_NAME: hashlib.sha256(files.manifest).hexdigest(),
    }


def build_statement(files: PluginFiles) -> dsse.Statement:
    """The statement to sign for a plugin's component and manifest."""
    subjects = [
        dsse.Subject(name=name, digest=dsse.DigestSet(root={"sha256": digest}))
        for name, digest in _expected_subjects(files).items()
    ]
    return (
        dsse.StatementBuilder()
        .subjects(subjects)
        .predicate_type(PREDICATE_TYPE)
        .predicate({"name": files.plugin.name, "version": files.plugin.version})
        .build()
    )


def _reject(message: str, reason: FailureReason) -> SignatureVerificationError:
    return SignatureVerificationError(message, reason=reason)


def _subjects(statement: dict[str, Any]) -> dict[str, str]:
    raw = statement.get("subject")
    if not isinstance(raw, list) or not raw:
        raise _reject("the signed statement has no subjects", FailureReason.WRONG_PAYLOAD)
    subjects: dict[str, str] = {}
    for item in raw:
        name = item.get("name") if isinstance(item, dict) else None
        digest = item.get("digest") if isinstance(item, dict) else None
        sha256 = digest.get("sha256") if isinstance(digest, dict) else None
        if not isinstance(name, str) or not isinstance(sha256, str):
            raise _reject(
                "a subject of the signed statement lacks a name or a sha256 digest",
                FailureReason.WRONG_PAYLOAD,
            )
        if name in subjects:
            raise _reject(
                f"the signed statement names subject {name!r} twice", FailureReason.WRONG_PAYLOAD
            )
        subjects[name] = sha256.lower()
    return subjects


def check_statement(payload_type: str, payload: bytes, files: PluginFiles) -> PluginIdentity:
    """Check a verified DSSE payload against the plugin's two files; return the plugin.

    Call only with a payload whose signature has been verified: this checks what it says.
    """
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise _reject(
            f"the bundle signs a {payload_type!r} payload, not an in-toto statement",
            FailureReason.WRONG_PAYLOAD,
        )
    try:
        statement = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise _reject("the signed statement is not JSON", FailureReason.WRONG_PAYLOAD) from exc
    if not isinstance(statement, dict) or statement.get("_type") != IN_TOTO_STATEMENT_TYPE:
        raise _reject(
            f"the signed payload is not an in-toto v1 statement ({IN_TOTO_STATEMENT_TYPE})",
            FailureReason.WRONG_PAYLOAD,
        )
    predicate_type = statement.get("predicateType")
    if predicate_type != PREDICATE_TYPE:
        raise _reject(
            f"the bundle attests {predicate_type!r}, not a clawft plugin ({PREDICATE_TYPE})",
            FailureReason.WRONG_PAYLOAD,
        )
    predicate = statement.get("predicate")
    name = predicate.get("name") if isinstance(predicate, dict) else None
    version = predicate.get("version") if isinstance(predicate, dict) else None
    if not isinstance(name, str) or not isinstance(version, str):
        raise _reject(
            "the signed statement does not name the plugin and its version",
            FailureReason.WRONG_PAYLOAD,
        )
    expected = files.plugin
    if (name, version) != (expected.name, expected.version):
        raise _reject(
            f"the bundle signs plugin {name} {version}, but the manifest is {expected}: "
            "use the bundle published with this plugin version",
            FailureReason.WRONG_PLUGIN,
        )

    signed = _subjects(statement)
    for role, file_name, digest in (
        ("component", expected.component, hashlib.sha256(files.component).hexdigest()),
        ("manifest", MANIFEST_FILE_NAME, hashlib.sha256(files.manifest).hexdigest()),
    ):
        signed_digest = signed.pop(file_name, None)
        if signed_digest is None:
            raise _reject(
                f"the signed statement does not cover the {role} {file_name!r}: "
                "the signature says nothing about it, so it cannot be trusted",
                FailureReason.SUBJECT_MISSING,
            )
        if signed_digest != digest:
            raise _reject(
                f"the {role} {file_name!r} does not match the signature: signed sha256 "
                f"{signed_digest}, file sha256 {digest}. It was changed after signing, or the "
                "bundle belongs to another build",
                FailureReason.DIGEST_MISMATCH,
            )
    if signed:
        raise _reject(
            f"the signed statement covers unexpected files: {', '.join(sorted(signed))}",
            FailureReason.WRONG_PAYLOAD,
        )
    return expected
