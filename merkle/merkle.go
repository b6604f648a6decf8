// Package merkle implements the RFC 6962 (Certificate Transparency) Merkle
// tree hash and inclusion proofs. Cairn uses it for a block's tx root and
// results root: leaves are 32-byte hashes, but any byte strings work.
//
// Leaf hash = SHA-256(0x00 || leaf), node hash = SHA-256(0x01 || left || right);
// the tree over n leaves splits at the largest power of two below n. The two
// prefixes make a leaf never collide with an inner node, so a proof cannot
// present a subtree as a leaf. The empty tree's root is SHA-256("").
package merkle

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"

	"github.com/cairn-db/cairn/crypto"
)

// LeafHash returns SHA-256(0x00 || leaf).
func LeafHash(leaf []byte) crypto.Hash {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(leaf)
	var out crypto.Hash
	h.Sum(out[:0])
	return out
}

// NodeHash returns SHA-256(0x01 || left || right).
func NodeHash(left, right crypto.Hash) crypto.Hash {
	var buf [1 + 2*crypto.HashSize]byte
	buf[0] = 1
	copy(buf[1:], left[:])
	copy(buf[1+crypto.HashSize:], right[:])
	return sha256.Sum256(buf[:])
}

// Root returns the RFC 6962 Merkle tree hash of leaves.
func Root(leaves [][]byte) crypto.Hash {
	if len(leaves) == 0 {
		return sha256.Sum256(nil)
	}
	hs := make([]crypto.Hash, len(leaves))
	for i, l := range leaves {
		hs[i] = LeafHash(l)
	}
	return rootOfLeafHashes(hs)
}

// RootOfHashes is Root over leaves that are themselves 32-byte hashes (tx
// hashes, receipt hashes), without copying them into [][]byte.
func RootOfHashes(leaves []crypto.Hash) crypto.Hash {
	if len(leaves) == 0 {
		return sha256.Sum256(nil)
	}
	hs := make([]crypto.Hash, len(leaves))
	for i := range leaves {
		hs[i] = LeafHash(leaves[i][:])
	}
	return rootOfLeafHashes(hs)
}

// rootOfLeafHashes folds level by level in place. Pairing left to right and
// carrying an odd last node up unchanged yields exactly RFC 6962's
// split-at-largest-power-of-two tree.
func rootOfLeafHashes(hs []crypto.Hash) crypto.Hash {
	for n := len(hs); n > 1; {
		m := 0
		for i := 0; i+1 < n; i += 2 {
			hs[m] = NodeHash(hs[i], hs[i+1])
			m++
		}
		if n%2 == 1 {
			hs[m] = hs[n-1]
			m++
		}
		n = m
	}
	return hs[0]
}

// Proof is an inclusion proof for the leaf at Index in a tree of Size leaves:
// the sibling hashes from the leaf up to the root (RFC 6962 audit path).
type Proof struct {
	Index uint64        `json:"index"`
	Size  uint64        `json:"size"`
	Path  []crypto.Hash `json:"path"`
}

// Prove returns the inclusion proof of leaf index in leaves (hash leaves).
func Prove(leaves []crypto.Hash, index int) (Proof, error) {
	if index < 0 || index >= len(leaves) {
		return Proof{}, fmt.Errorf("merkle: index %d out of range for %d leaves", index, len(leaves))
	}
	hs := make([]crypto.Hash, len(leaves))
	for i := range leaves {
		hs[i] = LeafHash(leaves[i][:])
	}
	var path []crypto.Hash
	i, n := index, len(hs)
	for n > 1 {
		// Sibling at this level, if any (an odd last node has none).
		if i%2 == 1 {
			path = append(path, hs[i-1])
		} else if i+1 < n {
			path = append(path, hs[i+1])
		}
		m := 0
		for j := 0; j+1 < n; j += 2 {
			hs[m] = NodeHash(hs[j], hs[j+1])
			m++
		}
		if n%2 == 1 {
			hs[m] = hs[n-1]
			m++
		}
		i /= 2
		n = m
	}
	return Proof{Index: uint64(index), Size: uint64(len(leaves)), Path: path}, nil
}

// ErrProof is wrapped by every proof verification failure.
var ErrProof = errors.New("merkle: invalid inclusion proof")

// RootFromProof computes the root implied by leaf (raw leaf bytes) and p,
// following RFC 9162 section 2.1.3.2.
func RootFromProof(leaf []byte, p Proof) (crypto.Hash, error) {
	if p.Index >= p.Size {
		return crypto.Hash{}, fmt.Errorf("%w: index %d not below size %d", ErrProof, p.Index, p.Size)
	}
	fn, sn := p.Index, p.Size-1
	r := LeafHash(leaf)
	for _, c := range p.Path {
		if sn == 0 {
			return crypto.Hash{}, fmt.Errorf("%w: path too long", ErrProof)
		}
		if fn&1 == 1 || fn == sn {
			r = NodeHash(c, r)
			if fn&1 == 0 {
				// Skip levels where this node is a right-edge carry.
				s := bits.TrailingZeros64(fn)
				fn >>= s
				sn >>= s
			}
		} else {
			r = NodeHash(r, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return crypto.Hash{}, fmt.Errorf("%w: path too short", ErrProof)
	}
	return r, nil
}

// Verify checks that leaf is at p.Index in the tree of p.Size leaves with the
// given root.
func Verify(root crypto.Hash, leaf []byte, p Proof) error {
	r, err := RootFromProof(leaf, p)
	if err != nil {
		return err
	}
	if r != root {
		return fmt.Errorf("%w: computed root %s, want %s", ErrProof, r, root)
	}
	return nil
}
