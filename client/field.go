package client

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/smt"
	"github.com/cairn-db/cairn/types"
)

// FieldState is GET /v1/fields/{id}: a payment field's state entry at
// Height (members and deposits, status, pending close, penalties, final
// balances once settled), its next deadline, and a state proof of the entry
// against the certified header at Height.
type FieldState struct {
	ID     crypto.Hash  `json:"id"`
	Height uint64       `json:"height"`
	Field  *types.Field `json:"field"`
	// TotalDeposits is what the members locked.
	TotalDeposits uint64 `json:"total_deposits"`
	// Deadline is the last height for challenges and disputes of the
	// pending close, or the field's expiry while it is open; 0 once settled.
	Deadline    uint64        `json:"deadline"`
	StateKeyHex string        `json:"state_key_hex"`
	ValueHex    string        `json:"value_hex"`
	Proof       *smt.Proof    `json:"proof"`
	ProofHex    string        `json:"proof_hex"`
	HeaderHex   string        `json:"header_hex"`
	Header      *types.Header `json:"header"`
	Certificate *Certificate  `json:"certificate"`
}

// Verify checks the field state end to end with nothing but chainID and the
// validator set: a certified header, and the state proof leading from the
// field's entry (value_hex, which must decode to Field) to its state root.
func (f *FieldState) Verify(chainID string, vals *types.ValidatorSet) error {
	value, err := verifyStateEntry(chainID, vals, f.Height, types.FieldKey(f.ID), f.StateKeyHex, f.ValueHex, f.Proof, f.ProofHex, f.HeaderHex, f.Header, f.Certificate, true)
	if err != nil {
		return fmt.Errorf("field %s: %w", f.ID, err)
	}
	e, err := types.DecodeField(value)
	if err != nil {
		return fmt.Errorf("field %s: %w", f.ID, verifyErr("value: %v", err))
	}
	if f.Field == nil || !bytes.Equal(f.Field.Encode(), e.Encode()) {
		return fmt.Errorf("field %s: %w", f.ID, verifyErr("decoded field differs from value_hex"))
	}
	if e.FieldID != f.ID {
		return fmt.Errorf("field %s: %w", f.ID, verifyErr("value_hex is field %s", e.FieldID))
	}
	// total_deposits and deadline are convenience copies: they must be what
	// the proven entry says.
	if f.TotalDeposits != e.Total() || f.Deadline != e.Deadline() {
		return fmt.Errorf("field %s: %w", f.ID, verifyErr("total_deposits %d / deadline %d differ from the entry's %d / %d",
			f.TotalDeposits, f.Deadline, e.Total(), e.Deadline()))
	}
	return nil
}

// Field returns a payment field's state with its proof at height (0:
// latest). An unknown field is an *Error with status 404. Call Verify
// before trusting it.
func (c *Client) Field(ctx context.Context, id crypto.Hash, height uint64) (*FieldState, error) {
	var f FieldState
	if _, err := c.do(ctx, http.MethodGet, "/v1/fields/"+id.String(), heightQuery(height), nil, &f); err != nil {
		return nil, err
	}
	return &f, nil
}
