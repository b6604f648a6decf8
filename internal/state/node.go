package state

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/smt"
)

// Node tags: the first byte of a node's hash preimage (package smt defines
// them) and so of its stored form.
const (
	tagLeaf     = smt.TagLeaf
	tagInternal = smt.TagInternal
	nodeSize    = 1 + 2*crypto.HashSize // a node's hash preimage
	// An internal node is stored as its preimage followed by the versions
	// of its two children (8 bytes each, big-endian; 0 for an empty child).
	internalStoredSize = nodeSize + 16
)

// treeNode is a decoded tree node. For a leaf, a is the key hash and b the value
// hash; for an internal node, a is the left child hash and b the right, and
// va and vb are the versions (heights) at which those children were stored,
// which with their positions make their storage keys. Leaves have no
// versions.
type treeNode struct {
	tag    byte
	a, b   crypto.Hash
	va, vb uint64
}

func (n *treeNode) isLeaf() bool { return n.tag == tagLeaf }

// encode returns the hash preimage of n: hash() equals smt.LeafHash(a, b)
// or smt.InternalHash(a, b).
func (n *treeNode) encode() [nodeSize]byte {
	var buf [nodeSize]byte
	buf[0] = n.tag
	copy(buf[1:33], n.a[:])
	copy(buf[33:], n.b[:])
	return buf
}

// appendStored appends the stored bytes of n: its preimage, and for an
// internal node its children's versions.
func (n *treeNode) appendStored(dst []byte) []byte {
	pre := n.encode()
	dst = append(dst, pre[:]...)
	if n.isLeaf() {
		return dst
	}
	dst = binary.BigEndian.AppendUint64(dst, n.va)
	return binary.BigEndian.AppendUint64(dst, n.vb)
}

func (n *treeNode) hash() crypto.Hash {
	buf := n.encode()
	return sha256.Sum256(buf[:])
}

// decodeNode decodes a node's stored bytes. Its hash is the SHA-256 of the
// first nodeSize bytes.
func decodeNode(b []byte) (treeNode, error) {
	if len(b) < nodeSize {
		return treeNode{}, fmt.Errorf("node is %d bytes, want at least %d", len(b), nodeSize)
	}
	var n treeNode
	n.tag = b[0]
	switch {
	case n.tag == tagLeaf && len(b) == nodeSize:
	case n.tag == tagInternal && len(b) == internalStoredSize:
		n.va = binary.BigEndian.Uint64(b[nodeSize:])
		n.vb = binary.BigEndian.Uint64(b[nodeSize+8:])
	case n.tag == tagLeaf || n.tag == tagInternal:
		return treeNode{}, fmt.Errorf("node with tag 0x%02x is %d bytes", n.tag, len(b))
	default:
		return treeNode{}, fmt.Errorf("node has unknown tag 0x%02x", b[0])
	}
	copy(n.a[:], b[1:33])
	copy(n.b[:], b[33:nodeSize])
	return n, nil
}

// nodePos is where a node sits in the tree: its depth (0 for the root) and
// the first depth bits of its path (the rest zero). One tree has at most
// one node at a position, so (version, position) names a stored node.
type nodePos struct {
	depth uint16
	path  crypto.Hash
}

// posOf returns the position at depth on the path p.
func posOf(depth int, p *crypto.Hash) nodePos {
	pos := nodePos{depth: uint16(depth)}
	full := depth / 8
	copy(pos.path[:full], p[:full])
	if r := depth % 8; r != 0 {
		pos.path[full] = p[full] & byte(0xff<<(8-r))
	}
	return pos
}

// child returns the position of the left (bit 0) or right (bit 1) child.
func (p nodePos) child(bit byte) nodePos {
	c := nodePos{depth: p.depth + 1, path: p.path}
	if bit == 1 {
		c.path[p.depth/8] |= 0x80 >> (p.depth % 8)
	}
	return c
}

// appendNodeKey appends the storage key of the node stored at version ver
// and position pos: 's' 'n' ver(8) depth(2) path[:ceil(depth/8)]. Keys
// sort by version first, so the nodes of one height are one contiguous run
// after every earlier height's: Pebble's compactions move them without
// merging them into older data.
func appendNodeKey(dst []byte, ver uint64, pos nodePos) []byte {
	dst = append(dst, prefixState, prefixNode)
	return appendNodeID(dst, ver, pos)
}

// appendNodeID is the node key without its two prefix bytes; orphan records
// list stored nodes this way.
func appendNodeID(dst []byte, ver uint64, pos nodePos) []byte {
	dst = binary.BigEndian.AppendUint64(dst, ver)
	dst = binary.BigEndian.AppendUint16(dst, pos.depth)
	return append(dst, pos.path[:(int(pos.depth)+7)/8]...)
}

// nodeIDLen returns the length of the node ID at the start of b, or -1
// if b does not start with a well-formed one.
func nodeIDLen(b []byte) int {
	if len(b) < 10 {
		return -1
	}
	d := int(binary.BigEndian.Uint16(b[8:]))
	if d > smt.MaxDepth || len(b) < 10+(d+7)/8 {
		return -1
	}
	return 10 + (d+7)/8
}

// nodeKey returns the storage key of a node.
func nodeKey(ver uint64, pos nodePos) []byte {
	return appendNodeKey(make([]byte, 0, 2+10+crypto.HashSize), ver, pos)
}

// newNode is a node created by Prepare, with its hash and position. It is
// stored at the update's height.
type newNode struct {
	hash crypto.Hash
	n    treeNode
	pos  nodePos
}

// staleNode is a stored node that an update takes out of the tree: the
// cache drops it by hash, and pruning deletes it by version and position.
type staleNode struct {
	hash crypto.Hash
	ver  uint64
	pos  nodePos
}
