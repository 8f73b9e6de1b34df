"""The Merkle tree is RFC 9162's: Certificate Transparency's test vectors,
and every inclusion and consistency proof of small trees, checked by the
RFC's verification algorithms (and refused when anything is changed)."""

from __future__ import annotations

import pytest

from hospeda.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    Tree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

# the leaves and roots of the Certificate Transparency reference tests (RFC 6962 = 9162 hashing)
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 §2.1.1 writes it (recursive)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def test_roots_match_the_certificate_transparency_vectors() -> None:
    tree = Tree(leaf_hash(leaf) for leaf in CT_LEAVES)
    frontier = Frontier()
    assert frontier.root() == EMPTY_ROOT
    for size, expected in enumerate(CT_ROOTS, start=1):
        frontier.append(leaf_hash(CT_LEAVES[size - 1]))
        assert tree.root(size).hex() == expected
        assert frontier.root().hex() == expected
        assert reference_root(CT_LEAVES[:size]).hex() == expected


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 33])
def test_every_inclusion_and_consistency_proof_verifies(size: int) -> None:
    leaves = [f"entry {i}".encode() for i in range(size)]
    tree = Tree(leaf_hash(leaf) for leaf in leaves)
    assert tree.root() == reference_root(leaves)
    for n in range(1, size + 1):
        root = tree.root(n)
        for index in range(n):
            proof = tree.inclusion_proof(index, n)
            assert verify_inclusion(leaf_hash(leaves[index]), index, n, proof, root)
            assert not verify_inclusion(leaf_hash(b"forged"), index, n, proof, root)
            if n > 1:
                assert not verify_inclusion(
                    leaf_hash(leaves[index]), (index + 1) % n, n, proof, root
                )
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n)
            assert verify_consistency(m, n, proof, tree.root(m), root)
            if m < n:
                assert not verify_consistency(m, n, proof, tree.root(m), leaf_hash(b"x"))
                assert not verify_consistency(m, n, proof, leaf_hash(b"x"), root)
                tampered = [bytes(32), *proof[1:]]
                assert not verify_consistency(m, n, tampered, tree.root(m), root)


def test_a_frontier_survives_being_stored() -> None:
    frontier = Frontier()
    for i in range(13):
        frontier.append(leaf_hash(bytes([i])))
    again = Frontier.from_hex(frontier.size, frontier.to_hex())
    again.append(leaf_hash(b"14"))
    frontier.append(leaf_hash(b"14"))
    assert again.root() == frontier.root()
    with pytest.raises(ValueError, match="one node per set bit"):
        Frontier.from_hex(5, frontier.to_hex())
