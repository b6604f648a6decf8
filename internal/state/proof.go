package state

import (
	"crypto/sha256"
	"fmt"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/smt"
)

// Prove returns the value of key at height h (found false if absent) and a
// proof of it against RootAt(h).
func (s *Tree) Prove(key []byte, h uint64) ([]byte, bool, *smt.Proof, error) {
	root, err := s.RootAt(h)
	if err != nil {
		return nil, false, nil, err
	}
	path := smt.Path(key)
	p := &smt.Proof{Siblings: make([]crypto.Hash, 0, 32)} // never null in JSON
	cur := root
	for depth := 0; ; depth++ {
		if cur.IsZero() {
			return nil, false, p, nil
		}
		n, err := s.loadNode(cur)
		if err != nil {
			return nil, false, nil, s.prunedAt(h, fmt.Errorf("state: prove %x at %d: %w", key, h, err))
		}
		if n.isLeaf() {
			if n.a != path {
				p.Leaf = &smt.ProofLeaf{KeyHash: n.a, ValueHash: n.b}
				return nil, false, p, nil
			}
			v, ok, err := s.valueAt(key, h)
			if err != nil {
				return nil, false, nil, s.prunedAt(h, fmt.Errorf("state: prove %x at %d: %w", key, h, err))
			}
			if !ok || crypto.Hash(sha256.Sum256(v)) != n.b {
				return nil, false, nil, s.prunedAt(h, fmt.Errorf("state: prove %x at %d: stored value does not match the tree's leaf", key, h))
			}
			return v, true, p, nil
		}
		if depth >= smt.MaxDepth {
			return nil, false, nil, fmt.Errorf("state: prove %x at %d: internal node below depth %d", key, h, smt.MaxDepth)
		}
		if smt.Bit(&path, depth) == 0 {
			p.Siblings = append(p.Siblings, n.b)
			cur = n.a
		} else {
			p.Siblings = append(p.Siblings, n.a)
			cur = n.b
		}
	}
}
