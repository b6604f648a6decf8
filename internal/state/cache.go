package state

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/cairn-db/cairn/crypto"
)

// nodeCache keeps decoded nodes in memory. Nodes are immutable by hash, so a
// cached node is never stale; the cache only has to be bounded, fast and safe
// for concurrent use.
//
// It is a 16-way set-associative table of fixed-size slots rather than a Go
// map: a map under constant delete/insert churn accumulates tombstones that
// lengthen every probe (measured: over 1 µs per hit after some blocks of
// churn on a million-node map). Here a lookup reads one set (sixteen
// 8-byte tags, then the matching slot), memory is bounded by the slot count,
// and the table holds no pointers, so the garbage collector never scans it.
// A full set evicts round-robin. The table starts small and doubles up to
// the configured size as it fills.
//
// Locking: 256 stripes chosen by a hash byte that does not pick the set, so
// readers rarely contend with the writer; growing the table takes every
// stripe.
type nodeCache struct {
	maxSets int // 0 disables the cache
	tab     atomic.Pointer[cacheTable]
	count   atomic.Int64
	growMu  sync.Mutex
	stripes [cacheStripes]struct {
		sync.RWMutex
		_ [40]byte // keep stripes on separate cache lines
	}
}

const (
	cacheWays    = 16
	cacheStripes = 256
	cacheMinSets = 256
)

type cacheSlot struct {
	h crypto.Hash
	n node
}

type cacheSet struct {
	tags  [cacheWays]uint64 // 0 = empty slot
	slots [cacheWays]cacheSlot
	hand  uint8 // next way to evict
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

// Tags and set indexes come from different hash bytes, and the stripe from
// a third, so the three choices are independent.
func cacheTag(h *crypto.Hash) uint64               { return binary.LittleEndian.Uint64(h[0:8]) | 1 }
func cacheIndex(h *crypto.Hash) uint64             { return binary.LittleEndian.Uint64(h[8:16]) }
func cacheStripe(h *crypto.Hash) uint8             { return h[16] }
func (t *cacheTable) set(h *crypto.Hash) *cacheSet { return &t.sets[cacheIndex(h)&t.mask] }

func (c *nodeCache) get(h crypto.Hash) (node, bool) {
	if c.maxSets == 0 {
		return node{}, false
	}
	st := &c.stripes[cacheStripe(&h)]
	st.RLock()
	defer st.RUnlock()
	s := c.tab.Load().set(&h)
	tag := cacheTag(&h)
	for w := range s.tags {
		if s.tags[w] == tag && s.slots[w].h == h {
			return s.slots[w].n, true
		}
	}
	return node{}, false
}

// insert adds h to set s; the caller holds h's stripe lock (or all of them).
// It reports whether the cache grew by one entry (false when h was already
// there or an entry was evicted for it).
func (s *cacheSet) insert(h *crypto.Hash, n *node) bool {
	tag := cacheTag(h)
	empty := -1
	for w := range s.tags {
		if s.tags[w] == tag && s.slots[w].h == *h {
			return false
		}
		if s.tags[w] == 0 && empty < 0 {
			empty = w
		}
	}
	grew := empty >= 0
	if !grew {
		empty = int(s.hand % cacheWays)
		s.hand++
	}
	s.tags[empty] = tag
	s.slots[empty] = cacheSlot{h: *h, n: *n}
	return grew
}

func (s *cacheSet) remove(h *crypto.Hash) bool {
	tag := cacheTag(h)
	for w := range s.tags {
		if s.tags[w] == tag && s.slots[w].h == *h {
			s.tags[w] = 0
			s.slots[w] = cacheSlot{}
			return true
		}
	}
	return false
}

func (c *nodeCache) put(h crypto.Hash, n node) {
	if c.maxSets == 0 {
		return
	}
	st := &c.stripes[cacheStripe(&h)]
	st.Lock()
	grew := c.tab.Load().set(&h).insert(&h, &n)
	st.Unlock()
	if grew {
		c.count.Add(1)
		c.grow(0)
	}
}

// apply removes the hashes in drop, then inserts the nodes in add, taking
// each stripe's lock once.
func (c *nodeCache) apply(drop []crypto.Hash, add []newNode) {
	if c.maxSets == 0 {
		return
	}
	// Grow first: inserting a large block's nodes into a small table would
	// evict most of them before the table could grow.
	c.grow(int64(len(add)))
	var dropBy, addBy [cacheStripes][]int32
	for i := range drop {
		sh := cacheStripe(&drop[i])
		dropBy[sh] = append(dropBy[sh], int32(i))
	}
	for i := range add {
		sh := cacheStripe(&add[i].hash)
		addBy[sh] = append(addBy[sh], int32(i))
	}
	var delta int64
	for sh := range c.stripes {
		if len(dropBy[sh]) == 0 && len(addBy[sh]) == 0 {
			continue
		}
		st := &c.stripes[sh]
		st.Lock()
		t := c.tab.Load()
		for _, i := range dropBy[sh] {
			if t.set(&drop[i]).remove(&drop[i]) {
				delta--
			}
		}
		for _, i := range addBy[sh] {
			if t.set(&add[i].hash).insert(&add[i].hash, &add[i].n) {
				delta++
			}
		}
		st.Unlock()
	}
	c.count.Add(delta)
	c.grow(0)
}

// grow doubles the table while it would be more than half full with extra
// more entries, up to its maximum size.
func (c *nodeCache) grow(extra int64) {
	for {
		t := c.tab.Load()
		if len(t.sets) >= c.maxSets || (c.count.Load()+extra)*2 < int64(len(t.sets))*cacheWays {
			return
		}
		c.growMu.Lock()
		if c.tab.Load() != t {
			c.growMu.Unlock()
			continue // another goroutine grew it
		}
		for i := range c.stripes {
			c.stripes[i].Lock()
		}
		// Doubling sends set i's entries to sets i and i+len, so every
		// entry fits and none is lost.
		n := &cacheTable{sets: make([]cacheSet, 2*len(t.sets)), mask: uint64(2*len(t.sets) - 1)}
		for i := range t.sets {
			s := &t.sets[i]
			for w := range s.tags {
				if s.tags[w] != 0 {
					n.set(&s.slots[w].h).insert(&s.slots[w].h, &s.slots[w].n)
				}
			}
		}
		c.tab.Store(n)
		for i := range c.stripes {
			c.stripes[i].Unlock()
		}
		c.growMu.Unlock()
	}
}
