"""Rekor v1 proposed entries: check them the way Rekor does and turn them into log bodies.

Two kinds are accepted, the ones sigstore-python submits: ``hashedrekord`` 0.0.1 (a signature
over a SHA-256 digest) and ``dsse`` 0.0.1 (a DSSE envelope). Every signature must verify
against the certificate submitted with it, or the entry is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from pydantic import ValidationError
from rekor_types import Dsse, Hashedrekord, dsse

from infra.sigstore_authority.errors import AuthorityError

MAX_SIGNATURES = 8  # signatures (and verifiers) per DSSE envelope; sigstore-python sends one


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AuthorityError(f"{what} is not valid base64") from exc


def _verifier_key(b64_pem: str) -> ec.EllipticCurvePublicKey:
    pem = _b64decode(b64_pem, "verifier")
    try:
        cert = x509.load_pem_x509_certificate(pem)
        key = cert.public_key()
    except ValueError as exc:
        raise AuthorityError("verifier is not a PEM X.509 certificate") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise AuthorityError("only ECDSA signing certificates are supported")
    return key


def _pae(payload_type: str, payload: bytes) -> bytes:
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def canonical_body(proposed: dict[str, Any]) -> bytes:
    """The canonical JSON body the log stores for a proposed entry, after checking it."""
    kind = proposed.get("kind")
    if kind == "hashedrekord":
        return _hashedrekord_body(proposed)
    if kind == "dsse":
        return _dsse_body(proposed)
    raise AuthorityError(f"unsupported entry kind {kind!r}: expected hashedrekord or dsse")


def _hashedrekord_body(proposed: dict[str, Any]) -> bytes:
    try:
        entry = Hashedrekord.model_validate(proposed)
    except ValidationError as exc:
        raise AuthorityError(f"malformed hashedrekord entry: {exc.errors()[0]['msg']}") from exc
    if entry.api_version != "0.0.1":
        raise AuthorityError("only hashedrekord 0.0.1 is supported")
    spec = entry.spec.root
    if spec.signature is None or spec.signature.content is None:
        raise AuthorityError("hashedrekord entry has no signature")
    if spec.signature.public_key is None or spec.signature.public_key.content is None:
        raise AuthorityError("hashedrekord entry has no verifier certificate")
    if spec.data is None or spec.data.hash is None:
        raise AuthorityError("hashedrekord entry has no digest")
    if spec.data.hash.algorithm.value != "sha256":
        raise AuthorityError("only sha256 digests are supported")
    try:
        digest = bytes.fromhex(spec.data.hash.value)
    except ValueError as exc:
        raise AuthorityError("digest is not hex") from exc
    if len(digest) != 32:
        raise AuthorityError("a sha256 digest is 32 bytes")
    signature = _b64decode(spec.signature.content, "signature")
    key = _verifier_key(spec.signature.public_key.content)
    try:
        key.verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    except InvalidSignature as exc:
        raise AuthorityError("signature does not verify against the certificate's key") from exc
    return rfc8785.dumps(entry.model_dump(mode="json", by_alias=True, exclude_none=True))


def _dsse_body(proposed: dict[str, Any]) -> bytes:
    try:
        entry = Dsse.model_validate(proposed)
    except ValidationError as exc:
        raise AuthorityError(f"malformed dsse entry: {exc.errors()[0]['msg']}") from exc
    if entry.api_version != "0.0.1":
        raise AuthorityError("only dsse 0.0.1 is supported")
    spec = entry.spec.root
    if not isinstance(spec, dsse.DsseV001Schema1) or spec.proposed_content is None:
        raise AuthorityError("dsse entry must carry proposedContent")
    raw_envelope = spec.proposed_content.envelope
    try:
        envelope = json.loads(raw_envelope)
        payload_type = envelope["payloadType"]
        payload = _b64decode(envelope["payload"], "payload")
        raw_signatures = envelope["signatures"]
        if not isinstance(raw_signatures, list) or len(raw_signatures) > MAX_SIGNATURES:
            raise ValueError("signatures must be a short list")
        signatures = [_b64decode(item["sig"], "signature") for item in raw_signatures]
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise AuthorityError("envelope is not a DSSE envelope (JSON)") from exc
    if not isinstance(payload_type, str) or not signatures:
        raise AuthorityError("envelope needs a payloadType and at least one signature")
    if len(spec.proposed_content.verifiers) > MAX_SIGNATURES:
        raise AuthorityError(f"at most {MAX_SIGNATURES} verifiers are accepted")
    verifiers = [(item, _verifier_key(item)) for item in spec.proposed_content.verifiers]
    pae = _pae(payload_type, payload)
    recorded = []
    for signature in signatures:
        for b64_pem, key in verifiers:
            try:
                key.verify(signature, pae, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                continue
            encoded = base64.b64encode(signature).decode()
            recorded.append({"signature": encoded, "verifier": b64_pem})
            break
        else:
            raise AuthorityError("an envelope signature does not verify against any verifier")
    recorded.sort(key=lambda item: item["signature"])
    body: dict[str, Any] = {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {
                "algorithm": "sha256",
                "value": hashlib.sha256(raw_envelope.encode()).hexdigest(),
            },
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": recorded,
        },
    }
    return rfc8785.dumps(body)
