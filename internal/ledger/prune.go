package ledger

import (
	"errors"
	"fmt"

	"github.com/cairn-db/cairn/internal/state"
	"github.com/cairn-db/cairn/internal/store"
)

// Retention is how much history a ledger keeps. Headers and certificates
// are always kept, so the chain stays verifiable from genesis.
type Retention struct {
	// StateHeights keeps the state (values, history, proofs) of the last
	// StateHeights heights; 0 keeps every height (an archive node).
	StateHeights uint64
	// BodyHeights keeps the transactions and receipts of the last
	// BodyHeights heights; 0 keeps every block body.
	BodyHeights uint64
}

// Archive reports whether r keeps everything.
func (r Retention) Archive() bool { return r.StateHeights == 0 && r.BodyHeights == 0 }

// Retained describes what a ledger holds: state from StateFrom, bodies
// from BodiesFrom, headers and certificates from 1, all up to the head.
type Retained struct {
	StateFrom  uint64 `json:"state_from"`
	BodiesFrom uint64 `json:"bodies_from"`
}

// Retained returns the oldest heights with state and with bodies.
func (l *Ledger) Retained() Retained {
	return Retained{StateFrom: l.state.Oldest(), BodiesFrom: l.store.OldestBody()}
}

// PruneStats counts what one PruneStep deleted.
type PruneStats struct {
	Nodes, Versions, Roots, Bodies int
	More                           bool // more remains below the oldest heights
}

// PruneStep moves the oldest heights up to what r keeps at the current
// head and deletes at most about maxRecords records that only older
// heights needed (see internal/state's prune.go for why deletion is
// safe). Call it again while More is set, from one
// goroutine. It reads without locks and holds the ledger's write lock only
// to write its state batch, so a commit waits for one batch write at most.
func (l *Ledger) PruneStep(r Retention, maxRecords int) (PruneStats, error) {
	var st PruneStats
	head := l.Head().Height
	if r.StateHeights > 0 {
		if !l.state.Tracking() {
			return st, errors.New("prune: the ledger keeps no pruning records (open it with Prunable)")
		}
		oldest := uint64(0)
		if head+1 > r.StateHeights {
			oldest = head + 1 - r.StateHeights
		}
		res, err := l.state.Prune(oldest, maxRecords, &l.writeMu)
		if err != nil {
			return st, fmt.Errorf("prune state: %w", err)
		}
		st.Nodes, st.Versions, st.Roots, st.More = res.Nodes, res.Versions, res.Roots, res.More
	}
	if r.BodyHeights > 0 {
		oldest := uint64(1)
		if head+1 > r.BodyHeights {
			oldest = head + 1 - r.BodyHeights
		}
		n, more, err := l.store.PruneBodies(oldest, maxRecords)
		if err != nil {
			return st, err
		}
		st.Bodies, st.More = n, st.More || more
	}
	return st, nil
}

// HeightPruned reports whether err is the answer for a read below what
// this ledger keeps, and the oldest height that still has it.
func HeightPruned(err error) (oldest uint64, ok bool) {
	var se *state.PrunedError
	if errors.As(err, &se) {
		return se.Oldest, true
	}
	var be *store.PrunedError
	if errors.As(err, &be) {
		return be.Oldest, true
	}
	var ue *UnavailableError // a ledger that joined from a snapshot
	if errors.As(err, &ue) {
		return ue.Oldest, true
	}
	return 0, false
}
