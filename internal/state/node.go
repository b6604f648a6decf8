package state

import (
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/cairn-db/cairn/crypto"
)

// Node tags: the first byte of a node's hash preimage and of its stored form.
const (
	tagLeaf     byte = 0x00
	tagInternal byte = 0x01
	nodeSize         = 1 + 2*crypto.HashSize
	maxDepth         = 256
)

// node is a decoded tree node. For a leaf, a is the key hash and b the value
// hash; for an internal node, a is the left child hash and b the right.
type node struct {
	tag  byte
	a, b crypto.Hash
}

func (n *node) isLeaf() bool { return n.tag == tagLeaf }

// encode returns the stored bytes of n, which are also its hash preimage.
func (n *node) encode() [nodeSize]byte {
	var buf [nodeSize]byte
	buf[0] = n.tag
	copy(buf[1:33], n.a[:])
	copy(buf[33:], n.b[:])
	return buf
}

func (n *node) hash() crypto.Hash {
	buf := n.encode()
	return sha256.Sum256(buf[:])
}

func decodeNode(b []byte) (node, error) {
	if len(b) != nodeSize {
		return node{}, fmt.Errorf("node is %d bytes, want %d", len(b), nodeSize)
	}
	if b[0] != tagLeaf && b[0] != tagInternal {
		return node{}, fmt.Errorf("node has unknown tag 0x%02x", b[0])
	}
	var n node
	n.tag = b[0]
	copy(n.a[:], b[1:33])
	copy(n.b[:], b[33:])
	return n, nil
}

func leafHash(keyHash, valueHash crypto.Hash) crypto.Hash {
	n := node{tag: tagLeaf, a: keyHash, b: valueHash}
	return n.hash()
}

func internalHash(left, right crypto.Hash) crypto.Hash {
	n := node{tag: tagInternal, a: left, b: right}
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

// nodeCache keeps decoded nodes in memory. Nodes are immutable by hash, so a
// cached node can never be stale; the cache only has to be bounded and safe
// for concurrent use. It is sharded by the first hash byte (uniform, since
// hashes are) so readers rarely contend with the writer, and each shard
// evicts an arbitrary sixteenth of itself when full: cheap, and good enough
// because the writer also drops nodes that a commit replaced, so what stays
// cached is mostly the current tree.
type nodeCache struct {
	shards   [cacheShards]cacheShard
	shardCap int
}

const cacheShards = 64

type cacheShard struct {
	mu sync.RWMutex
	m  map[crypto.Hash]node
}

func newNodeCache(capacity int) *nodeCache {
	c := &nodeCache{shardCap: capacity / cacheShards}
	if capacity > 0 && c.shardCap == 0 {
		c.shardCap = 1
	}
	for i := range c.shards {
		c.shards[i].m = make(map[crypto.Hash]node)
	}
	return c
}

func (c *nodeCache) get(h crypto.Hash) (node, bool) {
	if c.shardCap == 0 {
		return node{}, false
	}
	s := &c.shards[h[0]%cacheShards]
	s.mu.RLock()
	n, ok := s.m[h]
	s.mu.RUnlock()
	return n, ok
}

func (c *nodeCache) put(h crypto.Hash, n node) {
	if c.shardCap == 0 {
		return
	}
	s := &c.shards[h[0]%cacheShards]
	s.mu.Lock()
	s.insertLocked(h, n, c.shardCap)
	s.mu.Unlock()
}

func (s *cacheShard) insertLocked(h crypto.Hash, n node, shardCap int) {
	if _, ok := s.m[h]; ok {
		return
	}
	if len(s.m) >= shardCap {
		// Evict a sixteenth (at least one): map iteration starts at a
		// random place, so this drops arbitrary entries.
		drop := shardCap/16 + 1
		for k := range s.m {
			delete(s.m, k)
			drop--
			if drop == 0 {
				break
			}
		}
	}
	s.m[h] = n
}

// apply removes the hashes in drop, then inserts the nodes in add, taking
// each shard's lock once.
func (c *nodeCache) apply(drop []crypto.Hash, add []newNode) {
	if c.shardCap == 0 {
		return
	}
	var dropBy, addBy [cacheShards][]int32
	for i := range drop {
		sh := drop[i][0] % cacheShards
		dropBy[sh] = append(dropBy[sh], int32(i))
	}
	for i := range add {
		sh := add[i].hash[0] % cacheShards
		addBy[sh] = append(addBy[sh], int32(i))
	}
	for sh := range c.shards {
		if len(dropBy[sh]) == 0 && len(addBy[sh]) == 0 {
			continue
		}
		s := &c.shards[sh]
		s.mu.Lock()
		for _, i := range dropBy[sh] {
			delete(s.m, drop[i])
		}
		for _, i := range addBy[sh] {
			s.insertLocked(add[i].hash, add[i].n, c.shardCap)
		}
		s.mu.Unlock()
	}
}

// newNode is a node created by Prepare, with its hash.
type newNode struct {
	hash crypto.Hash
	n    node
}
