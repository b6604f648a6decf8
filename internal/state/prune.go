package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/crypto"
)

// Pruning: what may be deleted, and why it is safe.
//
// A pruned tree keeps every height from Oldest() to Height() readable and
// provable; heights below Oldest() answer *PrunedError. Nodes are
// content-addressed, so one stored node can belong to many heights, and a
// node that stopped being part of the tree can come back later (a key set
// back to a value it had, and with it every internal node above it whose
// subtree is again exactly what it was). Deleting a node is therefore
// decided by when it was superseded, plus a record of rebirths:
//
//	's' 'o' height(8)  -> hash(32)...                 the nodes that left the tree at height
//	's' 'z' hash(32)   -> height(8)                   node hash re-entered the tree at height (its latest rebirth)
//	's' 'w' height(8)  -> (len(4, BE) key)...         the keys written at height
//	's' 'm' "track"             -> height(8)   the height from which the records above are kept
//	's' 'm' "oldest"            -> height(8)   Oldest()
//
// Stage writes an orphan record ('o') listing the nodes an update replaces.
// Before an update's new nodes are written, Stage asks the database
// whether each new leaf is already stored; a stored one is a rebirth (its
// orphan records are still pending), and then every new internal node of
// the update is asked too. Each stored one gets a rebirth record ('z')
// with the update's height. Asking only the leaves first is enough: an
// internal node comes back only if its whole subtree is again what it was
// when it left (keys are never removed, so only values can have changed
// and changed back), so some new leaf below it is one of the leaves that
// subtree held when the internal node left at height s; that leaf left the
// tree at s or later, and Prune deletes whole heights in ascending order,
// so if the internal node is still stored, so is that leaf.
//
// Prune takes the orphan records of heights s <= Oldest() in order, whole
// heights at a time. A node hash N orphaned at s was not part of the tree at s; it is part of a
// retained tree again only if it was reborn after s. So N is deleted,
// with its rebirth record, exactly when it has no rebirth record or its
// latest rebirth is before s; otherwise only the orphan record goes (a
// later orphan record of N, if N left again, decides). N still in the
// current tree has been reborn after its last orphaning, so it is never
// deleted. A node deleted and created once more later is simply new.
//
// The rebirth check reads the database, so a Stage and the commit of its
// batch must not interleave with the write of Prune's batch: the caller
// holds one lock around each (package ledger's writeMu), and Prune spares
// the nodes reborn while it was reading (see Prune). Prune's own writes
// need no sync: Pebble's log is one
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
// tracking has started it stays on (the "track" record), because a rebirth
// missed while it was off could get a live node deleted.

// Keys of the pruning records; see above.
const (
	prefixOrphan  = 'o'
	prefixWritten = 'w'
	prefixReborn  = 'z'
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
		v := make([]byte, 0, len(u.removed)*crypto.HashSize)
		for _, h := range u.removed {
			v = append(v, h[:]...)
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
	reborn := false
	for pass := 0; pass < 2; pass++ {
		for _, nn := range u.nodes {
			// First pass: the leaves; second (only after a rebirth): the
			// internal nodes.
			if nn.n.isLeaf() != (pass == 0) {
				continue
			}
			_, closer, err := s.db.Get(nodeKey(nn.hash))
			if errors.Is(err, pebble.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("state: stage height %d: rebirth check: %w", u.height, err)
			}
			_ = closer.Close()
			reborn = true
			if err := b.Set(rebornKey(nn.hash), binary.BigEndian.AppendUint64(nil, u.height), nil); err != nil {
				return fmt.Errorf("state: stage height %d: rebirth record: %w", u.height, err)
			}
			s.noteReborn(nn.hash)
		}
		if !reborn {
			break
		}
	}
	return nil
}

// noteReborn tells a Prune in progress about a rebirth it may not have
// read (see Prune).
func (s *Tree) noteReborn(h crypto.Hash) {
	s.rebornMu.Lock()
	defer s.rebornMu.Unlock()
	if s.rebornSince != nil {
		s.rebornSince[h] = true
	}
}

func heightKey(prefix byte, height uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixState, prefix}, height)
}

func rebornKey(n crypto.Hash) []byte {
	return append([]byte{prefixState, prefixReborn}, n[:]...)
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
// commits each block (nil: the caller commits nothing meanwhile). A block
// committed while Prune was reading may have brought back a node Prune
// chose to delete; Stage reports every rebirth to a Prune in progress,
// and Prune spares those nodes (their rebirth records keep them from then
// on), so a commit waits for one batch write at most.
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

	s.rebornMu.Lock()
	s.rebornSince = map[crypto.Hash]bool{}
	s.rebornMu.Unlock()
	defer func() {
		s.rebornMu.Lock()
		s.rebornSince = nil
		s.rebornMu.Unlock()
	}()

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
	s.rebornMu.Lock()
	reborn := s.rebornSince
	s.rebornMu.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	if raised {
		if err := b.Set(keyOldest, binary.BigEndian.AppendUint64(nil, oldest), nil); err != nil {
			return res, fmt.Errorf("state: prune: %w", err)
		}
	}
	for _, d := range plan.nodes {
		if reborn[d.hash] {
			continue // brought back while we read: its rebirth record keeps it
		}
		if err := b.Delete(nodeKey(d.hash), nil); err != nil {
			return res, fmt.Errorf("state: prune: %w", err)
		}
		if d.marker {
			if err := b.Delete(rebornKey(d.hash), nil); err != nil {
				return res, fmt.Errorf("state: prune: %w", err)
			}
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
	nodes           []plannedNode
	keys            [][]byte // records, history versions and roots
	versions, roots int
}

type plannedNode struct {
	hash   crypto.Hash
	marker bool // also delete its (outdated) rebirth record
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
		if len(k) != 2+8 || len(v)%crypto.HashSize != 0 {
			return false, fmt.Errorf("state: prune nodes: malformed orphan record %x", k)
		}
		h := binary.BigEndian.Uint64(k[2:])
		for off := 0; off < len(v); off += crypto.HashSize {
			var n crypto.Hash
			copy(n[:], v[off:])
			z, err := readU64(s.db, rebornKey(n))
			switch {
			case errors.Is(err, pebble.ErrNotFound):
				plan.nodes = append(plan.nodes, plannedNode{hash: n})
			case err != nil:
				return false, fmt.Errorf("state: prune node %s: %w", n, err)
			case z < h:
				plan.nodes = append(plan.nodes, plannedNode{hash: n, marker: true})
			default:
				// Reborn after it left at h: part of a later tree.
			}
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
			kp := historyKeyPrefix(key)
			vs, err := s.db.NewIter(&pebble.IterOptions{LowerBound: kp, UpperBound: binary.BigEndian.AppendUint64(kp, h)})
			if err != nil {
				return false, fmt.Errorf("state: prune history: %w", err)
			}
			for ok := vs.First(); ok; ok = vs.Next() {
				plan.keys = append(plan.keys, bytes.Clone(vs.Key()))
				plan.versions++
				*budget--
			}
			if err := vs.Close(); err != nil {
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
// whole history (rollbacks are rare and offline). Rebirth records stay:
// one that names a height above `to` only makes Prune keep a node longer.
// The caller reopens the Tree after committing b.
func (s *Tree) StageRollback(b *pebble.Batch, to uint64) error {
	if err := s.checkHeight(to); err != nil {
		return fmt.Errorf("state: rollback: %w", err)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState, prefixHistory}, UpperBound: []byte{prefixState, prefixHistory + 1}})
	if err != nil {
		return fmt.Errorf("state: rollback: %w", err)
	}
	defer it.Close()
	var curKey, keep []byte // the key being scanned, and its last value at or below `to`
	hasKeep, touched := false, false
	flush := func() error {
		if curKey == nil || !touched {
			return nil
		}
		if hasKeep {
			return b.Set(latestKey(curKey), keep, nil)
		}
		return b.Delete(latestKey(curKey), nil)
	}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < 2+4+12 {
			return fmt.Errorf("state: rollback: malformed history key %x", k)
		}
		n := binary.BigEndian.Uint32(k[2:])
		if uint64(len(k)) != 2+4+uint64(n)+12 {
			return fmt.Errorf("state: rollback: malformed history key %x", k)
		}
		key := k[6 : 6+n]
		if curKey == nil || string(key) != string(curKey) {
			if err := flush(); err != nil {
				return fmt.Errorf("state: rollback: %w", err)
			}
			curKey, keep, hasKeep, touched = append([]byte(nil), key...), nil, false, false
		}
		if binary.BigEndian.Uint64(k[6+n:]) <= to {
			keep, hasKeep = append(keep[:0], it.Value()...), true
			continue
		}
		touched = true
		if err := b.Delete(k, nil); err != nil {
			return fmt.Errorf("state: rollback: %w", err)
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("state: rollback: %w", err)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("state: rollback: %w", err)
	}
	for _, p := range [][2][]byte{
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
