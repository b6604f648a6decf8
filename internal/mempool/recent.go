package mempool

import "github.com/cairn-db/cairn/crypto"

// recentSet is a bounded set of hashes that forgets the oldest first. It
// remembers recently committed transactions so a replay of one is refused at
// admission from a map lookup, before any signature check or state read.
// Replays older than its capacity are still refused, by the nonce check.
type recentSet struct {
	ring []crypto.Hash
	next int // ring index of the next insert (and of the oldest once full)
	full bool
	set  map[crypto.Hash]struct{}
}

func newRecentSet(capacity int) *recentSet {
	return &recentSet{ring: make([]crypto.Hash, capacity), set: make(map[crypto.Hash]struct{}, capacity)}
}

func (r *recentSet) has(h crypto.Hash) bool {
	_, ok := r.set[h]
	return ok
}

func (r *recentSet) add(h crypto.Hash) {
	if len(r.ring) == 0 || r.has(h) {
		return
	}
	if r.full {
		delete(r.set, r.ring[r.next])
	}
	r.ring[r.next] = h
	r.set[h] = struct{}{}
	r.next++
	if r.next == len(r.ring) {
		r.next, r.full = 0, true
	}
}

func (r *recentSet) len() int { return len(r.set) }
