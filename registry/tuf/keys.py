"""The signing keys of the TUF repository, through securesystemslib signers.

Three keys, by how exposed they are:

* the **root** key signs who holds every role; it is used only to create the repository and to
  rotate keys, and belongs offline (a file an operator keeps on a USB stick, or an HSM);
* the **targets** key signs the hash-bin delegation and each namespace's signer policy; also
  offline: a compromised server cannot change who may sign a namespace;
* the **online** key signs the bins, the snapshot and the timestamp, many times a day.

The embedded default (``clawft-registry serve``) creates Ed25519 key files on its first start:
the online key at ``<data>/tuf/online.pem``, the root and targets keys under
``<data>/tuf/offline/`` for the operator to take away. In production every key is a signer URI
(``file2:<path>``, ``awskms:…``, ``gcpkms:…``, ``azurekms:…``, ``hsm:…``): the server needs
only the online one, and the admin commands the offline ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner, Key, Signer, SSlibKey

__all__ = [
    "RepositoryKeys",
    "SigningKeyError",
    "create_key_file",
    "embedded_keys",
    "file_signer",
    "signer_for",
]


class SigningKeyError(ValueError):
    """A signing key is missing, unreadable, or not the one the metadata names."""


def create_key_file(path: Path) -> CryptoSigner:
    """A new Ed25519 key, written to ``path`` (PEM, PKCS#8, readable by this user only)."""
    signer = CryptoSigner.generate_ed25519()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(signer.private_bytes)
    return signer


def file_signer(path: Path) -> CryptoSigner:
    """The signer of a key file (its public key derived from the private one)."""
    try:
        private = load_pem_private_key(path.read_bytes(), None)
    except (OSError, ValueError, TypeError) as exc:
        raise SigningKeyError(f"cannot read the signing key {path}: {exc}") from None
    return CryptoSigner(private, SSlibKey.from_crypto(private.public_key()))


def signer_for(uri: str, public_key: Key) -> Signer:
    """The signer a URI names, for the key the metadata lists (a mismatch is an error)."""
    if uri.startswith("file2:"):
        signer = file_signer(Path(uri.removeprefix("file2:")))
        if signer.public_key.keyid != public_key.keyid:
            raise SigningKeyError(
                f"{uri} is not the key the repository's root lists for this role "
                f"(keyid {public_key.keyid[:12]}…): was the key replaced without a rotation?"
            )
        return signer
    try:
        return Signer.from_priv_key_uri(uri, public_key)
    except Exception as exc:  # every backend raises its own kinds
        raise SigningKeyError(f"cannot load the signer {uri}: {exc}") from None


@dataclass(frozen=True)
class RepositoryKeys:
    """Signers of the repository's roles (an offline one may be absent on the server)."""

    online: Signer
    root: Signer | None = None
    targets: Signer | None = None


def embedded_keys(data_dir: Path) -> tuple[RepositoryKeys, bool]:
    """The embedded default's key files, created on the first start; returns them and whether
    they were just created."""
    tuf = data_dir / "tuf"
    online, root, targets = (
        tuf / "online.pem",
        tuf / "offline" / "root.pem",
        tuf / "offline" / "targets.pem",
    )
    if online.exists():
        return RepositoryKeys(
            online=file_signer(online),
            root=file_signer(root) if root.exists() else None,
            targets=file_signer(targets) if targets.exists() else None,
        ), False
    return RepositoryKeys(
        online=create_key_file(online),
        root=create_key_file(root),
        targets=create_key_file(targets),
    ), True
