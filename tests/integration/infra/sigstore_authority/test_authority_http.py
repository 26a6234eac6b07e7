"""Hostile input to every endpoint of the authority: always a 4xx with a JSON reason, never 5xx."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import time
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from infra.sigstore_authority import AuthorityServer, SigningAuthority
from tests.conftest import ALICE, RunningAuthority

POST_ENDPOINTS = ["/api/v2/signingCert", "/api/v1/log/entries", "/dev/v1/token"]


def _request(
    dev: RunningAuthority,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", dev.server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    payload = json.loads(raw) if raw else {}
    return response.status, payload


def _post(dev: RunningAuthority, path: str, document: Any, **headers: str) -> tuple[int, Any]:
    return _request(
        dev,
        "POST",
        path,
        json.dumps(document).encode(),
        {"Content-Type": "application/json", **headers},
    )


def _refused(status: int, payload: dict[str, Any], expected: int) -> None:
    assert status == expected, payload
    assert payload["code"] == expected
    assert isinstance(payload["message"], str) and payload["message"]


def _csr(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
) -> x509.CertificateSigningRequest:
    key = key or ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
    )


def _csr_field(csr: x509.CertificateSigningRequest) -> dict[str, str]:
    pem = csr.public_bytes(serialization.Encoding.PEM)
    return {"certificateSigningRequest": base64.b64encode(pem).decode()}


def _valid_token(dev: RunningAuthority) -> str:
    return dev.authority.tokens.mint(ALICE)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- the happy path, over raw HTTP -------------------------------------------------------------


def test_certificate_request_with_valid_token_and_csr(dev_authority: RunningAuthority) -> None:
    token = dev_authority.authority.tokens.mint(ALICE)
    status, payload = _post(
        dev_authority, "/api/v2/signingCert", _csr_field(_csr()), **_bearer(token)
    )
    assert status == 201
    chain = payload["signedCertificateEmbeddedSct"]["chain"]["certificates"]
    assert len(chain) == 2
    leaf = x509.load_pem_x509_certificate(chain[0].encode())
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == [ALICE]


def test_log_info_and_entry_lookup(dev_authority: RunningAuthority) -> None:
    status, info = _request(dev_authority, "GET", "/api/v1/log")
    assert status == 200 and info["treeSize"] >= 0 and info["signedTreeHead"]
    if info["treeSize"]:
        status, entry = _request(dev_authority, "GET", "/api/v1/log/entries?logIndex=0")
        assert status == 200 and len(entry) == 1
    _refused(*_request(dev_authority, "GET", "/api/v1/log/entries?logIndex=999999"), 404)
    _refused(*_request(dev_authority, "GET", "/api/v1/log/entries?logIndex=-1"), 400)
    for index in ("x", "%C2%B2", "9" * 5000, "0&logIndex=1", ""):
        _refused(*_request(dev_authority, "GET", f"/api/v1/log/entries?logIndex={index}"), 400)


def test_dev_token_endpoint_says_it_is_not_for_production(dev_authority: RunningAuthority) -> None:
    status, payload = _post(dev_authority, "/dev/v1/token", {"identity": ALICE})
    assert status == 201
    assert "NOT FOR PRODUCTION" in payload["warning"]
    assert dev_authority.authority.tokens.verify(payload["identityToken"]).identity == ALICE
    _refused(*_post(dev_authority, "/dev/v1/token", {"identity": "no spaces allowed"}), 400)
    _refused(*_post(dev_authority, "/dev/v1/token", {"identity": ["list"]}), 400)


# -- malformed requests, to every endpoint ----------------------------------------------------


@pytest.mark.parametrize("path", POST_ENDPOINTS)
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"not json",
        b"[]",
        b'"string"',
        b"null",
        b"\xff\xfe",
        b"[" * 100_000,
        b'{"a": ' + b"9" * 5000 + b"}",
    ],
    ids=["empty", "truncated", "text", "list", "string", "null", "binary", "deep", "huge-int"],
)
def test_malformed_json_is_400(dev_authority: RunningAuthority, path: str, body: bytes) -> None:
    headers = {"Content-Type": "application/json", **_bearer(_valid_token(dev_authority))}
    _refused(*_request(dev_authority, "POST", path, body, headers), 400)


@pytest.mark.parametrize("path", POST_ENDPOINTS)
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_415(
    dev_authority: RunningAuthority, path: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    _refused(*_request(dev_authority, "POST", path, b"{}", headers), 415)


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_huge_body_is_refused_unread(dev_authority: RunningAuthority, path: str) -> None:
    limit = dev_authority.authority.config.max_request_bytes
    with socket.create_connection(("127.0.0.1", dev_authority.server.port), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {limit * 1000}\r\n\r\n{{".encode()
        )
        reply = sock.makefile("rb").read()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split()[1] == b"413"
    assert json.loads(body)["code"] == 413


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_missing_length_and_chunked_bodies_are_411(
    dev_authority: RunningAuthority, path: str
) -> None:
    for extra in ("", "Transfer-Encoding: chunked\r\n"):
        with socket.create_connection(("127.0.0.1", dev_authority.server.port), timeout=10) as s:
            s.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"{extra}\r\n".encode()
            )
            reply = s.makefile("rb").read()
        assert reply.split()[1] == b"411"


def test_bad_content_length_is_400(dev_authority: RunningAuthority) -> None:
    for length in ("-1", "abc", "1e3", "\u00b2", "9" * 5000):
        status, payload = _request(
            dev_authority,
            "POST",
            "/dev/v1/token",
            b"{}",
            {"Content-Type": "application/json", "Content-Length": length},
        )
        _refused(status, payload, 400)


def test_unknown_paths_and_methods(dev_authority: RunningAuthority) -> None:
    _refused(*_request(dev_authority, "GET", "/nope"), 404)
    _refused(*_request(dev_authority, "GET", "/api/v2/signingCert"), 405)
    _refused(*_request(dev_authority, "DELETE", "/api/v1/log/entries"), 405)
    _refused(*_request(dev_authority, "PUT", "/api/v1/log"), 405)
    _refused(*_request(dev_authority, "BREW", "/api/v1/log"), 405)


def test_garbage_request_line_is_4xx(dev_authority: RunningAuthority) -> None:
    for line in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x00\x01\x02\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", dev_authority.server.port), timeout=10) as s:
            s.sendall(line)
            reply = s.makefile("rb").read()
        status = int(reply.split()[1])
        assert 400 <= status < 500, reply


# -- the certificate authority's checks -------------------------------------------------------


def _token(key: ec.EllipticCurvePrivateKey, issuer: str, **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": issuer,
        "sub": ALICE,
        "aud": "sigstore",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="ES256")


def test_certificate_request_needs_a_valid_token(dev_authority: RunningAuthority) -> None:
    body = _csr_field(_csr())
    issuer = dev_authority.issuer
    forged_key = ec.generate_private_key(ec.SECP256R1())
    own_key = dev_authority.authority.tokens._key
    for headers in (
        {},
        {"Authorization": "Basic YWxpY2U6cGFzcw=="},
        _bearer(""),
        _bearer("garbage"),
        _bearer(_token(forged_key, issuer)),
        _bearer(_token(own_key, issuer, exp=int(time.time()) - 3600)),
        _bearer(_token(own_key, issuer, aud="someone-else")),
        _bearer(_token(own_key, "https://accounts.google.com")),
    ):
        _refused(*_post(dev_authority, "/api/v2/signingCert", body, **headers), 401)


def test_certificate_request_needs_proof_of_possession(dev_authority: RunningAuthority) -> None:
    token = _bearer(dev_authority.authority.tokens.mint(ALICE))
    der = bytearray(_csr().public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0xFF  # inside the signature: the CSR no longer proves possession of the key
    pem = (
        b"-----BEGIN CERTIFICATE REQUEST-----\n"
        + base64.encodebytes(bytes(der))
        + b"-----END CERTIFICATE REQUEST-----\n"
    )
    status, payload = _post(
        dev_authority,
        "/api/v2/signingCert",
        {"certificateSigningRequest": base64.b64encode(pem).decode()},
        **token,
    )
    _refused(status, payload, 400)
    assert "proof of possession" in payload["message"] or "CSR" in payload["message"]


def test_csr_signed_by_a_different_key_than_it_certifies(dev_authority: RunningAuthority) -> None:
    """Splice another key into a CSR: the self-signature then fails (proof of possession)."""
    token = _bearer(dev_authority.authority.tokens.mint(ALICE))
    mine, theirs = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    der = _csr(mine).public_bytes(serialization.Encoding.DER)

    def spki(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    spliced = der.replace(spki(mine), spki(theirs))
    assert spliced != der
    pem = (
        b"-----BEGIN CERTIFICATE REQUEST-----\n"
        + base64.encodebytes(spliced)
        + b"-----END CERTIFICATE REQUEST-----\n"
    )
    status, payload = _post(
        dev_authority,
        "/api/v2/signingCert",
        {"certificateSigningRequest": base64.b64encode(pem).decode()},
        **token,
    )
    _refused(status, payload, 400)
    assert "proof of possession" in payload["message"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"certificateSigningRequest": 5},
        {"certificateSigningRequest": "!!!not base64"},
        {"certificateSigningRequest": base64.b64encode(b"not a pem").decode()},
    ],
)
def test_malformed_csrs_are_400(dev_authority: RunningAuthority, body: dict[str, Any]) -> None:
    token = _bearer(dev_authority.authority.tokens.mint(ALICE))
    _refused(*_post(dev_authority, "/api/v2/signingCert", body, **token), 400)


def test_rsa_keys_are_not_certified(dev_authority: RunningAuthority) -> None:
    token = _bearer(dev_authority.authority.tokens.mint(ALICE))
    csr = _csr(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    _refused(*_post(dev_authority, "/api/v2/signingCert", _csr_field(csr), **token), 400)


# -- the transparency log's checks -----------------------------------------------------------


def _hashedrekord(signature: bytes, cert_pem: bytes, digest: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "signature": {
                "content": base64.b64encode(signature).decode(),
                "publicKey": {"content": base64.b64encode(cert_pem).decode()},
            },
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
        },
    }


def _certified_key(dev: RunningAuthority) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    token = _bearer(dev.authority.tokens.mint(ALICE))
    status, payload = _post(dev, "/api/v2/signingCert", _csr_field(_csr(key)), **token)
    assert status == 201
    return key, payload["signedCertificateEmbeddedSct"]["chain"]["certificates"][0].encode()


def test_log_accepts_a_valid_hashedrekord_once(dev_authority: RunningAuthority) -> None:
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    key, cert = _certified_key(dev_authority)
    digest = hashlib.sha256(b"an artifact").digest()
    signature = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    entry = _hashedrekord(signature, cert, digest)
    status, payload = _post(dev_authority, "/api/v1/log/entries", entry)
    assert status == 201 and len(payload) == 1
    _refused(*_post(dev_authority, "/api/v1/log/entries", entry), 409)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.update(kind="rekord"),
        lambda e: e.update(kind=None),
        lambda e: e.update(apiVersion="0.0.2"),
        lambda e: e["spec"]["data"]["hash"].update(value="abc"),
        lambda e: e["spec"]["data"]["hash"].update(value="zz" * 32),
        lambda e: e["spec"]["data"]["hash"].update(algorithm="md5"),
        lambda e: e["spec"]["signature"].update(content="!!!"),
        lambda e: e["spec"]["signature"]["publicKey"].update(content="bm90IGEgY2VydA=="),
        lambda e: e["spec"].pop("signature"),
        lambda e: e.update(spec="nope"),
        lambda e: e["spec"]["data"]["hash"].update(value="00" * 32),  # signature over other data
    ],
    ids=[
        "other-kind",
        "no-kind",
        "version",
        "short-digest",
        "hex",
        "algorithm",
        "sig-b64",
        "not-a-cert",
        "no-signature",
        "spec-string",
        "wrong-digest",
    ],
)
def test_log_refuses_bad_hashedrekords(dev_authority: RunningAuthority, mutate: Any) -> None:
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    key, cert = _certified_key(dev_authority)
    digest = hashlib.sha256(b"x").digest()
    entry = _hashedrekord(key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()))), cert, digest)
    mutate(entry)
    _refused(*_post(dev_authority, "/api/v1/log/entries", entry), 400)


def test_log_refuses_dsse_with_bad_signature(dev_authority: RunningAuthority) -> None:
    _, cert = _certified_key(dev_authority)
    envelope = {
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.b64encode(b"{}").decode(),
        "signatures": [{"sig": base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode()}],
    }
    entry = {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "proposedContent": {
                "envelope": json.dumps(envelope),
                "verifiers": [base64.b64encode(cert).decode()],
            }
        },
    }
    _refused(*_post(dev_authority, "/api/v1/log/entries", entry), 400)
    content: dict[str, Any] = entry["spec"]["proposedContent"]  # type: ignore[index]
    for hostile in ("not json", "[" * 100_000, json.dumps({**envelope, "signatures": {"a": 1}})):
        content["envelope"] = hostile
        _refused(*_post(dev_authority, "/api/v1/log/entries", entry), 400)
    content["envelope"] = json.dumps({**envelope, "signatures": envelope["signatures"] * 100})
    _refused(*_post(dev_authority, "/api/v1/log/entries", entry), 400)
    content["envelope"] = json.dumps(envelope)
    content["verifiers"] = content["verifiers"] * 100
    _refused(*_post(dev_authority, "/api/v1/log/entries", entry), 400)


# -- binding ----------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])  # refused
def test_server_refuses_non_loopback_addresses(
    host: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    authority = SigningAuthority(tmp_path_factory.mktemp("bind"))
    try:
        with pytest.raises(ValueError, match=r"127\.0\.0\.1|loopback"):
            AuthorityServer(authority, host=host)
    finally:
        authority.close()
