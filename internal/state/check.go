package state

import (
	"crypto/sha256"
	"fmt"

	"github.com/cairn-db/cairn/crypto"
)

// CheckTree re-derives the whole tree at height h from the stored nodes,
// bypassing the cache so it audits what is on disk: every node's hash must
// match its stored bytes, every leaf must sit on its own key's path, the
// shape must be canonical (no internal node with an empty child beside a
// leaf, or with two empty children), and the root must equal RootAt(h).
// The error names the first node that fails and where it is.
func (s *State) CheckTree(h uint64) error {
	root, err := s.RootAt(h)
	if err != nil {
		return fmt.Errorf("state: check tree: %w", err)
	}
	c := checker{s: s}
	if _, err := c.walk(root, 0, crypto.Hash{}); err != nil {
		return fmt.Errorf("state: check tree at height %d (root %s): %w", h, root, err)
	}
	return nil
}

type checker struct {
	s *State
}

type subtreeKind int

const (
	kindEmpty subtreeKind = iota
	kindLeaf
	kindInternal
)

// walk checks the subtree with hash h at depth, whose path prefix is the
// first depth bits of prefix.
func (c *checker) walk(h crypto.Hash, depth int, prefix crypto.Hash) (subtreeKind, error) {
	if h.IsZero() {
		return kindEmpty, nil
	}
	n, err := c.s.readNode(h)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", where(h, depth, &prefix), err)
	}
	enc := n.encode()
	if got := crypto.Hash(sha256.Sum256(enc[:])); got != h {
		return 0, fmt.Errorf("%s: stored bytes hash to %s", where(h, depth, &prefix), got)
	}
	if n.isLeaf() {
		if commonPrefixBits(&n.a, &prefix) < depth {
			return 0, fmt.Errorf("%s: leaf of key hash %s is off its path", where(h, depth, &prefix), n.a)
		}
		return kindLeaf, nil
	}
	if depth >= maxDepth {
		return 0, fmt.Errorf("%s: internal node below depth %d", where(h, depth, &prefix), maxDepth)
	}
	right := prefix
	right[depth/8] |= 0x80 >> uint(depth%8)
	lk, err := c.walk(n.a, depth+1, prefix)
	if err != nil {
		return 0, err
	}
	rk, err := c.walk(n.b, depth+1, right)
	if err != nil {
		return 0, err
	}
	switch {
	case lk == kindEmpty && rk == kindEmpty:
		return 0, fmt.Errorf("%s: internal node with two empty children", where(h, depth, &prefix))
	case lk == kindEmpty && rk == kindLeaf, lk == kindLeaf && rk == kindEmpty:
		return 0, fmt.Errorf("%s: internal node holding a single leaf (should collapse to it)", where(h, depth, &prefix))
	}
	return kindInternal, nil
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
		b[i] = '0' + bit(p, i)
	}
	return string(b)
}
