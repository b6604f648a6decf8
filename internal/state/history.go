package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/cockroachdb/pebble/v2"
)

// Versions and latest values (storage format 4).
//
//	's' 'l' key                                          -> height(8) value
//	's' 'h' epoch(8) len(key)(4) key height(8) seq(4)    -> prev(8) value
//
// A latest record holds the key's value and the height of the write that
// set it. A history entry is one write: the seq-th write of the block at
// height, and prev, one more than the height of the key's last write at a
// lower height (0: none), so each key's versions form a chain from its
// latest record back to its first write, whatever lies between them.
//
// Epochs. History keys start with the epoch of their height: the height
// that started the epoch, which stays the current one until its entries
// reach Options.HistoryEpochBytes (at a block boundary). Within an epoch
// the entries are ordered by key, which is spread over the key space; but
// each epoch's entries land after every older epoch's, so Pebble's
// compactions merge a block's history into the current epoch only, and
// move older epochs down the levels instead of rewriting them. Keyed by
// key alone, every compaction out of L0 rewrote a share of the whole
// history, which grew with the chain (BenchmarkLedgerWriteAmp,
// docs/operations.md "Pebble options").
//
// Reads. The value at height h is the latest value when its write is at or
// below h, which answers the reads at the last committed height (execution
// reads its state as of the height before the block) from the latest
// record alone. Otherwise it is the newest entry at or below h in h's
// epoch, or, when the key was not written there, the one the key's first
// write above h names as its prev. Listings newest first follow the chain
// from epoch to epoch; listings oldest first visit the epochs from the
// first height asked for up to the key's latest write.
//
// Epoch boundaries are this node's own (a restart, a state-sync load and
// the block sizes decide them): nothing consensus-visible depends on them.
// A Tree finds the epochs when it opens, one seek per epoch.

// DefaultHistoryEpochBytes is the size of the history written under one
// epoch when Options.HistoryEpochBytes is zero: about the share of history
// in a few memtables of blocks of transfers, so that the compactions that
// merge into the current epoch stay small, and a chain of a billion
// transfers' history has a few thousand epochs.
const DefaultHistoryEpochBytes = 64 << 20

const latestHeaderSize = 8

// appendLatestRecord appends key's latest record: the height of its write
// and the value.
func appendLatestRecord(dst []byte, height uint64, value []byte) []byte {
	return append(binary.BigEndian.AppendUint64(dst, height), value...)
}

// appendHistoryValue appends a history entry's stored value: prev (one
// more than the height of the key's write before this height, 0: none) and
// the value.
func appendHistoryValue(dst []byte, prev uint64, value []byte) []byte {
	return append(binary.BigEndian.AppendUint64(dst, prev), value...)
}

// splitLatestRecord returns the write height and value of a latest record.
func splitLatestRecord(key, rec []byte) (uint64, []byte, error) {
	if len(rec) < latestHeaderSize {
		return 0, nil, fmt.Errorf("state: latest value of %x: malformed %d-byte record", key, len(rec))
	}
	return binary.BigEndian.Uint64(rec), rec[latestHeaderSize:], nil
}

// historyKeyPrefix is 's' 'h' epoch len(key) key: the prefix of key's
// versions in one epoch. The length makes one key's prefix never a prefix
// of another's.
func historyKeyPrefix(epoch uint64, key []byte) []byte {
	k := make([]byte, 0, 2+8+4+len(key)+12)
	k = append(k, prefixState, prefixHistory)
	k = binary.BigEndian.AppendUint64(k, epoch)
	k = binary.BigEndian.AppendUint32(k, uint32(len(key)))
	return append(k, key...)
}

func appendHistoryKey(dst []byte, epoch uint64, key []byte, height uint64, seq uint32) []byte {
	dst = append(dst, prefixState, prefixHistory)
	dst = binary.BigEndian.AppendUint64(dst, epoch)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(key)))
	dst = append(dst, key...)
	dst = binary.BigEndian.AppendUint64(dst, height)
	return binary.BigEndian.AppendUint32(dst, seq)
}

// parseHistoryKey splits a history key into its epoch, key, height and seq.
func parseHistoryKey(k []byte) (epoch uint64, key []byte, height uint64, seq uint32, err error) {
	if len(k) < 2+8+4+12 {
		return 0, nil, 0, 0, fmt.Errorf("state: malformed history key %x", k)
	}
	n := binary.BigEndian.Uint32(k[10:])
	if uint64(len(k)) != 2+8+4+uint64(n)+12 {
		return 0, nil, 0, 0, fmt.Errorf("state: malformed history key %x", k)
	}
	key = k[14 : 14+n]
	return binary.BigEndian.Uint64(k[2:]), key, binary.BigEndian.Uint64(k[14+n:]), binary.BigEndian.Uint32(k[22+n:]), nil
}

// entry is one decoded history entry.
type entry struct {
	Version
	prev uint64 // one more than the height of the key's write before this height; 0: none
}

// decodeEntry decodes the entry under k (whose first plen bytes are its
// key's prefix in its epoch) with stored value v; the value is copied.
func decodeEntry(k, v []byte, plen int) (entry, error) {
	if len(k) != plen+12 || len(v) < 8 {
		return entry{}, fmt.Errorf("state: malformed history entry %x", k)
	}
	return entry{
		Version: Version{
			Height: binary.BigEndian.Uint64(k[plen:]),
			Seq:    binary.BigEndian.Uint32(k[plen+8:]),
			Value:  cloneValue(v[8:]),
		},
		prev: binary.BigEndian.Uint64(v),
	}, nil
}

// epochList returns the known epochs, ascending. Only Stage adds to it,
// and it replaces the slice rather than changing it.
func (s *Tree) epochList() []uint64 {
	if p := s.epochs.Load(); p != nil {
		return *p
	}
	return nil
}

// epochIndex returns the index in list of the epoch holding height h (the
// last that starts at or below h), or -1 when every epoch starts above h.
func epochIndex(list []uint64, h uint64) int {
	return sort.Search(len(list), func(i int) bool { return list[i] > h }) - 1
}

// loadEpochs finds the epochs of the stored history: one seek per epoch.
// An epoch whose entries are all gone (rolled back or pruned) is not
// found, which changes no answer: it holds nothing.
func (s *Tree) loadEpochs() error {
	lower := []byte{prefixState, prefixHistory}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: []byte{prefixState, prefixHistory + 1}})
	if err != nil {
		return fmt.Errorf("state: open: history epochs: %w", err)
	}
	defer it.Close()
	var list []uint64
	for ok := it.First(); ok; {
		k := it.Key()
		if len(k) < 2+8 {
			return fmt.Errorf("state: open: malformed history key %x", k)
		}
		e := binary.BigEndian.Uint64(k[2:])
		list = append(list, e)
		if e == math.MaxUint64 {
			break
		}
		ok = it.SeekGE(binary.BigEndian.AppendUint64([]byte{prefixState, prefixHistory}, e+1))
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("state: open: history epochs: %w", err)
	}
	s.epochs.Store(&list)
	return nil
}

// stageEpoch returns the epoch the history of height goes under, starting
// a new one when the current one is full. A new epoch is published before
// the batch that writes it commits, so that a reader that sees a latest
// record of that height also knows its epoch; an epoch that holds nothing
// yet changes no read of the heights below it. Writer goroutine only.
func (s *Tree) stageEpoch(height uint64, bytes int) uint64 {
	list := s.epochList()
	n := len(list)
	if n > 0 && (list[n-1] == height || (list[n-1] < height && s.epochBytes < s.epochLimit)) {
		s.epochBytes += bytes
		return list[n-1]
	}
	next := append(slices.Clip(list), height)
	s.epochs.Store(&next)
	s.epochBytes = bytes
	return height
}

// latestRecord returns key's latest record, a copy, from the cache or
// Pebble. fill says whether a Pebble read fills the cache: listings and
// the writer's own lookups leave it to the reads that recur.
func (s *Tree) latestRecord(key []byte, fill bool) ([]byte, bool, error) {
	if v, ok, hit := s.latest.get(key); hit {
		return v, ok, nil
	}
	gen := s.latest.generation()
	v, closer, err := s.db.Get(latestKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		if fill {
			s.latest.fill(key, nil, false, gen)
		}
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("state: get %x: %w", key, err)
	}
	defer closer.Close()
	if fill {
		s.latest.fill(key, v, true, gen)
	}
	return cloneValue(v), true, nil
}

// latestWriteHeight returns the height of key's latest write, if it has
// one, without filling the latest-value cache.
func (s *Tree) latestWriteHeight(key []byte) (uint64, bool, error) {
	if h, ok, hit := s.latest.writeHeight(key); hit {
		return h, ok, nil
	}
	rec, ok, err := s.latestRecord(key, false)
	if err != nil || !ok {
		return 0, false, err
	}
	h, _, err := splitLatestRecord(key, rec)
	return h, err == nil, err
}

// valueAt returns key's version as of the end of height h (at most the
// last committed height).
func (s *Tree) valueAt(key []byte, h uint64) (Version, bool, error) {
	rec, ok, err := s.latestRecord(key, true)
	if err != nil || !ok {
		return Version{}, false, err
	}
	wh, v, err := splitLatestRecord(key, rec)
	if err != nil {
		return Version{}, false, err
	}
	if wh <= h {
		return Version{Height: wh, Value: v}, true, nil
	}
	e, ok, err := s.entryAt(key, h, wh)
	return e.Version, ok, err
}

// entryAt returns key's newest history entry at or below height h, given
// above, the height of one of its writes above h.
func (s *Tree) entryAt(key []byte, h, above uint64) (entry, bool, error) {
	list := s.epochList()
	i := epochIndex(list, h)
	if i < 0 {
		return entry{}, false, nil
	}
	if e, ok, err := s.edgeEntry(list[i], key, h, true); err != nil || ok {
		return e, ok, err
	}
	// Not written in h's epoch at or below h: the first write above h
	// names the write before it.
	for j := i; j < len(list) && list[j] <= above; j++ {
		from := uint64(0)
		if j == i {
			from = h + 1
		}
		x, ok, err := s.edgeEntry(list[j], key, from, false)
		if err != nil {
			return entry{}, false, err
		}
		if !ok {
			continue
		}
		if x.prev == 0 {
			return entry{}, false, nil
		}
		p := x.prev - 1
		k := epochIndex(list, p)
		if k < 0 {
			return entry{}, false, fmt.Errorf("state: history of %x: the version at %d is missing", key, p)
		}
		e, ok, err := s.edgeEntry(list[k], key, p, true)
		if err == nil && (!ok || e.Height != p) {
			err = fmt.Errorf("state: history of %x: the version at %d is missing", key, p)
		}
		return e, err == nil, err
	}
	return entry{}, false, fmt.Errorf("state: history of %x: no version above %d, though its latest value was written at %d", key, h, above)
}

// edgeEntry returns, within one epoch, key's newest entry at or below h
// (atOrBelow) or its oldest at or above h.
func (s *Tree) edgeEntry(epoch uint64, key []byte, h uint64, atOrBelow bool) (entry, bool, error) {
	kp := historyKeyPrefix(epoch, key)
	opts := &pebble.IterOptions{LowerBound: kp, UpperBound: prefixEnd(kp)}
	if atOrBelow && h < math.MaxUint64 {
		opts.UpperBound = binary.BigEndian.AppendUint64(slices.Clip(kp), h+1)
	}
	if !atOrBelow {
		opts.LowerBound = binary.BigEndian.AppendUint64(slices.Clip(kp), h)
	}
	it, err := s.db.NewIter(opts)
	if err != nil {
		return entry{}, false, fmt.Errorf("state: history of %x: %w", key, err)
	}
	defer it.Close()
	ok := it.First()
	if atOrBelow {
		ok = it.Last()
	}
	if !ok {
		if err := it.Error(); err != nil {
			return entry{}, false, fmt.Errorf("state: history of %x: %w", key, err)
		}
		return entry{}, false, nil
	}
	e, err := decodeEntry(it.Key(), it.Value(), len(kp))
	return e, err == nil, err
}

// scanEpoch appends to out up to limit-len(out) of key's entries in one
// epoch, from lower (a height and seq after the key's prefix; nil: the
// first) up to height, oldest or newest first. It returns the prev of the
// last entry it appended.
func (s *Tree) scanEpoch(out []Version, epoch uint64, key, lower []byte, height uint64, newestFirst bool, limit int) ([]Version, uint64, error) {
	kp := historyKeyPrefix(epoch, key)
	opts := &pebble.IterOptions{LowerBound: append(slices.Clip(kp), lower...), UpperBound: prefixEnd(kp)}
	if height < math.MaxUint64 {
		opts.UpperBound = binary.BigEndian.AppendUint64(slices.Clip(kp), height+1)
	}
	it, err := s.db.NewIter(opts)
	if err != nil {
		return out, 0, fmt.Errorf("state: history of %x: %w", key, err)
	}
	defer it.Close()
	first, next := it.First, it.Next
	if newestFirst {
		first, next = it.Last, it.Prev
	}
	var prev uint64
	for ok := first(); ok && len(out) < limit; ok = next() {
		e, err := decodeEntry(it.Key(), it.Value(), len(kp))
		if err != nil {
			return out, 0, err
		}
		out, prev = append(out, e.Version), e.prev
	}
	if err := it.Error(); err != nil {
		return out, 0, fmt.Errorf("state: history of %x: %w", key, err)
	}
	return out, prev, nil
}

// versionsFrom reads up to limit versions of key from (fromHeight,
// fromSeq) up to height, oldest first: the epochs from fromHeight's up to
// the one of the key's latest write, in order.
func (s *Tree) versionsFrom(key []byte, fromHeight uint64, fromSeq uint32, height uint64, limit int) ([]Version, error) {
	wh, ok, err := s.latestWriteHeight(key)
	if err != nil || !ok {
		return nil, err
	}
	top := min(wh, height)
	if fromHeight > top {
		return nil, nil
	}
	list := s.epochList()
	i := epochIndex(list, fromHeight)
	from := binary.BigEndian.AppendUint64(nil, fromHeight)
	from = binary.BigEndian.AppendUint32(from, fromSeq)
	if i < 0 {
		i, from = 0, nil
	}
	var out []Version
	for j := i; j < len(list) && list[j] <= top && len(out) < limit; j++ {
		lower := from
		if j > i {
			lower = nil
		}
		if out, _, err = s.scanEpoch(out, list[j], key, lower, height, false, limit); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// versionsNewest reads up to limit versions of key written at or below h,
// newest first, following the chain from one epoch to the one before.
func (s *Tree) versionsNewest(key []byte, h uint64, limit int) ([]Version, error) {
	wh, ok, err := s.latestWriteHeight(key)
	if err != nil || !ok {
		return nil, err
	}
	top := wh
	if wh > h {
		e, ok, err := s.entryAt(key, h, wh)
		if err != nil || !ok {
			return nil, err
		}
		top = e.Height
	}
	list := s.epochList()
	var out []Version
	for len(out) < limit {
		i := epochIndex(list, top)
		if i < 0 {
			break
		}
		n := len(out)
		var prev uint64
		if out, prev, err = s.scanEpoch(out, list[i], key, nil, top, true, limit); err != nil {
			return nil, err
		}
		// Nothing there: the versions below were pruned.
		if len(out) == n || prev == 0 {
			break
		}
		top = prev - 1
	}
	return out, nil
}

// stageRollbackHistory puts into b the deletion of every history entry
// above height to and, for each key written above it, its latest record
// as of to (or its deletion, for a key first written above to). Only the
// epochs from to's on can hold such entries.
func (s *Tree) stageRollbackHistory(b *pebble.Batch, to uint64) error {
	lower := []byte{prefixState, prefixHistory}
	list := s.epochList()
	if i := epochIndex(list, to); i >= 0 {
		lower = binary.BigEndian.AppendUint64(lower, list[i])
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: []byte{prefixState, prefixHistory + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	seen := map[string]bool{}
	var keys [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		_, key, height, _, err := parseHistoryKey(it.Key())
		if err != nil {
			return err
		}
		if height <= to {
			continue
		}
		if err := b.Delete(it.Key(), nil); err != nil {
			return err
		}
		if !seen[string(key)] {
			seen[string(key)] = true
			keys = append(keys, bytes.Clone(key))
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	slices.SortFunc(keys, bytes.Compare)
	for _, key := range keys {
		v, ok, err := s.valueAt(key, to)
		if err != nil {
			return err
		}
		if !ok {
			if err := b.Delete(latestKey(key), nil); err != nil {
				return err
			}
			continue
		}
		if err := b.Set(latestKey(key), appendLatestRecord(nil, v.Height, v.Value), nil); err != nil {
			return err
		}
	}
	return nil
}

// planVersionsBelow adds to plan the entries of key below height h, the
// height of one of its writes: the chain from h's entry back to the first
// entry already gone.
func (s *Tree) planVersionsBelow(plan *prunePlan, key []byte, h uint64, budget *int) error {
	list := s.epochList()
	i := epochIndex(list, h)
	if i < 0 {
		return nil
	}
	e, ok, err := s.edgeEntry(list[i], key, h, true)
	if err != nil || !ok || e.Height != h {
		return err
	}
	for p := e.prev; p != 0; {
		ph := p - 1
		i := epochIndex(list, ph)
		if i < 0 {
			return nil
		}
		kp := historyKeyPrefix(list[i], key)
		lo := binary.BigEndian.AppendUint64(slices.Clip(kp), ph)
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: binary.BigEndian.AppendUint64(slices.Clip(kp), ph+1)})
		if err != nil {
			return err
		}
		p = 0
		for ok := it.First(); ok; ok = it.Next() {
			e, err := decodeEntry(it.Key(), it.Value(), len(kp))
			if err != nil {
				it.Close()
				return err
			}
			plan.keys = append(plan.keys, bytes.Clone(it.Key()))
			plan.versions++
			*budget--
			p = e.prev
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	return nil
}
