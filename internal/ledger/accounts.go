package ledger

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/store"
	"github.com/cairn-db/cairn/types"
)

// AccountIndexMode says whether a ledger keeps the account index
// (internal/store accounts.go), which only serves account listings.
type AccountIndexMode uint8

const (
	// AccountIndexAsStored keeps doing what the store did: tools that open
	// a node's data (verify, backup, rollback) change nothing. A new store
	// keeps the index.
	AccountIndexAsStored AccountIndexMode = iota
	// AccountIndexOn keeps the index, and builds it for the blocks
	// committed while it was off, newest first, beside the node's work.
	AccountIndexOn
	// AccountIndexOff stops keeping it: validators, whose compactions
	// would otherwise rewrite it ever more as the chain grows.
	AccountIndexOff
)

// backfillTxs bounds the transactions one backfill batch indexes.
const backfillTxs = 20_000

// AccountIndex reports the lowest height from which the account index is
// complete (1: every block; store.AccountIndexOff: not kept) and whether
// entries below it are still to come: the backfill runs, or it stopped on
// an error and resumes when the ledger is opened again.
func (l *Ledger) AccountIndex() (from uint64, building bool) {
	return l.store.AccountIndexFrom(), l.acctBuilding.Load()
}

// openAccountIndex applies mode to the store's mark at Open and, when the
// index is on but incomplete, starts building it. It runs before any
// commit.
func (l *Ledger) openAccountIndex(mode AccountIndexMode, step bool, log *slog.Logger) error {
	if err := l.store.LoadAccountIndexMark(); err != nil {
		return fmt.Errorf("open ledger: %w", err)
	}
	from := l.store.AccountIndexFrom()
	mark := from
	switch {
	case mode == AccountIndexOff:
		mark = store.AccountIndexOff
	case mode == AccountIndexOn && from == store.AccountIndexOff:
		// Complete from the next block on; the blocks before are built
		// downwards by the backfill.
		mark = l.Head().Height + 1
	}
	if mark != from {
		b := l.db.NewBatch()
		defer b.Close()
		if err := store.StageAccountIndexFrom(b, mark); err != nil {
			return fmt.Errorf("open ledger: account index: %w", err)
		}
		if err := b.Commit(pebble.Sync); err != nil {
			return fmt.Errorf("open ledger: account index: %w", err)
		}
		l.store.AccountIndexMarked(mark)
	}
	l.acctDone = make(chan struct{})
	if mode != AccountIndexOn || step || l.store.AccountIndexFrom() <= 1 {
		close(l.acctDone)
		return nil
	}
	l.acctBuilding.Store(true)
	go func() {
		defer close(l.acctDone)
		for {
			select {
			case <-l.stopFilter:
				return
			default:
			}
			done, err := l.backfillAccounts(backfillTxs)
			if err != nil {
				// Still incomplete below the mark: listings keep ending
				// there until a restart resumes the build.
				if log != nil {
					log.Error("account index: indexing older blocks stopped until the node restarts", "complete_from", l.store.AccountIndexFrom(), "err", err)
				}
				return
			}
			if done {
				l.acctBuilding.Store(false)
				return
			}
		}
	}()
	return nil
}

// involvedAccounts lists, per transaction, the addresses the account index
// records for it.
func involvedAccounts(txs []*types.Tx) [][]crypto.Address {
	out := make([][]crypto.Address, len(txs))
	for i, tx := range txs {
		out[i] = execute.Involved(tx)
	}
	return out
}

// backfillAccounts indexes the blocks just below the account index's mark,
// newest first, up to about maxTxs transactions, and lowers the mark to
// the lowest block indexed, in one batch. It reports done when nothing is
// left to index: the first block is indexed, or the next one down has no
// body here (pruned, or below a state-synced ledger's snapshot), so that
// listings end there as for any pruned block.
func (l *Ledger) backfillAccounts(maxTxs int) (done bool, err error) {
	from := l.store.AccountIndexFrom()
	if from <= 1 || from == store.AccountIndexOff {
		return true, nil
	}
	// Blocks below the mark do not change under the read (a rollback
	// lowers the mark first, and the batch is dropped when it moved).
	b := l.db.NewBatch()
	defer b.Close()
	h, n := from-1, 0
	bottom := false
	for ; h >= 1 && n < maxTxs; h-- {
		blk, err := l.store.Block(h)
		var pruned *store.PrunedError
		if errors.Is(err, store.ErrNotFound) || errors.As(err, &pruned) {
			bottom = true
			break
		}
		if err != nil {
			return false, fmt.Errorf("account index of height %d: %w", h, err)
		}
		if err := store.StageAccountIndex(b, h, involvedAccounts(blk.Txs)); err != nil {
			return false, err
		}
		n += len(blk.Txs)
	}
	mark := h + 1
	if h == 0 {
		bottom = true
		mark = 1
	}
	if mark == from {
		return bottom, nil
	}
	if err := store.StageAccountIndexFrom(b, mark); err != nil {
		return false, err
	}
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	if l.store.AccountIndexFrom() != from {
		return false, nil // a rollback moved the mark: start again from it
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return false, fmt.Errorf("account index down to height %d: %w", mark, err)
	}
	l.store.AccountIndexMarked(mark)
	return bottom, nil
}
