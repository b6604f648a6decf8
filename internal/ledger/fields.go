package ledger

import (
	"fmt"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// Payment-field steps the chain takes by itself at the start of a block
// (internal/execute/fields.go): they are no transaction, so they have no
// receipt; FieldSteps recovers them from the state for the search index.
const (
	FieldStepExpired = "expired" // no close by the expiry: closing at state 0
	FieldStepSettled = "settled" // the deadline passed: balances paid out
)

// FieldStep is one field's step at a height.
type FieldStep struct {
	Field crypto.Hash
	Kind  string
}

// FieldSteps returns the steps taken at the start of the block at height,
// in the order the chain took them.
func (l *Ledger) FieldSteps(height uint64) ([]FieldStep, error) {
	if height == 0 {
		return nil, nil
	}
	raw, ok, err := l.state.GetAt(types.FieldDueKey(height), height-1)
	if err != nil || !ok || len(raw) == 0 {
		return nil, err
	}
	ids, err := types.DecodeFieldIDs(raw)
	if err != nil {
		return nil, fmt.Errorf("fields due at %d: %w", height, err)
	}
	var out []FieldStep
	for _, id := range ids {
		v, ok, err := l.state.GetAt(types.FieldKey(id), height)
		if err != nil {
			return nil, fmt.Errorf("field %s at %d: %w", id, height, err)
		}
		if !ok {
			continue
		}
		f, err := types.DecodeField(v)
		if err != nil {
			return nil, fmt.Errorf("field %s at %d: %w", id, height, err)
		}
		switch {
		case f.Status == types.FieldSettledStatus && f.SettledAt == height:
			out = append(out, FieldStep{Field: id, Kind: FieldStepSettled})
		case f.Pending != nil && f.Pending.Kind == types.CloseExpiry && f.Pending.Height == height:
			out = append(out, FieldStep{Field: id, Kind: FieldStepExpired})
		}
	}
	return out, nil
}
