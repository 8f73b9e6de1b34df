"""The Merkle tree of the audit log, exactly as RFC 9162 §2.1 defines it
(the Certificate Transparency tree that Trillian and Sigstore's Rekor use).

- leaf hash: ``SHA-256(0x00 || leaf_input)``; node hash: ``SHA-256(0x01 || left || right)``;
  the hash of the empty tree is ``SHA-256("")``.
- A tree of ``n`` leaves splits at ``k``, the largest power of two below ``n``.
- Inclusion proofs (§2.1.3) and consistency proofs (§2.1.4) are lists of
  32-byte node hashes, in the order the RFC's algorithms produce and consume.

Pure: no I/O. ``Frontier`` keeps the root of a growing log in O(log n) space
(the service stores it); ``Tree`` answers proofs over all leaf hashes held in
memory, 32 bytes each, one contiguous buffer per level.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf_input: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf_input).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


@dataclass
class Frontier:
    """The roots of the perfect subtrees a log of ``size`` leaves decomposes
    into, largest first: enough to append a leaf and to compute the root."""

    size: int = 0
    nodes: list[bytes] = field(default_factory=list)

    def append(self, leaf: bytes) -> None:
        node, position = leaf, self.size
        while position & 1:
            node = node_hash(self.nodes.pop(), node)
            position >>= 1
        self.nodes.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        acc = self.nodes[-1]
        for node in reversed(self.nodes[:-1]):
            acc = node_hash(node, acc)
        return acc

    def to_hex(self) -> list[str]:
        return [node.hex() for node in self.nodes]

    @classmethod
    def from_hex(cls, size: int, nodes: Sequence[str]) -> Frontier:
        frontier = cls(size, [bytes.fromhex(n) for n in nodes])
        if len(frontier.nodes) != size.bit_count():
            raise ValueError("a frontier holds one node per set bit of the tree size")
        return frontier


class Tree:
    """Every level of a tree built from its leaf hashes: node hashes of any
    range in O(log n), so proofs for any two sizes cost O(log² n)."""

    def __init__(self, leaf_hashes: Iterable[bytes] | bytes | bytearray) -> None:
        level = (
            bytes(leaf_hashes)
            if isinstance(leaf_hashes, bytes | bytearray)
            else b"".join(leaf_hashes)
        )
        if len(level) % HASH_SIZE:
            raise ValueError("leaf hashes are 32 bytes each")
        self.size = len(level) // HASH_SIZE
        self.levels: list[bytes] = [level]
        while len(level) >= 2 * HASH_SIZE:
            sha = hashlib.sha256
            level = b"".join(
                sha(b"\x01" + level[i : i + 2 * HASH_SIZE]).digest()
                for i in range(0, len(level) - HASH_SIZE, 2 * HASH_SIZE)
            )
            self.levels.append(level)

    def leaf(self, index: int) -> bytes:
        return self.levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE]

    def hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]); ``start`` is a multiple of the largest power of
        two not above ``end - start`` (true for every range the proofs ask)."""
        n = end - start
        if n <= 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:
            level = n.bit_length() - 1
            index = start >> level
            return self.levels[level][index * HASH_SIZE : (index + 1) * HASH_SIZE]
        k = _split(n)
        return node_hash(self.hash(start, start + k), self.hash(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        self._check(size)
        return self.hash(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1."""
        self._check(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size}")
        return self._path(index, 0, size)

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*self._path(m, start, start + k), self.hash(start + k, end)]
        return [*self._path(m - k, start + k, end), self.hash(start, start + k)]

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) of RFC 9162 §2.1.4.1."""
        self._check(new_size)
        if not 0 < old_size <= new_size:
            raise ValueError("a consistency proof needs 0 < old size <= new size")
        return self._subproof(old_size, 0, new_size, True)

    def _subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self.hash(start, end)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, complete), self.hash(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self.hash(start, start + k)]

    def _check(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"the tree has {self.size} leaves, not {size}")


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``leaf`` (a leaf hash) sit at ``index`` of the
    tree of ``size`` leaves whose root is ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree of ``new_size`` leaves (``new_root``) an
    append-only extension of the one of ``old_size`` leaves (``old_root``)?"""
    if old_size == new_size:
        return not proof and old_root == new_root
    if not 0 < old_size < new_size or not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
