package node

import (
	"testing"
	"time"

	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/ledger"
)

// A proposer cannot freeze chain time in the future: block time never goes
// backwards, so one block stamped far ahead would hold every later block
// at that time. A block more than ledger.MaxClockDrift ahead of this
// validator's clock is not valid here; one within the drift is.
func TestProposalTimeBoundedByLocalClock(t *testing.T) {
	n := testNode(t)
	prop := n.vals.Validators[n.vals.Proposer(1, 0)].PublicKey
	now := time.Now()
	future := now.Add(time.Hour).UnixMilli()
	b, _, err := n.ledger.Propose(nil, 0, future, prop, execute.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.ValidateBlock(b); err == nil {
		t.Fatalf("a block stamped an hour ahead (drift bound %v) was valid", ledger.MaxClockDrift)
	}
	near, _, err := n.ledger.Propose(nil, 0, now.Add(ledger.MaxClockDrift/2).UnixMilli(), prop, execute.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.ValidateBlock(near); err != nil {
		t.Fatalf("a block within the drift bound was refused: %v", err)
	}
}
