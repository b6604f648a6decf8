package state

import (
	"crypto/sha256"
	"fmt"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/smt"
)

// Node tags: the first byte of a node's hash preimage (package smt defines
// them) and so of its stored form.
const (
	tagLeaf     = smt.TagLeaf
	tagInternal = smt.TagInternal
	nodeSize    = 1 + 2*crypto.HashSize
)

// treeNode is a decoded tree node. For a leaf, a is the key hash and b the value
// hash; for an internal node, a is the left child hash and b the right.
type treeNode struct {
	tag  byte
	a, b crypto.Hash
}

func (n *treeNode) isLeaf() bool { return n.tag == tagLeaf }

// encode returns the stored bytes of n, which are also its hash preimage:
// hash() equals smt.LeafHash(a, b) or smt.InternalHash(a, b).
func (n *treeNode) encode() [nodeSize]byte {
	var buf [nodeSize]byte
	buf[0] = n.tag
	copy(buf[1:33], n.a[:])
	copy(buf[33:], n.b[:])
	return buf
}

func (n *treeNode) hash() crypto.Hash {
	buf := n.encode()
	return sha256.Sum256(buf[:])
}

func decodeNode(b []byte) (treeNode, error) {
	if len(b) != nodeSize {
		return treeNode{}, fmt.Errorf("node is %d bytes, want %d", len(b), nodeSize)
	}
	if b[0] != tagLeaf && b[0] != tagInternal {
		return treeNode{}, fmt.Errorf("node has unknown tag 0x%02x", b[0])
	}
	var n treeNode
	n.tag = b[0]
	copy(n.a[:], b[1:33])
	copy(n.b[:], b[33:])
	return n, nil
}

// newNode is a node created by Prepare, with its hash.
type newNode struct {
	hash crypto.Hash
	n    treeNode
}
