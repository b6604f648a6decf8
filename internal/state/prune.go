package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// Pruning: what may be deleted, and why it is safe.
//
// A pruned tree keeps every height from Oldest() to Height() readable and
// provable; heights below Oldest() answer *PrunedError. A stored node is
// named by the version (height) that stored it and its position (node.go),
// so a node that leaves the tree is never stored again under the same key:
// when the same node comes back (a key set back to a value it had, and with
// it every internal node above it whose subtree is again exactly what it
// was), Prepare stores a new copy at the new height. A stored node is part
// of the trees from the height that stored it up to the height before the
// one that took it out, and of no later tree, because later trees only
// point at nodes of the tree before them or at new ones. So:
//
//	's' 'o' height(8)  -> (version(8) depth(2) path)...   the stored nodes that left the tree at height
//	's' 'w' height(8)  -> (len(4, BE) key)...             the keys written at height
//	's' 'm' "track"    -> height(8)   the height from which the records above are kept
//	's' 'm' "oldest"   -> height(8)   Oldest()
//
// Stage writes an orphan record ('o') listing the stored nodes an update
// takes out (each as its storage key without 's' 'n'). Prune takes the
// orphan records of heights s <= Oldest() in order, whole heights at a
// time, and deletes every node they list: a node that left at s is in no
// tree from s on. Nothing a later Stage writes can refer to those nodes,
// so Prune and Stage need no coordination for nodes; Prune still writes
// its batch under the caller's lock, so the "oldest" record and the
// deletions are ordered with the commits.
// Prune's own writes need no sync: Pebble's log is one
// sequence, so the next synced commit makes them durable too, and a lost
// Prune batch is simply done again.
//
// History: a write of key K at height h supersedes every version of K
// below h, which then serve no height >= h. Prune takes the written
// records ('w') of heights h <= Oldest() and deletes each K's versions below h;
// the version that was current at Oldest() is kept, whatever its height.
// Keys for which Options.KeepHistory answers true get no written record,
// so their whole history stays: the ledger keeps contract keys' history,
// which contracts read during execution (every node must answer alike).
//
// Roots below Oldest() are deleted. A tree whose records were not kept for
// a while (opened without Options.Track) can still be pruned from then on;
// nodes superseded before the records started are never deleted. Once
// tracking has started it stays on (the "track" record).

// Keys of the pruning records; see above.
const (
	prefixOrphan  = 'o'
	prefixWritten = 'w'
	prefixMeta    = 'm'
)

var (
	keyTrack  = []byte{prefixState, prefixMeta, 't', 'r', 'a', 'c', 'k'}
	keyOldest = []byte{prefixState, prefixMeta, 'o', 'l', 'd', 'e', 's', 't'}
)

// PrunedError is the answer for a read at a height whose state was pruned.
type PrunedError struct {
	Height uint64 // the height asked for
	Oldest uint64 // the oldest height whose state is kept
}

func (e *PrunedError) Error() string {
	return fmt.Sprintf("state at height %d is pruned: the oldest height with state is %d", e.Height, e.Oldest)
}

// Tracking reports whether pruning records are kept (see Options.Track).
func (s *Tree) Tracking() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tracking
}

// Oldest returns the oldest height whose state is kept (0 unless pruned).
func (s *Tree) Oldest() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.oldest
}

// loadPruning reads the tracking and oldest records and, with track set,
// starts tracking (synced) if it has not started.
func (s *Tree) loadPruning(track bool) error {
	_, err := readU64(s.db, keyTrack)
	switch {
	case err == nil:
		s.tracking = true
	case errors.Is(err, pebble.ErrNotFound):
		if track {
			from := uint64(0)
			if s.initialized {
				from = s.height + 1
			}
			if err := s.db.Set(keyTrack, binary.BigEndian.AppendUint64(nil, from), pebble.Sync); err != nil {
				return fmt.Errorf("state: start pruning records: %w", err)
			}
			s.tracking = true
		}
	default:
		return fmt.Errorf("state: open: %w", err)
	}
	o, err := readU64(s.db, keyOldest)
	switch {
	case err == nil:
		s.oldest = o
	case errors.Is(err, pebble.ErrNotFound):
	default:
		return fmt.Errorf("state: open: %w", err)
	}
	return nil
}

func readU64(db *pebble.DB, k []byte) (uint64, error) {
	v, closer, err := db.Get(k)
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("record %q is %d bytes, want 8", k, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// stageTracking puts an update's pruning records into b (see above): one
// orphan record and one written record per height, each holding the
// height's whole list, so tracking adds two keys to a commit's batch
// whatever the block's size.
func (s *Tree) stageTracking(b *pebble.Batch, u *Update) error {
	if len(u.removed) > 0 {
		v := make([]byte, 0, len(u.removed)*16)
		for _, r := range u.removed {
			v = appendNodeID(v, r.ver, r.pos)
		}
		if err := b.Set(heightKey(prefixOrphan, u.height), v, nil); err != nil {
			return fmt.Errorf("state: stage height %d: orphan record: %w", u.height, err)
		}
	}
	var written []byte
	for _, i := range u.last {
		k := u.writes[i].Key
		if s.keepHistory != nil && s.keepHistory(k) {
			continue
		}
		written = binary.BigEndian.AppendUint32(written, uint32(len(k)))
		written = append(written, k...)
	}
	if len(written) > 0 {
		if err := b.Set(heightKey(prefixWritten, u.height), written, nil); err != nil {
			return fmt.Errorf("state: stage height %d: written record: %w", u.height, err)
		}
	}
	return nil
}

func heightKey(prefix byte, height uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixState, prefix}, height)
}

// PruneResult says what one Prune call did.
type PruneResult struct {
	Nodes, Versions, Roots int  // records deleted
	More                   bool // records below Oldest() remain
}

// Prune raises Oldest() to oldest (never lowers it) and then deletes about
// maxRecords of what no height from Oldest() on needs: nodes, history
// versions and roots (see the comment at the top of this file). It takes
// whole heights, so a call may go past maxRecords by one height's records.
// Call it again while More is set; calls must not overlap.
//
// It reads and decides without holding writes, then takes it only to
// write its batch. writes is the lock under which the caller stages and
// commits each block (nil: the caller commits nothing meanwhile), so a
// commit waits for one batch write at most.
func (s *Tree) Prune(oldest uint64, maxRecords int, writes sync.Locker) (PruneResult, error) {
	var res PruneResult
	if maxRecords <= 0 {
		return res, fmt.Errorf("state: prune: batch size %d must be positive", maxRecords)
	}
	s.mu.Lock()
	if !s.tracking {
		s.mu.Unlock()
		return res, errors.New("state: prune: the tree keeps no pruning records (open it with Track)")
	}
	if !s.initialized || oldest > s.height {
		h := s.height
		s.mu.Unlock()
		return res, fmt.Errorf("state: prune to %d: last committed height is %d", oldest, h)
	}
	raised := oldest > s.oldest
	if raised {
		// Readers refuse the heights below before anything is deleted.
		s.oldest = oldest
	}
	oldest = s.oldest
	s.mu.Unlock()

	var plan prunePlan
	budget := maxRecords
	more, err := s.planNodes(&plan, oldest, &budget)
	if err != nil {
		return res, err
	}
	res.More = more
	for _, step := range []func(*prunePlan, uint64, *int) (bool, error){s.planHistory, s.planRoots} {
		if budget <= 0 {
			res.More = true
			break
		}
		more, err := step(&plan, oldest, &budget)
		if err != nil {
			return res, err
		}
		res.More = res.More || more
	}

	if writes != nil {
		writes.Lock()
		defer writes.Unlock()
	}
	b := s.db.NewBatch()
	defer b.Close()
	if raised {
		if err := b.Set(keyOldest, binary.BigEndian.AppendUint64(nil, oldest), nil); err != nil {
			return res, fmt.Errorf("state: prune: %w", err)
		}
	}
	for _, k := range plan.nodes {
		if err := b.Delete(k, nil); err != nil {
			return res, fmt.Errorf("state: prune: %w", err)
		}
		res.Nodes++
	}
	for _, k := range plan.keys {
		if err := b.Delete(k, nil); err != nil {
			return res, fmt.Errorf("state: prune: %w", err)
		}
	}
	res.Versions, res.Roots = plan.versions, plan.roots
	if err := b.Commit(pebble.NoSync); err != nil {
		return res, fmt.Errorf("state: prune: %w", err)
	}
	return res, nil
}

// prunePlan is what one Prune call deletes.
type prunePlan struct {
	nodes           [][]byte // node keys
	keys            [][]byte // records, history versions and roots
	versions, roots int
}

func (s *Tree) planNodes(plan *prunePlan, oldest uint64, budget *int) (bool, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState, prefixOrphan}, UpperBound: heightKey(prefixOrphan, oldest+1)})
	if err != nil {
		return false, fmt.Errorf("state: prune nodes: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if *budget <= 0 {
			return true, nil // whole heights only
		}
		k, v := it.Key(), it.Value()
		if len(k) != 2+8 {
			return false, fmt.Errorf("state: prune nodes: malformed orphan record %x", k)
		}
		for off := 0; off < len(v); {
			n := nodeIDLen(v[off:])
			if n < 0 {
				return false, fmt.Errorf("state: prune nodes: malformed orphan record %x", k)
			}
			plan.nodes = append(plan.nodes, append([]byte{prefixState, prefixNode}, v[off:off+n]...))
			off += n
			*budget--
		}
		plan.keys = append(plan.keys, bytes.Clone(k))
		*budget--
	}
	if err := it.Error(); err != nil {
		return false, fmt.Errorf("state: prune nodes: %w", err)
	}
	return false, nil
}

func (s *Tree) planHistory(plan *prunePlan, oldest uint64, budget *int) (bool, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState, prefixWritten}, UpperBound: heightKey(prefixWritten, oldest+1)})
	if err != nil {
		return false, fmt.Errorf("state: prune history: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if *budget <= 0 {
			return true, nil
		}
		k, v := it.Key(), it.Value()
		if len(k) != 2+8 {
			return false, fmt.Errorf("state: prune history: malformed written record %x", k)
		}
		h := binary.BigEndian.Uint64(k[2:])
		for off := 0; off < len(v); {
			if off+4 > len(v) || off+4+int(binary.BigEndian.Uint32(v[off:])) > len(v) {
				return false, fmt.Errorf("state: prune history: malformed written record %x", k)
			}
			key := v[off+4 : off+4+int(binary.BigEndian.Uint32(v[off:]))]
			off += 4 + len(key)
			if err := s.planVersionsBelow(plan, key, h, budget); err != nil {
				return false, fmt.Errorf("state: prune history of %x: %w", key, err)
			}
		}
		plan.keys = append(plan.keys, bytes.Clone(k))
		*budget--
	}
	if err := it.Error(); err != nil {
		return false, fmt.Errorf("state: prune history: %w", err)
	}
	return false, nil
}

func (s *Tree) planRoots(plan *prunePlan, oldest uint64, budget *int) (bool, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState, prefixRoot}, UpperBound: rootKey(oldest)})
	if err != nil {
		return false, fmt.Errorf("state: prune roots: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if *budget <= 0 {
			return true, nil
		}
		plan.keys = append(plan.keys, bytes.Clone(it.Key()))
		plan.roots++
		*budget--
	}
	if err := it.Error(); err != nil {
		return false, fmt.Errorf("state: prune roots: %w", err)
	}
	return false, nil
}

// prunedAt turns a read error at height h into a *PrunedError when h has
// been pruned meanwhile (a read that started just before Prune raised
// Oldest() may find a node or version already gone).
func (s *Tree) prunedAt(h uint64, err error) error {
	if err == nil {
		return nil
	}
	if o := s.Oldest(); h < o {
		return &PrunedError{Height: h, Oldest: o}
	}
	return err
}

// StageRollback puts into b what returns the tree to height `to` on a
// Tree no writer is using: every history version above it, the roots and
// the pruning records above it are deleted, and each key written above it
// gets back its value at `to` as its latest value (or none). It scans the
// history from the epoch of `to` on (rollbacks are rare and offline). The nodes stored above
// `to` are deleted too: they are one key range, since node keys start with
// the version. Nodes that left the tree above `to` are part of it again;
// their orphan records go with the heights above `to`.
// The caller reopens the Tree after committing b.
func (s *Tree) StageRollback(b *pebble.Batch, to uint64) error {
	if err := s.checkHeight(to); err != nil {
		return fmt.Errorf("state: rollback: %w", err)
	}
	if err := s.stageRollbackHistory(b, to); err != nil {
		return fmt.Errorf("state: rollback: %w", err)
	}
	for _, p := range [][2][]byte{
		{binary.BigEndian.AppendUint64([]byte{prefixState, prefixNode}, to+1), []byte{prefixState, prefixNode + 1}},
		{rootKey(to + 1), []byte{prefixState, prefixRoot + 1}},
		{heightKey(prefixOrphan, to+1), []byte{prefixState, prefixOrphan + 1}},
		{heightKey(prefixWritten, to+1), []byte{prefixState, prefixWritten + 1}},
	} {
		if err := b.DeleteRange(p[0], p[1], nil); err != nil {
			return fmt.Errorf("state: rollback: %w", err)
		}
	}
	return nil
}
