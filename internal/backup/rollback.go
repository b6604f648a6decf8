package backup

import (
	"fmt"

	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/node"
	"github.com/cairn-db/cairn/internal/signguard"
	"github.com/cairn-db/cairn/types"
)

// RollbackResult says what Rollback did.
type RollbackResult struct {
	From       uint64 `json:"from"`
	To         uint64 `json:"to"`
	LastSigned uint64 `json:"last_signed_height"`
	SignFloor  uint64 `json:"sign_floor,omitempty"`
}

// SignedError refuses a rollback below what the validator signed.
type SignedError struct{ To, LastSigned uint64 }

func (e *SignedError) Error() string {
	return fmt.Sprintf("refusing to roll back to height %d: this validator signed at height %d (its consensus WAL), and after a rollback it could sign a different block at the heights in between. "+
		"With --force it rolls back and withholds its signatures up to height %d, catching up over those heights from its peers' certificates", e.To, e.LastSigned, e.LastSigned)
}

// Rollback returns the stopped node in home to height to: its ledger
// (ledger.Rollback) and, with force when it signed above to, a signing
// floor at its last signed height.
func Rollback(home string, to uint64, force bool) (*RollbackResult, error) {
	cfg, err := node.LoadConfig(home)
	if err != nil {
		return nil, err
	}
	signed, err := LastSigned(node.WALPath(cfg))
	if err != nil {
		return nil, err
	}
	if signed > to && !force {
		return nil, &SignedError{To: to, LastSigned: signed}
	}
	g, err := types.LoadGenesis(cfg.Path(cfg.Genesis))
	if err != nil {
		return nil, err
	}
	l, err := ledger.Open(ledger.Options{Dir: node.LedgerDir(cfg), CacheBytes: 16 << 20}, g)
	if err != nil {
		return nil, fmt.Errorf("%w (is the node still running? stop it first)", err)
	}
	res := &RollbackResult{To: to, LastSigned: signed}
	if signed > to {
		// The floor goes in first: if the rollback then fails, the node
		// only sits out heights it signed anyway.
		if err := signguard.Raise(cfg.Path(cfg.DataDir), signguard.Floor{Height: signed, Reason: fmt.Sprintf("rolled back to %d with --force", to)}); err != nil {
			l.Close()
			return nil, err
		}
		res.SignFloor = signed
	}
	res.From, err = l.Rollback(to)
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}
