package consensus

import (
	"testing"

	"github.com/cairn-db/cairn/types"
)

// A node whose key is outside the height's set follows without voting;
// SetValidators between heights (after a commit) gives it the next
// height's set, from which it votes; the set cannot change mid-height.
func TestSetValidatorsBetweenHeights(t *testing.T) {
	h := newHarness(t, 4, testCut())
	c := h.config(0)
	c.Key = testKey(4) // a fifth key: not in the set of height 1
	e, err := New(c, StartPoint{})
	if err != nil {
		t.Fatal(err)
	}
	e.Start(0)
	if e.Voting() {
		t.Fatal("a key outside the set votes")
	}
	p := proposalFor(h, 0, 1)
	if vs := votesOf(e.Step(10, Receive{From: h.vs.Proposer(1, 0), Msg: p})); len(vs) != 0 {
		t.Fatalf("a non-member voted: %+v", vs)
	}
	five := append(append([]types.Validator(nil), h.vs.Validators...), types.Validator{Name: "v4", PublicKey: testKey(4).Public(), Power: 1})
	vs5, err := types.NewValidatorSet(five)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetValidators(vs5); err == nil {
		t.Fatal("the set changed in the middle of a height")
	}
	// A quorum's precommits decide height 1; the follower commits it.
	var rd Ready
	for i := 0; i < 3; i++ {
		v := types.SignVote(h.keys[i], testChain, types.Precommit, 1, 0, p.BlockHash(), uint16(i))
		rd = e.Step(20, Receive{From: i, Msg: &VoteMessage{Vote: v}})
	}
	if len(rd.Commits) != 1 || e.Height() != 2 {
		t.Fatalf("no commit of height 1 (height %d)", e.Height())
	}
	if err := e.SetValidators(vs5); err != nil {
		t.Fatal(err)
	}
	if !e.Voting() || e.Validators().Hash() != vs5.Hash() {
		t.Fatal("the fifth validator does not vote at the height whose set includes it")
	}
	// Setting the same set again is a no-op, also mid-height.
	e.Step(30, TxsAvailable{})
	if err := e.SetValidators(vs5); err != nil {
		t.Fatal(err)
	}
}
