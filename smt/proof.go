package smt

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cairn-db/cairn/crypto"
)

// Proof shows that a key holds a value, or holds none, in the tree with a
// given root. See the package documentation for its meaning, binary form
// and JSON form (the struct tags below are that JSON form).
type Proof struct {
	// Siblings are the sibling hashes along the key's path, root side
	// first: Siblings[i] is the hash of the subtree beside the path at
	// depth i+1. Empty subtrees are the zero hash.
	Siblings []crypto.Hash `json:"siblings"`
	// Leaf is set when the path ends at the leaf of another key (proving
	// the key absent); nil when it ends at the key's own leaf or at an
	// empty subtree.
	Leaf *ProofLeaf `json:"leaf,omitempty"`
}

// ProofLeaf is a leaf of another key met on a key's path.
type ProofLeaf struct {
	KeyHash   crypto.Hash `json:"key_hash"`
	ValueHash crypto.Hash `json:"value_hash"`
}

const proofFlagLeaf = 0x01

// Encode returns the canonical binary form of p.
func (p *Proof) Encode() []byte {
	depth := len(p.Siblings)
	nonZero := 0
	for i := range p.Siblings {
		if !p.Siblings[i].IsZero() {
			nonZero++
		}
	}
	size := 3 + (depth+7)/8 + nonZero*crypto.HashSize
	if p.Leaf != nil {
		size += 2 * crypto.HashSize
	}
	out := make([]byte, 3+(depth+7)/8, size)
	if p.Leaf != nil {
		out[0] = proofFlagLeaf
	}
	binary.BigEndian.PutUint16(out[1:3], uint16(depth))
	bitmap := out[3:]
	for i := range p.Siblings {
		if !p.Siblings[i].IsZero() {
			bitmap[i/8] |= 0x80 >> uint(i%8)
			out = append(out, p.Siblings[i][:]...)
		}
	}
	if p.Leaf != nil {
		out = append(out, p.Leaf.KeyHash[:]...)
		out = append(out, p.Leaf.ValueHash[:]...)
	}
	return out
}

// DecodeProof parses the canonical binary form of a proof. Anything that
// Encode would not produce byte for byte is rejected, as is a proof whose
// deepest sibling is empty (no tree of this shape has one).
func DecodeProof(b []byte) (*Proof, error) {
	if len(b) < 3 {
		return nil, fmt.Errorf("smt: decode proof: %d bytes is too short", len(b))
	}
	flags := b[0]
	if flags&^proofFlagLeaf != 0 {
		return nil, fmt.Errorf("smt: decode proof: unknown flags 0x%02x", flags)
	}
	depth := int(binary.BigEndian.Uint16(b[1:3]))
	if depth > MaxDepth {
		return nil, fmt.Errorf("smt: decode proof: depth %d exceeds %d", depth, MaxDepth)
	}
	rest := b[3:]
	bmLen := (depth + 7) / 8
	if len(rest) < bmLen {
		return nil, errors.New("smt: decode proof: truncated bitmap")
	}
	bitmap := rest[:bmLen]
	rest = rest[bmLen:]
	if depth%8 != 0 && bitmap[bmLen-1]&(0xff>>uint(depth%8)) != 0 {
		return nil, errors.New("smt: decode proof: bitmap padding bits are set")
	}
	if depth > 0 && bitmap[(depth-1)/8]&(0x80>>uint((depth-1)%8)) == 0 {
		return nil, errors.New("smt: decode proof: deepest sibling is empty")
	}
	p := &Proof{Siblings: make([]crypto.Hash, depth)}
	for i := 0; i < depth; i++ {
		if bitmap[i/8]&(0x80>>uint(i%8)) == 0 {
			continue
		}
		if len(rest) < crypto.HashSize {
			return nil, fmt.Errorf("smt: decode proof: truncated sibling %d", i)
		}
		copy(p.Siblings[i][:], rest[:crypto.HashSize])
		rest = rest[crypto.HashSize:]
		if p.Siblings[i].IsZero() {
			return nil, fmt.Errorf("smt: decode proof: sibling %d is zero but marked present", i)
		}
	}
	if flags&proofFlagLeaf != 0 {
		if len(rest) < 2*crypto.HashSize {
			return nil, errors.New("smt: decode proof: truncated leaf")
		}
		p.Leaf = &ProofLeaf{}
		copy(p.Leaf.KeyHash[:], rest[:crypto.HashSize])
		copy(p.Leaf.ValueHash[:], rest[crypto.HashSize:2*crypto.HashSize])
		rest = rest[2*crypto.HashSize:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("smt: decode proof: %d trailing bytes", len(rest))
	}
	return p, nil
}

// Verify checks p against root: with a non-nil value, that key holds value
// (an empty, non-nil value is a value); with a nil value, that key is
// absent. It returns nil only if the proof establishes exactly that.
func Verify(root crypto.Hash, key []byte, value []byte, p *Proof) error {
	if p == nil {
		return errors.New("smt: verify proof: nil proof")
	}
	depth := len(p.Siblings)
	if depth > MaxDepth {
		return fmt.Errorf("smt: verify proof: %d siblings exceeds %d", depth, MaxDepth)
	}
	if depth > 0 && p.Siblings[depth-1].IsZero() {
		return errors.New("smt: verify proof: deepest sibling is empty, no tree has that shape")
	}
	path := Path(key)
	var cur crypto.Hash
	switch {
	case value != nil:
		if p.Leaf != nil {
			return errors.New("smt: verify proof: proof is of absence (path ends at another key's leaf), not of a value")
		}
		cur = LeafHash(path, sha256.Sum256(value))
	case p.Leaf != nil:
		if p.Leaf.KeyHash == path {
			return errors.New("smt: verify proof: proof leaf is the key itself, not another key")
		}
		if CommonPrefixBits(&p.Leaf.KeyHash, &path) < depth {
			return errors.New("smt: verify proof: proof leaf is not on the key's path")
		}
		cur = LeafHash(p.Leaf.KeyHash, p.Leaf.ValueHash)
	default:
		// The path ends at an empty subtree: cur stays the zero hash.
	}
	for i := depth - 1; i >= 0; i-- {
		if Bit(&path, i) == 0 {
			cur = InternalHash(cur, p.Siblings[i])
		} else {
			cur = InternalHash(p.Siblings[i], cur)
		}
	}
	if cur != root {
		if value != nil {
			return fmt.Errorf("smt: verify proof: computed root %s does not match %s for the key and value", cur, root)
		}
		return fmt.Errorf("smt: verify proof: computed root %s does not match %s for the key's absence", cur, root)
	}
	return nil
}
