package state

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/cairn-db/cairn/crypto"
)

// nodeCache keeps decoded nodes in memory. Nodes are immutable by hash, so a
// cached node is never stale; the cache only has to be bounded, fast and safe
// for concurrent readers.
//
// It is a 16-way set-associative table of fixed-size slots rather than a Go
// map: a map under constant delete/insert churn accumulates tombstones that
// lengthen every probe (measured: over 1 µs per hit after some blocks of
// churn on a million-node map). Here a set is 64 bytes of 4-byte tags (one
// cache line) followed by sixteen 96-byte slots, so a hit reads the tag line
// and one slot; memory is bounded by the slot count; and the table holds no
// pointers, so the garbage collector never scans it. A full set evicts a
// slot chosen by the new node's hash. The table starts small and doubles up
// to the configured size as it fills.
//
// Ownership: only the writer goroutine (the one calling Prepare, Stage and
// Committed) modifies the cache, in Committed. The writer therefore reads it
// without locks (getOwner), which keeps Prepare's hundred thousand lookups
// per block free of atomic instructions; other goroutines read under one of
// 256 stripe locks chosen by set index (get), which the writer takes to
// modify a set.
type nodeCache struct {
	maxSets int // 0 disables the cache
	tab     atomic.Pointer[cacheTable]
	count   int64  // entries; writer-owned
	sink    uint32 // keeps prefetching reads from being optimized away
	stripes [cacheStripes]struct {
		sync.RWMutex
		_ [40]byte // keep stripes on separate cache lines
	}
}

const (
	cacheWays    = 16
	cacheStripes = 256
	cacheMinSets = 256

	cacheTagUsed = 1 // tag bit: slot occupied
	cacheTagLeaf = 2 // tag bit: slot holds a leaf
)

// cacheSlot is a node without its tag byte (kept in the set's tag).
type cacheSlot struct {
	h, a, b crypto.Hash
}

type cacheSet struct {
	tags  [cacheWays]uint32 // 0 = empty slot
	slots [cacheWays]cacheSlot
}

type cacheTable struct {
	sets []cacheSet
	mask uint64
}

func newNodeCache(capacity int) *nodeCache {
	c := &nodeCache{}
	if capacity <= 0 {
		return c
	}
	// The largest power-of-two number of sets within capacity slots.
	sets := 1
	for sets*2*cacheWays <= capacity {
		sets *= 2
	}
	c.maxSets = sets
	start := min(sets, cacheMinSets)
	c.tab.Store(&cacheTable{sets: make([]cacheSet, start), mask: uint64(start - 1)})
	return c
}

// The tag, the set index and the eviction victim come from
// different hash bytes, so the choices are independent.
func cacheTag(h *crypto.Hash) uint32 {
	return binary.LittleEndian.Uint32(h[0:4])&^(cacheTagUsed|cacheTagLeaf) | cacheTagUsed
}
func cacheIndex(h *crypto.Hash) uint64             { return binary.LittleEndian.Uint64(h[8:16]) }
func cacheVictim(h *crypto.Hash) int               { return int(h[17] % cacheWays) }
func (t *cacheTable) set(h *crypto.Hash) *cacheSet { return &t.sets[cacheIndex(h)&t.mask] }

// stripe returns the lock guarding h's set in t. It is a function of the
// set, so two hashes in one set always share a lock.
func (c *nodeCache) stripe(t *cacheTable, h *crypto.Hash) int {
	return int(cacheIndex(h) & t.mask % cacheStripes)
}

// sameHash compares two hashes as four words: unlike ==, which calls
// memequal, it inlines, so the CPU can overlap lookups in a loop.
func sameHash(a, b *crypto.Hash) bool {
	return binary.LittleEndian.Uint64(a[0:8]) == binary.LittleEndian.Uint64(b[0:8]) &&
		binary.LittleEndian.Uint64(a[8:16]) == binary.LittleEndian.Uint64(b[8:16]) &&
		binary.LittleEndian.Uint64(a[16:24]) == binary.LittleEndian.Uint64(b[16:24]) &&
		binary.LittleEndian.Uint64(a[24:32]) == binary.LittleEndian.Uint64(b[24:32])
}

func (s *cacheSet) find(h *crypto.Hash) (node, bool) {
	tag := cacheTag(h)
	for w := range s.tags {
		if s.tags[w]&^cacheTagLeaf == tag && sameHash(&s.slots[w].h, h) {
			n := node{tag: tagInternal, a: s.slots[w].a, b: s.slots[w].b}
			if s.tags[w]&cacheTagLeaf != 0 {
				n.tag = tagLeaf
			}
			return n, true
		}
	}
	return node{}, false
}

// get looks h up from any goroutine.
func (c *nodeCache) get(h crypto.Hash) (node, bool) {
	if c.maxSets == 0 {
		return node{}, false
	}
	// A table replaced after this load is never modified again, so
	// reading it under its stripe lock stays consistent.
	t := c.tab.Load()
	st := &c.stripes[c.stripe(t, &h)]
	st.RLock()
	defer st.RUnlock()
	return t.set(&h).find(&h)
}

// getOwner looks h up from the writer goroutine, the only one that
// modifies the cache, so no lock is needed.
func (c *nodeCache) getOwner(h crypto.Hash) (node, bool) {
	if c.maxSets == 0 {
		return node{}, false
	}
	return c.tab.Load().set(&h).find(&h)
}

// touch reads the first tag of h's set, so that a lookup soon after finds
// the set's tag line already in the CPU cache. Writer goroutine only.
func (c *nodeCache) touch(h *crypto.Hash) uint32 {
	if c.maxSets == 0 {
		return 0
	}
	return c.tab.Load().set(h).tags[0]
}

// insert adds h to set s and reports whether the cache gained an entry
// (false when h was there already or evicted another entry). The caller
// holds h's stripe lock or all of them.
func (s *cacheSet) insert(h *crypto.Hash, n *node) bool {
	tag := cacheTag(h)
	empty := -1
	for w := range s.tags {
		if s.tags[w]&^cacheTagLeaf == tag && sameHash(&s.slots[w].h, h) {
			return false
		}
		if s.tags[w] == 0 && empty < 0 {
			empty = w
		}
	}
	grew := empty >= 0
	if !grew {
		empty = cacheVictim(h)
	}
	if n.isLeaf() {
		tag |= cacheTagLeaf
	}
	s.tags[empty] = tag
	s.slots[empty] = cacheSlot{h: *h, a: n.a, b: n.b}
	return grew
}

func (s *cacheSet) remove(h *crypto.Hash) bool {
	tag := cacheTag(h)
	for w := range s.tags {
		if s.tags[w]&^cacheTagLeaf == tag && sameHash(&s.slots[w].h, h) {
			s.tags[w] = 0 // the slot's bytes are dead; leaving them saves a write
			return true
		}
	}
	return false
}

// apply removes the hashes in drop, then inserts the nodes in add, taking
// each stripe's lock once. Writer goroutine only.
func (c *nodeCache) apply(drop []crypto.Hash, add []newNode) {
	if c.maxSets == 0 {
		return
	}
	// Grow first: inserting a large block's nodes into a small table would
	// evict most of them before the table could grow.
	c.grow(int64(len(add)))
	t := c.tab.Load()
	var dropBy, addBy [cacheStripes][]int32
	for i := range drop {
		sh := c.stripe(t, &drop[i])
		dropBy[sh] = append(dropBy[sh], int32(i))
	}
	for i := range add {
		sh := c.stripe(t, &add[i].hash)
		addBy[sh] = append(addBy[sh], int32(i))
	}
	for sh := range c.stripes {
		if len(dropBy[sh]) == 0 && len(addBy[sh]) == 0 {
			continue
		}
		// Touch the sets' tag lines before taking the lock: the loads are
		// independent, so their cache misses overlap.
		var sink uint32
		for _, i := range dropBy[sh] {
			sink += t.set(&drop[i]).tags[0]
		}
		for _, i := range addBy[sh] {
			sink += t.set(&add[i].hash).tags[0]
		}
		c.sink += sink
		st := &c.stripes[sh]
		st.Lock()
		for _, i := range dropBy[sh] {
			if t.set(&drop[i]).remove(&drop[i]) {
				c.count--
			}
		}
		for _, i := range addBy[sh] {
			if t.set(&add[i].hash).insert(&add[i].hash, &add[i].n) {
				c.count++
			}
		}
		st.Unlock()
	}
}

// grow doubles the table while it would be more than half full with extra
// more entries, up to its maximum size. Writer goroutine only.
func (c *nodeCache) grow(extra int64) {
	t := c.tab.Load()
	size := len(t.sets)
	for size < c.maxSets && (c.count+extra)*2 > int64(size)*cacheWays {
		size *= 2
	}
	if size == len(t.sets) {
		return
	}
	// Growing by a power of two sends set i's entries to sets i, i+len, ...
	// so every entry fits and none is lost.
	n := &cacheTable{sets: make([]cacheSet, size), mask: uint64(size - 1)}
	for i := range t.sets {
		s := &t.sets[i]
		for w := range s.tags {
			if s.tags[w] != 0 {
				nd := node{tag: tagInternal, a: s.slots[w].a, b: s.slots[w].b}
				if s.tags[w]&cacheTagLeaf != 0 {
					nd.tag = tagLeaf
				}
				n.set(&s.slots[w].h).insert(&s.slots[w].h, &nd)
			}
		}
	}
	// Readers that loaded the old table keep reading it: nothing modifies
	// it any more.
	c.tab.Store(n)
}
