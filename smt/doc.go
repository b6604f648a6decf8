// Package smt defines Cairn's state tree as a verifier sees it: how a set
// of (key, value) pairs hashes to the state root in every block header, and
// the proofs that a key holds a value, or holds none, under such a root.
// It is the public half of the state: internal/state stores the tree and
// produces proofs; this package, the client SDK and anyone auditing a node
// verify them. It imports only the standard library and crypto/, so code
// outside the module can use it without pulling in a storage engine.
//
// # Tree shape
//
// The tree is a compressed binary sparse Merkle tree over 256-bit paths, in
// the style of Diem's SparseMerkleTree (the binary form of the Jellyfish
// Merkle tree):
//
//   - The path of a key is SHA-256(key), read most significant bit first: bit
//     0 chooses the child of the root (0 = left, 1 = right), bit 1 the child
//     of that node, and so on (Path, Bit).
//   - The value hash of a value is SHA-256(value).
//   - The hash of an empty subtree is 32 zero bytes.
//   - A leaf's hash is SHA-256(0x00 || keyHash || valueHash), where keyHash is
//     the key's path (64 bytes hashed after the tag byte) (LeafHash).
//   - An internal node's hash is SHA-256(0x01 || leftHash || rightHash)
//     (InternalHash).
//   - A subtree that holds no key is empty. A subtree that holds exactly one
//     key is that key's leaf alone: the leaf sits at the shortest prefix of
//     its path that no other key shares, not at depth 256. A subtree that
//     holds two or more keys is an internal node whose children are the
//     subtrees of the keys whose next path bit is 0 and 1; one of them may be
//     empty, and then the other holds two or more keys.
//
// The last rule means no internal node has an empty child and a leaf child
// (such a node collapses into the leaf), and no internal node has two empty
// children. The shape, and so the root, depends only on the set of (key,
// value) pairs, never on the order or batching of the writes that produced
// it. The empty map's root is the zero hash; a map of one key has that key's
// leaf hash as its root. No path is longer than MaxDepth bits.
//
// # Proofs
//
// A proof for a key lists the sibling hashes along the key's path from the
// root down to where the path ends: at the key's own leaf (membership), at an
// empty subtree, or at the leaf of another key whose path shares the prefix
// walked so far (both non-membership; the other leaf's key hash and value hash
// are then part of the proof). The deepest sibling is never empty in a tree
// of this shape, and Verify and DecodeProof reject proofs where it is. The
// binary encoding (Proof.Encode) is:
//
//	flags   1 byte   bit 0 set = the path ends at another key's leaf; other bits zero
//	depth   2 bytes  big-endian number of siblings, at most 256
//	bitmap  ceil(depth/8) bytes; bit i (MSB first) set = sibling i is not the zero hash;
//	                 unused low bits of the last byte are zero
//	hashes  32 bytes for each set bitmap bit, root side first; none is the zero hash
//	leaf    64 bytes (keyHash || valueHash) when flags bit 0 is set
//
// Any other byte string, including one with trailing bytes, is rejected, so
// each proof has exactly one encoding. The JSON form lists every sibling as
// hex, zero hashes included: {"siblings": ["<hex>", ...], "leaf":
// {"key_hash": "<hex>", "value_hash": "<hex>"}} with "leaf" omitted unless
// the path ends at another key's leaf. Both forms are part of the REST API
// (docs/api.md) and must not change.
//
// Verify is pure and total: any Proof value, decoded or built by hand,
// either verifies or yields an error; it never panics.
package smt
