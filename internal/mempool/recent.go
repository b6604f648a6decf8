package mempool

import "github.com/cairn-db/cairn/crypto"

// recentSet is a bounded set of hashes that forgets the oldest first. It
// remembers recently committed transactions so a replay of one is refused at
// admission from a map lookup, before any signature check or state read.
// Replays older than its capacity are still refused, by the nonce check.
//
// Memory grows with use up to the capacity rather than being reserved up
// front, so a small or test node does not pay for a full-sized set.
type recentSet struct {
	ring     []crypto.Hash // insertion order; grows to capacity, then wraps
	capacity int
	next     int // once full: ring index of the oldest, replaced next
	set      map[crypto.Hash]struct{}
}

func newRecentSet(capacity int) *recentSet {
	return &recentSet{capacity: capacity, set: make(map[crypto.Hash]struct{})}
}

func (r *recentSet) has(h crypto.Hash) bool {
	_, ok := r.set[h]
	return ok
}

func (r *recentSet) add(h crypto.Hash) {
	if r.capacity == 0 || r.has(h) {
		return
	}
	r.set[h] = struct{}{}
	if len(r.ring) < r.capacity {
		r.ring = append(r.ring, h)
		return
	}
	delete(r.set, r.ring[r.next])
	r.ring[r.next] = h
	r.next = (r.next + 1) % r.capacity
}

func (r *recentSet) len() int { return len(r.set) }
