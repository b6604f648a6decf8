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
// leaf, or with two empty children), no node may name a child stored at a
// later version than itself, and the root must equal RootAt(h).
// The error names the first node that fails and where it is.
//
// It reads the tree one level at a time with the level's storage keys
// sorted, so one Pebble iterator moves forward through the node key range
// instead of paying a separate point lookup per node.
func (s *Tree) CheckTree(h uint64) error {
	root, ver, err := s.rootRefAt(h)
	if err != nil {
		return fmt.Errorf("state: check tree: %w", err)
	}
	if ver > h {
		return fmt.Errorf("state: check tree at height %d (root %s): root stored at later version %d", h, root, ver)
	}
	if err := s.checkTree(root, ver); err != nil {
		return fmt.Errorf("state: check tree at height %d (root %s): %w", h, root, err)
	}
	return nil
}

// checkItem is a node to check: its hash, where it is stored, and whether
// its sibling is empty (then it must not be a leaf).
type checkItem struct {
	h            crypto.Hash
	key          []byte // storage key: version and position
	ver          uint64
	pos          nodePos // its path bits above the node; the rest zero
	siblingEmpty bool
}

func (s *Tree) checkTree(root crypto.Hash, rootVer uint64) error {
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
	level := []checkItem{{h: root, ver: rootVer, key: nodeKey(rootVer, nodePos{})}}
	for depth := 0; len(level) > 0; depth++ {
		slices.SortFunc(level, func(a, b checkItem) int { return bytes.Compare(a.key, b.key) })
		var next []checkItem
		for i := range level {
			c := &level[i]
			if !it.SeekGE(c.key) || !bytes.Equal(it.Key(), c.key) {
				if err := it.Error(); err != nil {
					return fmt.Errorf("%s: %w", where(c), err)
				}
				return fmt.Errorf("%s: node missing", where(c))
			}
			v, err := it.ValueAndErr()
			if err != nil {
				return fmt.Errorf("%s: %w", where(c), err)
			}
			n, err := decodeNode(v)
			if err != nil {
				return fmt.Errorf("%s: %w", where(c), err)
			}
			if got := crypto.Hash(sha256.Sum256(v[:nodeSize])); got != c.h {
				return fmt.Errorf("%s: stored bytes hash to %s", where(c), got)
			}
			if n.isLeaf() {
				if smt.CommonPrefixBits(&n.a, &c.pos.path) < depth {
					return fmt.Errorf("%s: leaf of key hash %s is off its path", where(c), n.a)
				}
				if c.siblingEmpty {
					return fmt.Errorf("%s: internal node above holds only this leaf (should collapse to it)", where(c))
				}
				continue
			}
			if depth >= smt.MaxDepth {
				return fmt.Errorf("%s: internal node below depth %d", where(c), smt.MaxDepth)
			}
			if n.a.IsZero() && n.b.IsZero() {
				return fmt.Errorf("%s: internal node with two empty children", where(c))
			}
			for bit, ch := range []struct {
				h   crypto.Hash
				ver uint64
			}{{n.a, n.va}, {n.b, n.vb}} {
				if ch.h.IsZero() {
					continue
				}
				if ch.ver > c.ver {
					return fmt.Errorf("%s: child stored at version %d, after the node itself", where(c), ch.ver)
				}
				pos := c.pos.child(byte(bit))
				next = append(next, checkItem{h: ch.h, ver: ch.ver, pos: pos, key: nodeKey(ch.ver, pos),
					siblingEmpty: (bit == 0 && n.b.IsZero()) || (bit == 1 && n.a.IsZero())})
			}
		}
		level = next
	}
	return nil
}

// where describes a node's position for an error message.
func where(c *checkItem) string {
	d := int(c.pos.depth)
	return fmt.Sprintf("node %s at depth %d (path prefix %s, stored at version %d)", c.h, d, prefixString(&c.pos.path, d), c.ver)
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
