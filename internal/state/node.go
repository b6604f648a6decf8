package state

import (
	"crypto/sha256"
	"fmt"

	"github.com/cairn-db/cairn/crypto"
)

// Node tags: the first byte of a node's hash preimage and of its stored form.
const (
	tagLeaf     byte = 0x00
	tagInternal byte = 0x01
	nodeSize         = 1 + 2*crypto.HashSize
	maxDepth         = 256
)

// treeNode is a decoded tree node. For a leaf, a is the key hash and b the value
// hash; for an internal node, a is the left child hash and b the right.
type treeNode struct {
	tag  byte
	a, b crypto.Hash
}

func (n *treeNode) isLeaf() bool { return n.tag == tagLeaf }

// encode returns the stored bytes of n, which are also its hash preimage.
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

func leafHash(keyHash, valueHash crypto.Hash) crypto.Hash {
	n := treeNode{tag: tagLeaf, a: keyHash, b: valueHash}
	return n.hash()
}

func internalHash(left, right crypto.Hash) crypto.Hash {
	n := treeNode{tag: tagInternal, a: left, b: right}
	return n.hash()
}

// bit returns bit i (0 = most significant bit of byte 0) of a path.
func bit(path *crypto.Hash, i int) byte {
	return (path[i>>3] >> (7 - uint(i&7))) & 1
}

// commonPrefixBits returns the number of leading bits a and b share.
func commonPrefixBits(a, b *crypto.Hash) int {
	for i := 0; i < crypto.HashSize; i++ {
		if x := a[i] ^ b[i]; x != 0 {
			n := i * 8
			for x&0x80 == 0 {
				x <<= 1
				n++
			}
			return n
		}
	}
	return maxDepth
}

// newNode is a node created by Prepare, with its hash.
type newNode struct {
	hash crypto.Hash
	n    treeNode
}
