"""The authority's signing keys: created once, persisted in the state directory.

A key file is published atomically (written to a temporary name, then hard-linked into
place), so two processes starting at once agree on one key instead of overwriting each other.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def publish_once(path: Path, data: bytes, *, mode: int = 0o600) -> bytes:
    """Write ``data`` to ``path`` unless the file exists; return what ``path`` holds now."""
    if path.exists():
        return path.read_bytes()
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(mode)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The P-256 key stored at ``path``, generating it on first use."""
    if path.exists():
        stored = path.read_bytes()
    else:
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        stored = publish_once(path, pem)
    key = serialization.load_pem_private_key(stored, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} does not hold an EC private key; delete the state directory")
    return key


def spki_der(key: ec.EllipticCurvePublicKey) -> bytes:
    """DER SubjectPublicKeyInfo of ``key``."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(key: ec.EllipticCurvePublicKey) -> bytes:
    """SHA-256 of the DER SubjectPublicKeyInfo: the Sigstore and RFC 6962 key/log ID."""
    return hashlib.sha256(spki_der(key)).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
