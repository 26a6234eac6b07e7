"""The transparency log: an append-only RFC 6962 Merkle tree persisted in SQLite.

Each appended entry comes back the way Rekor v1 returns it: body, integrated time, log ID and
index, an inclusion proof with a signed checkpoint (a signed note), and a signed entry
timestamp (SET) over the canonical JSON of body, integratedTime, logID and logIndex.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from infra.sigstore_authority import merkle
from infra.sigstore_authority.errors import Conflict
from infra.sigstore_authority.keys import b64, key_id

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    log_index INTEGER PRIMARY KEY,
    leaf_hash BLOB NOT NULL UNIQUE,
    body BLOB NOT NULL,
    integrated_time INTEGER NOT NULL
)
"""

NOTE_SIGNER = "clawft-dev-authority"


class TransparencyLog:
    """Appends canonical entry bodies and proves their inclusion."""

    def __init__(
        self,
        db_path: Path,
        key: ec.EllipticCurvePrivateKey,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._clock = clock
        self.log_id = key_id(key.public_key())
        self.tree_id = int.from_bytes(self.log_id[:8], "big") >> 1
        self.origin = f"{NOTE_SIGNER} - {self.tree_id}"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)
        self._leaves: list[bytes] = []
        for index, stored_hash, body in self._db.execute(
            "SELECT log_index, leaf_hash, body FROM entries ORDER BY log_index"
        ):
            if index != len(self._leaves) or merkle.leaf_hash(body) != stored_hash:
                raise ValueError(f"log database {db_path} is corrupt at entry {index}")
            self._leaves.append(stored_hash)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._key.public_key()

    @property
    def size(self) -> int:
        with self._lock:
            return len(self._leaves)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _sign(self, data: bytes) -> bytes:
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))

    def _checkpoint(self, size: int, root: bytes) -> str:
        note = f"{self.origin}\n{size}\n{b64(root)}\n"
        signature = self._sign(note.encode())
        return f"{note}\n\u2014 {NOTE_SIGNER} {b64(self.log_id[:4] + signature)}\n"

    def append(self, body: bytes) -> dict[str, Any]:
        """Append ``body`` and return the Rekor v1 response ``{uuid: entry}``."""
        leaf = merkle.leaf_hash(body)
        integrated_time = int(self._clock())
        with self._lock:
            index = len(self._leaves)
            try:
                self._db.execute(
                    "INSERT INTO entries (log_index, leaf_hash, body, integrated_time)"
                    " VALUES (?, ?, ?, ?)",
                    (index, leaf, body, integrated_time),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict("an identical entry is already in the log") from exc
            self._leaves.append(leaf)
            leaves = list(self._leaves)
        return self._response(index, body, integrated_time, leaves)

    def _response(
        self, index: int, body: bytes, integrated_time: int, leaves: list[bytes]
    ) -> dict[str, Any]:
        root = merkle.root_hash(leaves)
        proof = merkle.inclusion_proof(index, leaves)
        body_b64 = base64.b64encode(body).decode()
        log_id_hex = self.log_id.hex()
        set_payload = rfc8785.dumps(
            {
                "body": body_b64,
                "integratedTime": integrated_time,
                "logID": log_id_hex,
                "logIndex": index,
            }
        )
        entry = {
            "body": body_b64,
            "integratedTime": integrated_time,
            "logID": log_id_hex,
            "logIndex": index,
            "verification": {
                "signedEntryTimestamp": b64(self._sign(set_payload)),
                "inclusionProof": {
                    "logIndex": index,
                    "rootHash": root.hex(),
                    "treeSize": len(leaves),
                    "hashes": [h.hex() for h in proof],
                    "checkpoint": self._checkpoint(len(leaves), root),
                },
            },
        }
        return {leaves[index].hex(): entry}

    def info(self) -> dict[str, Any]:
        """What ``GET /api/v1/log`` answers: the current tree head, signed."""
        with self._lock:
            leaves = list(self._leaves)
        root = merkle.root_hash(leaves)
        return {
            "rootHash": root.hex(),
            "treeSize": len(leaves),
            "signedTreeHead": self._checkpoint(len(leaves), root),
            "treeID": str(self.tree_id),
        }

    def entry(self, index: int) -> dict[str, Any] | None:
        """The entry at ``index`` with a proof against the current tree, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT body, integrated_time FROM entries WHERE log_index = ?", (index,)
            ).fetchone()
            leaves = list(self._leaves)
        if row is None:
            return None
        body, integrated_time = row
        return self._response(index, bytes(body), int(integrated_time), leaves)
