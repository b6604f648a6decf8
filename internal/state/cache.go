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
// cache line) followed by sixteen 112-byte slots (hash, two child hashes,
// two child versions), so a hit reads the tag line
// and one slot; memory is bounded by the slot count; and the table holds no
// pointers, so the garbage collector never scans it. Sets come in buddy
// pairs (index i and i^1): a node whose set is full goes to its buddy if
// that has room, and the full set is flagged so lookups there also check the
// buddy. At the default load (about 60%) that cuts the nodes lost to full
// sets from about 0.5% to almost none; only when both are full is a slot
// evicted, chosen by the new node's hash. The table starts small and doubles
// up to the configured size as it fills.
//
// Ownership: only the writer goroutine (the one calling Prepare, Stage and
// Committed) modifies the cache, in Committed. The writer therefore reads it
// without locks (getOwner), which keeps Prepare's hundred thousand lookups
// per block free of atomic instructions; other goroutines read under one of
// 256 stripe locks chosen by buddy pair (get), which the writer takes to
// modify a pair.
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

	cacheTagUsed     = 1 // tag bit: slot occupied
	cacheTagLeaf     = 2 // tag bit: slot holds a leaf
	cacheTagOverflow = 4 // bit of tags[0] only: the set overflowed into its buddy
	cacheTagFlags    = cacheTagUsed | cacheTagLeaf | cacheTagOverflow
)

// cacheSlot is a node without its tag byte (kept in the set's tag).
type cacheSlot struct {
	h, a, b crypto.Hash
	va, vb  uint64
}

type cacheSet struct {
	tags  [cacheWays]uint32
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

// The tag, the set index and the eviction victim come from different hash
// bytes, so the choices are independent.
func cacheTag(h *crypto.Hash) uint32 {
	return binary.LittleEndian.Uint32(h[0:4])&^cacheTagFlags | cacheTagUsed
}
func cacheIndex(h *crypto.Hash) uint64 { return binary.LittleEndian.Uint64(h[8:16]) }
func cacheVictim(h *crypto.Hash) int   { return int(h[17] % cacheWays) }

// home returns the index of h's own set.
func (t *cacheTable) home(h *crypto.Hash) uint64 { return cacheIndex(h) & t.mask }

// stripe returns the lock guarding h's buddy pair of sets in table t. A
// reader computes it from the table it reads, and the writer modifies only
// the current table, so the two agree whenever they touch the same memory.
func (c *nodeCache) stripe(t *cacheTable, h *crypto.Hash) int {
	return int(t.home(h) >> 1 % cacheStripes)
}

// sameHash compares two hashes as four words: unlike ==, which calls
// memequal, it inlines, so the CPU can overlap lookups in a loop.
func sameHash(a, b *crypto.Hash) bool {
	return binary.LittleEndian.Uint64(a[0:8]) == binary.LittleEndian.Uint64(b[0:8]) &&
		binary.LittleEndian.Uint64(a[8:16]) == binary.LittleEndian.Uint64(b[8:16]) &&
		binary.LittleEndian.Uint64(a[16:24]) == binary.LittleEndian.Uint64(b[16:24]) &&
		binary.LittleEndian.Uint64(a[24:32]) == binary.LittleEndian.Uint64(b[24:32])
}

// way returns the slot of set s holding h, or -1.
func (s *cacheSet) way(h *crypto.Hash, tag uint32) int {
	for w := range s.tags {
		if s.tags[w]&^(cacheTagLeaf|cacheTagOverflow) == tag && sameHash(&s.slots[w].h, h) {
			return w
		}
	}
	return -1
}

// free returns an unoccupied slot of s, or -1.
func (s *cacheSet) free() int {
	for w := range s.tags {
		if s.tags[w]&cacheTagUsed == 0 {
			return w
		}
	}
	return -1
}

// locate returns the set and slot holding h, or nil.
func (t *cacheTable) locate(h *crypto.Hash) (*cacheSet, int) {
	tag := cacheTag(h)
	i := t.home(h)
	s := &t.sets[i]
	if w := s.way(h, tag); w >= 0 {
		return s, w
	}
	if s.tags[0]&cacheTagOverflow != 0 {
		b := &t.sets[i^1]
		if w := b.way(h, tag); w >= 0 {
			return b, w
		}
	}
	return nil, -1
}

func (t *cacheTable) find(h *crypto.Hash) (treeNode, bool) {
	s, w := t.locate(h)
	if s == nil {
		return treeNode{}, false
	}
	return s.node(w), true
}

// node returns the node in slot w.
func (s *cacheSet) node(w int) treeNode {
	sl := &s.slots[w]
	n := treeNode{tag: tagInternal, a: sl.a, b: sl.b, va: sl.va, vb: sl.vb}
	if s.tags[w]&cacheTagLeaf != 0 {
		n.tag = tagLeaf
	}
	return n
}

// get looks h up from any goroutine.
func (c *nodeCache) get(h crypto.Hash) (treeNode, bool) {
	if c.maxSets == 0 {
		return treeNode{}, false
	}
	// A table replaced after this load is never modified again, so
	// reading it under its stripe lock stays consistent.
	t := c.tab.Load()
	st := &c.stripes[c.stripe(t, &h)]
	st.RLock()
	defer st.RUnlock()
	return t.find(&h)
}

// getOwner looks h up from the writer goroutine, the only one that
// modifies the cache, so no lock is needed.
func (c *nodeCache) getOwner(h crypto.Hash) (treeNode, bool) {
	if c.maxSets == 0 {
		return treeNode{}, false
	}
	return c.tab.Load().find(&h)
}

// touch reads the first tag of h's set, so that a lookup soon after finds
// the set's tag line already in the CPU cache. Writer goroutine only.
func (c *nodeCache) touch(h *crypto.Hash) uint32 {
	if c.maxSets == 0 {
		return 0
	}
	t := c.tab.Load()
	return t.sets[t.home(h)].tags[0]
}

// insert adds h and reports whether the cache gained an entry (false when h
// was there already or evicted another entry). An entry already there
// takes n's child versions: the current tree's copy of h is the one to
// keep. The caller holds h's stripe lock or is the only user of t.
func (t *cacheTable) insert(h *crypto.Hash, n *treeNode) bool {
	if s, w := t.locate(h); s != nil {
		s.slots[w].va, s.slots[w].vb = n.va, n.vb
		return false
	}
	i := t.home(h)
	s := &t.sets[i]
	grew := true
	w := s.free()
	if w < 0 && t.mask != 0 {
		if b := &t.sets[i^1]; b.free() >= 0 {
			s.tags[0] |= cacheTagOverflow
			s, w = b, b.free()
		}
	}
	if w < 0 {
		w, grew = cacheVictim(h), false
	}
	tag := cacheTag(h) | s.tags[w]&cacheTagOverflow
	if n.isLeaf() {
		tag |= cacheTagLeaf
	}
	s.tags[w] = tag
	s.slots[w] = cacheSlot{h: *h, a: n.a, b: n.b, va: n.va, vb: n.vb}
	return grew
}

// remove drops h and reports whether it was cached. The overflow flag of
// h's set stays: it only costs a second look until the table is rebuilt.
func (t *cacheTable) remove(h *crypto.Hash) bool {
	s, w := t.locate(h)
	if s == nil {
		return false
	}
	s.tags[w] &= cacheTagOverflow // the slot's bytes are dead; leaving them saves a write
	return true
}

// apply removes the nodes in drop, then inserts the nodes in add, taking
// each stripe's lock once. Writer goroutine only.
func (c *nodeCache) apply(drop []staleNode, add []newNode) {
	if c.maxSets == 0 {
		return
	}
	// Grow first: inserting a large block's nodes into a small table would
	// evict most of them before the table could grow.
	c.grow(int64(len(add)))
	t := c.tab.Load()
	var dropBy, addBy [cacheStripes][]int32
	for i := range drop {
		sh := c.stripe(t, &drop[i].hash)
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
			sink += t.sets[t.home(&drop[i].hash)].tags[0]
		}
		for _, i := range addBy[sh] {
			sink += t.sets[t.home(&add[i].hash)].tags[0]
		}
		c.sink += sink
		st := &c.stripes[sh]
		st.Lock()
		for _, i := range dropBy[sh] {
			if t.remove(&drop[i].hash) {
				c.count--
			}
		}
		for _, i := range addBy[sh] {
			if t.insert(&add[i].hash, &add[i].n) {
				c.count++
			}
		}
		st.Unlock()
	}
}

// grow replaces the table with one of the smallest power-of-two size (up to
// the maximum) that would be at most half full with extra more entries.
// Writer goroutine only.
func (c *nodeCache) grow(extra int64) {
	t := c.tab.Load()
	size := len(t.sets)
	for size < c.maxSets && (c.count+extra)*2 > int64(size)*cacheWays {
		size *= 2
	}
	if size == len(t.sets) {
		return
	}
	n := &cacheTable{sets: make([]cacheSet, size), mask: uint64(size - 1)}
	count := int64(0)
	for i := range t.sets {
		s := &t.sets[i]
		for w := range s.tags {
			if s.tags[w]&cacheTagUsed != 0 {
				nd := s.node(w)
				if n.insert(&s.slots[w].h, &nd) {
					count++
				}
			}
		}
	}
	c.count = count
	// Readers that loaded the old table keep reading it: nothing modifies
	// it any more.
	c.tab.Store(n)
}
