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
	root, ver, err := s.rootRefAt(h)
	if err != nil {
		return nil, false, nil, err
	}
	v, found, p, err := s.prove(key, h, root, ver, true)
	if err != nil && s.Oldest() <= h {
		// A node from the cache is the current tree's copy, and its
		// children's versions are the current tree's: a Prune that raced
		// with a commit may have taken one of those. The walk through
		// the copies stored for h alone does not depend on the cache.
		v, found, p, err = s.prove(key, h, root, ver, false)
	}
	return v, found, p, err
}

func (s *Tree) prove(key []byte, h uint64, root crypto.Hash, ver uint64, cached bool) ([]byte, bool, *smt.Proof, error) {
	path := smt.Path(key)
	p := &smt.Proof{Siblings: make([]crypto.Hash, 0, 32)} // never null in JSON
	cur, pos := root, nodePos{}
	for depth := 0; ; depth++ {
		if cur.IsZero() {
			return nil, false, p, nil
		}
		var n treeNode
		var err error
		if cached {
			n, err = s.loadNode(cur, ver, pos)
		} else {
			n, err = s.readNode(cur, ver, pos)
		}
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
			if !ok || crypto.Hash(sha256.Sum256(v.Value)) != n.b {
				return nil, false, nil, s.prunedAt(h, fmt.Errorf("state: prove %x at %d: stored value does not match the tree's leaf", key, h))
			}
			return v.Value, true, p, nil
		}
		if depth >= smt.MaxDepth {
			return nil, false, nil, fmt.Errorf("state: prove %x at %d: internal node below depth %d", key, h, smt.MaxDepth)
		}
		bit := smt.Bit(&path, depth)
		if bit == 0 {
			p.Siblings = append(p.Siblings, n.b)
			cur, ver = n.a, n.va
		} else {
			p.Siblings = append(p.Siblings, n.a)
			cur, ver = n.b, n.vb
		}
		pos = pos.child(bit)
	}
}
