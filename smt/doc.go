// Package smt defines Cairn's state tree as a verifier sees it: how a set
// of (key, value) pairs hashes to the state root in every block header, and
// the proofs that a key holds a value, or holds none, under such a root.
// It is the public half of the state: internal/state stores the tree and
// produces proofs; this package, the client SDK and anyone auditing a node
// verify them. It imports only the standard library and crypto/, so code
// outside the module can use it without pulling in a storage engine.
//
// The specification — the tree's shape, leaf and internal node hashing, the
// meaning of a proof, how to verify one, and the binary (Proof.Encode) and
// JSON forms — is docs/encoding.md section 7, with test vectors; it is
// written so that a verifier in another language needs nothing else. This
// package implements it:
//
//   - Path is SHA-256(key), read most significant bit first (Bit);
//     LeafHash is SHA-256(0x00 || path || SHA-256(value)); InternalHash is
//     SHA-256(0x01 || left || right); the empty subtree is the zero hash.
//   - A subtree of one key is that key's leaf, at the shortest prefix no
//     other key shares; so no internal node has an empty child beside a
//     leaf, and the root depends only on the set of pairs, never on the
//     order or batching of writes.
//   - A Proof lists the siblings along the key's path, root side first; its
//     deepest sibling is never empty, and Verify and DecodeProof reject a
//     proof where it is.
//   - Each proof has exactly one binary encoding: DecodeProof rejects
//     anything Encode would not produce byte for byte.
//   - Verify is pure and total: any Proof value, decoded or built by hand,
//     either verifies or yields an error; it never panics.
//
// The binary and JSON forms are part of the REST API (docs/api.md) and must
// not change; internal/state's TestEncodingDocVectors and this package's
// TestSpecFromDocs hold the code and the document to each other.
package smt
