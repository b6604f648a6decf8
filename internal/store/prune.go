package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

var keyBodies = []byte{pMeta, 'b', 'o', 'd', 'i', 'e', 's'}

// PrunedError is the answer for a read of something kept only from the
// oldest height on.
type PrunedError struct {
	What   string // "block body", "state"
	Height uint64 // the height asked for
	Oldest uint64 // the oldest height that still has it
}

func (e *PrunedError) Error() string {
	return fmt.Sprintf("%s of height %d is pruned: the oldest height with a %s is %d", e.What, e.Height, e.What, e.Oldest)
}

// LoadRetention reads the oldest body height (PruneBodies) from the database.
func (s *Store) LoadRetention() error {
	v, _, err := s.getHeight(keyBodies, "body retention")
	if err != nil {
		return err
	}
	s.oldest.Store(v)
	return nil
}

// getHeight reads the 8-byte big-endian number at k; found is false (and
// the number 0) when k is absent.
func (s *Store) getHeight(k []byte, what string) (v uint64, found bool, err error) {
	b, err := s.get(k)
	switch {
	case errors.Is(err, ErrNotFound):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("read %s: %w", what, err)
	case len(b) != 8:
		return 0, false, fmt.Errorf("read %s: corrupt value of %d bytes", what, len(b))
	}
	return binary.BigEndian.Uint64(b), true, nil
}

// OldestBody returns the oldest height whose body (transactions, receipts)
// is kept; 0 when nothing was pruned.
func (s *Store) OldestBody() uint64 { return s.oldest.Load() }

func (s *Store) checkBody(height uint64) error {
	if o := s.oldest.Load(); height < o {
		return &PrunedError{What: "block body", Height: height, Oldest: o}
	}
	return nil
}

// PruneBodies raises the oldest body height to oldest (never lowers it;
// reads below it answer *PrunedError from then on) and deletes up to
// maxTxs transactions' records (hash, receipt and bytes) below it; their
// hash index records stay. It returns whether more remain. Its batch is not
// synced: Pebble's next synced commit makes it durable, and a lost one is
// done again.
func (s *Store) PruneBodies(oldest uint64, maxTxs int) (deleted int, more bool, err error) {
	if maxTxs <= 0 {
		return 0, false, fmt.Errorf("prune bodies: batch size %d must be positive", maxTxs)
	}
	b := s.db.NewBatch()
	defer b.Close()
	if oldest > s.oldest.Load() {
		s.oldest.Store(oldest)
		if err := b.Set(keyBodies, u64(oldest), nil); err != nil {
			return 0, false, fmt.Errorf("prune bodies: %w", err)
		}
	}
	oldest = s.oldest.Load()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pTxRecord}, UpperBound: key(pTxRecord, u64(oldest))})
	if err != nil {
		return 0, false, fmt.Errorf("prune bodies: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if deleted >= maxTxs {
			more = true
			break
		}
		k := it.Key()
		if len(k) != 1+12 {
			return deleted, false, fmt.Errorf("prune bodies: malformed tx record key %x", k)
		}
		if err := b.Delete(k, nil); err != nil {
			return deleted, false, fmt.Errorf("prune bodies: %w", err)
		}
		deleted++
	}
	if err := it.Error(); err != nil {
		return deleted, false, fmt.Errorf("prune bodies: %w", err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return deleted, false, fmt.Errorf("prune bodies: %w", err)
	}
	return deleted, more, nil
}

// StageRemoveBlock puts into b the deletion of everything StageBlock wrote
// for height, except the account index (StageRemoveAccountIndex) and the
// committed height (StageHeight). Evidence stays: misbehaviour seen is
// still misbehaviour.
func (s *Store) StageRemoveBlock(b *pebble.Batch, height uint64) error {
	hdr, err := s.Header(height)
	if err != nil {
		return err
	}
	hs, err := s.TxHashes(height)
	if err != nil {
		return err
	}
	hash := hdr.Hash()
	for _, k := range [][]byte{key(pHeader, u64(height)), key(pByHash, hash[:]), key(pCert, u64(height)), key(pLastCommit, u64(height))} {
		if err := b.Delete(k, nil); err != nil {
			return fmt.Errorf("remove block %d: %w", height, err)
		}
	}
	for i, th := range hs {
		loc := hi(height, uint32(i))
		v, err := s.get(key(pTx, th[:]))
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("remove block %d: %w", height, err)
		}
		// Only the first inclusion owns the hash index record.
		if err == nil && string(v) == string(loc) {
			if err := b.Delete(key(pTx, th[:]), nil); err != nil {
				return fmt.Errorf("remove block %d: %w", height, err)
			}
		}
		if err := b.Delete(key(pTxRecord, loc), nil); err != nil {
			return fmt.Errorf("remove block %d: %w", height, err)
		}
	}
	return nil
}

// StageRemoveAccountIndex puts into b the deletion of every account index
// entry above height (a scan of the whole index: rollbacks are rare).
func (s *Store) StageRemoveAccountIndex(b *pebble.Batch, height uint64) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pAccount}, UpperBound: []byte{pAccount + 1}})
	if err != nil {
		return fmt.Errorf("account index: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 1+20+12 {
			return fmt.Errorf("account index: corrupt key %x", k)
		}
		if binary.BigEndian.Uint64(k[21:]) > height {
			if err := b.Delete(k, nil); err != nil {
				return fmt.Errorf("account index: %w", err)
			}
		}
	}
	return it.Error()
}

// StageHeight puts the committed height into b.
func (s *Store) StageHeight(b *pebble.Batch, height uint64) error {
	return b.Set(keyHeight, u64(height), nil)
}
