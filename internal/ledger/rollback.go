package ledger

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/internal/store"
)

// Checkpoint writes a consistent copy of the ledger's database into dir
// (which must not exist) while the ledger keeps committing: Pebble links
// or copies the files of one point in its sequence, and every height is
// one batch, so the copy holds whole heights only.
func (l *Ledger) Checkpoint(dir string) error {
	if err := l.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("checkpoint ledger to %s: %w", dir, err)
	}
	return nil
}

// Rollback removes the blocks above height `to` and returns the state to
// what it was after `to`, in one synced batch, on a ledger no node is
// running. It refuses a height whose state or the bodies above which are
// pruned (the bodies name the transactions whose records must go).
// Search indexes ahead of the ledger rebuild themselves; the tree nodes
// written above `to` are deleted with the rest (state.StageRollback).
func (l *Ledger) Rollback(to uint64) (from uint64, err error) {
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	head := l.Head()
	kept := l.Retained()
	switch {
	case to >= head.Height:
		return head.Height, fmt.Errorf("rollback to %d: the head is at %d, nothing to remove", to, head.Height)
	case to < kept.StateFrom:
		return head.Height, fmt.Errorf("rollback to %d: state below height %d is pruned", to, kept.StateFrom)
	case to+1 < kept.BodiesFrom:
		return head.Height, fmt.Errorf("rollback to %d: block bodies below height %d are pruned", to, kept.BodiesFrom)
	}
	b := l.db.NewBatch()
	defer b.Close()
	for h := to + 1; h <= head.Height; h++ {
		if err := l.store.StageRemoveBlock(b, h); err != nil {
			return head.Height, fmt.Errorf("rollback: %w", err)
		}
	}
	if err := l.store.StageRemoveAccountIndex(b, to); err != nil {
		return head.Height, fmt.Errorf("rollback: %w", err)
	}
	if err := l.store.StageHeight(b, to); err != nil {
		return head.Height, fmt.Errorf("rollback: %w", err)
	}
	// An account index still being built below its mark is complete from
	// the rolled-back head's next block at most.
	acctFrom := l.store.AccountIndexFrom()
	if acctFrom != store.AccountIndexOff && acctFrom > to+1 {
		acctFrom = to + 1
		if err := store.StageAccountIndexFrom(b, acctFrom); err != nil {
			return head.Height, fmt.Errorf("rollback: %w", err)
		}
	}
	if err := l.state.StageRollback(b, to); err != nil {
		return head.Height, fmt.Errorf("rollback: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return head.Height, fmt.Errorf("rollback: %w", err)
	}
	l.store.AccountIndexMarked(acctFrom)
	// Latest values were rewritten behind the tree; the ledger is to be
	// reopened, but nothing read before then may come from the cache.
	l.state.DropLatestCache()
	return head.Height, nil // the ledger is reopened after a rollback, which reloads the sets
}
