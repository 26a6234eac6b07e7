"""The authority's RFC 6962 tree against sigstore-python's own inclusion-proof verifier."""

from __future__ import annotations

import hashlib

import pytest
from sigstore._internal import merkle as sigstore_merkle

from infra.sigstore_authority import merkle


def _verify_with_sigstore(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """Recompute the root exactly as ``sigstore._internal.merkle.verify_merkle_inclusion``."""
    inner, border = sigstore_merkle._decomp_inclusion_proof(index, size)
    assert len(proof) == inner + border
    partial = sigstore_merkle._chain_inner(leaf, proof[:inner], index)
    return sigstore_merkle._chain_border_right(partial, proof[inner:])


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33])
def test_every_inclusion_proof_verifies_with_sigstore(size: int) -> None:
    leaves = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(size)]
    root = merkle.root_hash(leaves)
    for index in range(size):
        proof = merkle.inclusion_proof(index, leaves)
        assert _verify_with_sigstore(index, size, leaves[index], proof) == root


def test_leaf_and_node_hashes_use_rfc6962_domain_separation() -> None:
    assert merkle.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert merkle.leaf_hash(b"x") == sigstore_merkle._hash_leaf(b"x")


def test_a_proof_for_another_leaf_does_not_verify() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(6)]
    proof = merkle.inclusion_proof(2, leaves)
    assert _verify_with_sigstore(2, 6, leaves[3], proof) != merkle.root_hash(leaves)


def test_index_outside_the_tree_is_refused() -> None:
    with pytest.raises(IndexError):
        merkle.inclusion_proof(3, [merkle.leaf_hash(b"a")] * 3)
