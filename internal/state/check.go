package state

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/smt"
)

// CheckTree re-derives the whole tree at height h from the stored nodes,
// bypassing the cache so it audits what is on disk: every node's hash must
// match its stored bytes, every leaf must sit on its own key's path, the
// shape must be canonical (no internal node with an empty child beside a
// leaf, or with two empty children), and the root must equal RootAt(h).
// The error names the first node that fails and where it is.
//
// It reads the tree one level at a time with the level's hashes sorted, so
// one Pebble iterator moves forward through the node key range instead of
// paying a separate point lookup per node.
func (s *Tree) CheckTree(h uint64) error {
	root, err := s.RootAt(h)
	if err != nil {
		return fmt.Errorf("state: check tree: %w", err)
	}
	if err := s.checkTree(root); err != nil {
		return fmt.Errorf("state: check tree at height %d (root %s): %w", h, root, err)
	}
	return nil
}

// checkItem is a node to check: its hash, where it sits, and whether its
// sibling is empty (then it must not be a leaf).
type checkItem struct {
	h            crypto.Hash
	prefix       crypto.Hash // path bits above the node; the rest zero
	siblingEmpty bool
}

func (s *Tree) checkTree(root crypto.Hash) error {
	if root.IsZero() {
		return nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixState, prefixNode},
		UpperBound: []byte{prefixState, prefixNode + 1},
	})
	if err != nil {
		return err
	}
	defer it.Close()
	level := []checkItem{{h: root}}
	key := make([]byte, 0, 2+crypto.HashSize)
	for depth := 0; len(level) > 0; depth++ {
		slices.SortFunc(level, func(a, b checkItem) int { return bytes.Compare(a.h[:], b.h[:]) })
		var next []checkItem
		for i := range level {
			c := &level[i]
			key = append(append(key[:0], prefixState, prefixNode), c.h[:]...)
			if !it.SeekGE(key) || !bytes.Equal(it.Key(), key) {
				if err := it.Error(); err != nil {
					return fmt.Errorf("%s: %w", where(c.h, depth, &c.prefix), err)
				}
				return fmt.Errorf("%s: node missing", where(c.h, depth, &c.prefix))
			}
			v, err := it.ValueAndErr()
			if err != nil {
				return fmt.Errorf("%s: %w", where(c.h, depth, &c.prefix), err)
			}
			n, err := decodeNode(v)
			if err != nil {
				return fmt.Errorf("%s: %w", where(c.h, depth, &c.prefix), err)
			}
			if got := crypto.Hash(sha256.Sum256(v)); got != c.h {
				return fmt.Errorf("%s: stored bytes hash to %s", where(c.h, depth, &c.prefix), got)
			}
			if n.isLeaf() {
				if smt.CommonPrefixBits(&n.a, &c.prefix) < depth {
					return fmt.Errorf("%s: leaf of key hash %s is off its path", where(c.h, depth, &c.prefix), n.a)
				}
				if c.siblingEmpty {
					return fmt.Errorf("%s: internal node above holds only this leaf (should collapse to it)", where(c.h, depth, &c.prefix))
				}
				continue
			}
			if depth >= smt.MaxDepth {
				return fmt.Errorf("%s: internal node below depth %d", where(c.h, depth, &c.prefix), smt.MaxDepth)
			}
			if n.a.IsZero() && n.b.IsZero() {
				return fmt.Errorf("%s: internal node with two empty children", where(c.h, depth, &c.prefix))
			}
			right := c.prefix
			right[depth/8] |= 0x80 >> uint(depth%8)
			if !n.a.IsZero() {
				next = append(next, checkItem{h: n.a, prefix: c.prefix, siblingEmpty: n.b.IsZero()})
			}
			if !n.b.IsZero() {
				next = append(next, checkItem{h: n.b, prefix: right, siblingEmpty: n.a.IsZero()})
			}
		}
		level = next
	}
	return nil
}

// where describes a node's position for an error message.
func where(h crypto.Hash, depth int, prefix *crypto.Hash) string {
	return fmt.Sprintf("node %s at depth %d (path prefix %s)", h, depth, prefixString(prefix, depth))
}

func prefixString(p *crypto.Hash, depth int) string {
	if depth == 0 {
		return "(root)"
	}
	b := make([]byte, depth)
	for i := 0; i < depth; i++ {
		b[i] = '0' + smt.Bit(p, i)
	}
	return string(b)
}
