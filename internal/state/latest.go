package state

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// DefaultLatestCacheBytes bounds the latest-value cache when
// Options.LatestCacheBytes is zero.
const DefaultLatestCacheBytes = 64 << 20

// latestCache keeps the latest records (latest values with the height of
// their write, history.go) of keys that were read, so that the
// reads every transaction makes (its accounts, at admission to the mempool,
// again when the mempool is rechecked after a block, and in execution) are
// a map lookup instead of a Pebble read through the memtables and every
// level, whose cost grows with the database.
//
// It must never answer an older value than Pebble holds for a committed
// height. Two rules keep it exact:
//   - Committed, which runs after a block's batch is durable, replaces the
//     cached value of every key the block wrote (keys not cached stay out:
//     a key written once, as in a bulk load of data, should not push out
//     the accounts that are read all the time);
//   - a reader that missed fills the entry with what it read from Pebble
//     only if no block was committed since it started the read (the
//     generation is bumped before Committed touches any entry), so a value
//     read before a commit can never land after it.
//
// Absence is cached too (a transfer to a new account reads it first).
// Everything else that rewrites latest values outside Committed (a
// rollback, a state-sync restore) calls Tree.DropLatestCache.
type latestCache struct {
	gen    atomic.Uint64
	seed   maphash.Seed
	max    int // bytes per shard; 0 disables the cache
	shards [latestShards]latestShard
}

const (
	latestShards = 16
	// latestEntryOverhead approximates a map entry's memory beyond its key
	// and value bytes (the slot, the string and slice headers).
	latestEntryOverhead = 64
)

type latestShard struct {
	mu    sync.Mutex
	m     map[string]latestEntry
	bytes int
	_     [40]byte // keep shards on separate cache lines
}

type latestEntry struct {
	v  []byte // nil when the key has no value
	ok bool
}

func newLatestCache(maxBytes int) *latestCache {
	c := &latestCache{seed: maphash.MakeSeed(), max: max(maxBytes, 0) / latestShards}
	for i := range c.shards {
		c.shards[i].m = make(map[string]latestEntry)
	}
	return c
}

func (c *latestCache) shard(key []byte) *latestShard {
	return &c.shards[maphash.Bytes(c.seed, key)%latestShards]
}

// get returns a copy of the cached record of key, whether the key has a
// value, and whether it was cached at all.
func (c *latestCache) get(key []byte) (v []byte, ok, hit bool) {
	if c.max == 0 {
		return nil, false, false
	}
	sh := c.shard(key)
	sh.mu.Lock()
	e, hit := sh.m[string(key)]
	if hit && e.ok {
		v = cloneValue(e.v)
	}
	sh.mu.Unlock()
	return v, e.ok, hit
}

// writeHeight returns the height of the write of key's cached record,
// without copying it.
func (c *latestCache) writeHeight(key []byte) (h uint64, ok, hit bool) {
	if c.max == 0 {
		return 0, false, false
	}
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, hit := sh.m[string(key)]
	if !hit || e.ok && len(e.v) < latestHeaderSize {
		// A malformed record is for the caller's own read to report.
		return 0, false, false
	}
	if e.ok {
		h = binary.BigEndian.Uint64(e.v)
	}
	return h, e.ok, true
}

// generation is read by a reader before it reads Pebble, and given back to
// fill.
func (c *latestCache) generation() uint64 { return c.gen.Load() }

// fill caches what a reader read from Pebble, unless a block was committed
// since the reader took gen.
func (c *latestCache) fill(key, v []byte, ok bool, gen uint64) {
	if c.max == 0 {
		return
	}
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if _, dup := sh.m[string(key)]; dup {
		return
	}
	e := latestEntry{ok: ok}
	if ok {
		e.v = cloneValue(v)
	}
	sh.m[string(key)] = e
	sh.bytes += len(key) + len(e.v) + latestEntryOverhead
	if sh.bytes > c.max {
		sh.evict(c.max * 7 / 8)
	}
}

// evict drops entries until the shard holds at most target bytes. Go's map
// iteration starts at a random place, so the victims are random.
func (sh *latestShard) evict(target int) {
	for k, e := range sh.m {
		if sh.bytes <= target {
			return
		}
		delete(sh.m, k)
		sh.bytes -= len(k) + len(e.v) + latestEntryOverhead
	}
}

// begin starts a commit's updates: from now on no fill from a read that
// started earlier is taken.
func (c *latestCache) begin() { c.gen.Add(1) }

// update replaces key's cached record, if it is cached, with the value v
// written at height. v is not nil (the map has no deletions) and is copied.
func (c *latestCache) update(key []byte, height uint64, v []byte) {
	if c.max == 0 {
		return
	}
	sh := c.shard(key)
	sh.mu.Lock()
	if e, ok := sh.m[string(key)]; ok {
		rec := appendLatestRecord(make([]byte, 0, latestHeaderSize+len(v)), height, v)
		sh.bytes += len(rec) - len(e.v)
		sh.m[string(key)] = latestEntry{v: rec, ok: true}
		if sh.bytes > c.max {
			sh.evict(c.max * 7 / 8)
		}
	}
	sh.mu.Unlock()
}

// drop empties the cache.
func (c *latestCache) drop() {
	c.begin()
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.bytes = 0
		sh.mu.Unlock()
	}
}
