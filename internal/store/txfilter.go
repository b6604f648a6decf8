package store

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/crypto"
)

// The tx filter answers most replay checks (HasTx) without reading Pebble.
// A replay check asks for a key that is almost never there, and Pebble
// answers that only after searching every memtable and consulting every
// level's filter: several microseconds, more than executing a transfer.
//
// The filter is an in-memory Bloom filter over every hash in the 'T'
// index. Invariant: once ready, it holds every hash the database holds
// under 'T' (a superset: hashes of rolled-back blocks, or of a batch that
// failed to commit, only cost a Pebble read). Answers stay exact: "not in
// the filter" means not committed, anything else is read from Pebble. It
// is kept a superset by adding a hash before the batch that writes its
// record commits (every 'T' write goes through a Store method that does),
// and by scanning the index once after open (LoadTxFilter); until that
// scan ends, every check reads Pebble.
//
// Memory: 12 bits per committed transaction, in segments that double, up
// to maxFilterBits; past that the filter stops answering and every check
// reads Pebble again, as before the filter existed.

const (
	// filterBitsPerEntry and filterProbes give about 1% false positives
	// for 512-bit blocks (one cache line per check).
	filterBitsPerEntry = 12
	filterProbes       = 6
	filterBlockWords   = 8 // 512 bits
	firstSegmentTxs    = 1 << 20
	// maxFilterBits bounds the filter at 1 GiB, about 700 million
	// transactions.
	maxFilterBits = 8 << 30
)

// filterSeg is one fixed-size blocked Bloom filter.
type filterSeg struct {
	words  []atomic.Uint64
	blocks uint64
	cap    uint64 // entries it was sized for
	n      atomic.Uint64
}

func newFilterSeg(entries uint64) *filterSeg {
	blocks := (entries*filterBitsPerEntry + 511) / 512
	return &filterSeg{words: make([]atomic.Uint64, blocks*filterBlockWords), blocks: blocks, cap: entries}
}

// Hashes are SHA-256 outputs, so their bytes are used as they are: the
// first eight pick the block, the next eight the bits within it (an
// attacker who grinds hashes into one block only causes Pebble reads).
func (f *filterSeg) locate(h *crypto.Hash) (base uint64, probe uint64) {
	hi, _ := bits.Mul64(binary.LittleEndian.Uint64(h[0:8]), f.blocks)
	return hi * filterBlockWords, binary.LittleEndian.Uint64(h[8:16])
}

func (f *filterSeg) add(h *crypto.Hash) {
	base, v := f.locate(h)
	for i := range filterProbes {
		p := (v >> (9 * i)) & 511
		f.words[base+p>>6].Or(1 << (p & 63))
	}
	f.n.Add(1)
}

func (f *filterSeg) mayContain(h *crypto.Hash) bool {
	base, v := f.locate(h)
	for i := range filterProbes {
		p := (v >> (9 * i)) & 511
		if f.words[base+p>>6].Load()&(1<<(p&63)) == 0 {
			return false
		}
	}
	return true
}

// txFilter is the filter's segments plus whether it may answer. Adds are
// serialised by mu; checks take no lock.
type txFilter struct {
	mu       sync.Mutex
	segs     atomic.Pointer[[]*filterSeg]
	bits     uint64 // total bits allocated (under mu)
	ready    atomic.Bool
	disabled atomic.Bool // grew past maxFilterBits
}

// add records hashes about to be written under 'T'.
func (t *txFilter) add(hs ...crypto.Hash) {
	if t.disabled.Load() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range hs {
		var segs []*filterSeg
		if p := t.segs.Load(); p != nil {
			segs = *p
		}
		if len(segs) == 0 || segs[len(segs)-1].n.Load() >= segs[len(segs)-1].cap {
			next := uint64(firstSegmentTxs)
			if len(segs) > 0 {
				next = 2 * segs[len(segs)-1].cap
			}
			if t.bits+next*filterBitsPerEntry > maxFilterBits {
				t.disabled.Store(true)
				t.segs.Store(nil)
				return
			}
			t.bits += next * filterBitsPerEntry
			grown := append(append([]*filterSeg(nil), segs...), newFilterSeg(next))
			t.segs.Store(&grown)
			segs = grown
		}
		segs[len(segs)-1].add(&hs[i])
	}
}

// absent reports whether h is certainly not in the 'T' index.
func (t *txFilter) absent(h *crypto.Hash) bool {
	if !t.ready.Load() || t.disabled.Load() {
		return false
	}
	p := t.segs.Load()
	if p == nil {
		return false
	}
	for _, s := range *p {
		if s.mayContain(h) {
			return false
		}
	}
	return true
}

// LoadTxFilter scans the tx index into the filter and, unless stop closed
// first, lets it answer HasTx from then on. Commits may run meanwhile
// (their hashes are added as they are staged). Call it once per Store.
func (s *Store) LoadTxFilter(stop <-chan struct{}) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pTx}, UpperBound: []byte{pTx + 1}})
	if err != nil {
		return fmt.Errorf("load tx filter: %w", err)
	}
	batch := make([]crypto.Hash, 0, 4096)
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 1+crypto.HashSize {
			_ = it.Close()
			return fmt.Errorf("load tx filter: malformed tx index key %x", k)
		}
		batch = append(batch, crypto.Hash(k[1:]))
		if len(batch) == cap(batch) {
			s.txs.add(batch...)
			batch = batch[:0]
			select {
			case <-stop:
				return it.Close()
			default:
			}
		}
		n++
	}
	s.txs.add(batch...)
	if err := it.Close(); err != nil {
		return fmt.Errorf("load tx filter after %d hashes: %w", n, err)
	}
	s.txs.ready.Store(true)
	return nil
}

// TxFilterReady reports whether HasTx answers most misses from memory.
func (s *Store) TxFilterReady() bool { return s.txs.ready.Load() && !s.txs.disabled.Load() }
