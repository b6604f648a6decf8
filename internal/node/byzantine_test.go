package node

import (
	"errors"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/types"
)

// The "unauthorized" mode turns an own proposal into one whose block also
// carries a put by UnauthorizedSender, with roots execution would give were
// it allowed; an honest validator of a chain that limits kv.put to writers
// refuses that block for the permission alone and counts the refusal.
func TestUnauthorizedModeProposesABlockHonestNodesRefuse(t *testing.T) {
	closed := func(g *types.Genesis) {
		g.Params.Permissions = types.OpenPermissions()
		g.Params.Permissions["kv.put"] = []string{"writers"}
		g.Roles = []types.Role{{Name: "writers", Members: []crypto.Address{gossipKey(2).Public().Address()}}}
	}
	byz, honest := testNodeWith(t, closed), testNodeWith(t, closed)
	byz.cfg.Byzantine = "unauthorized"

	prop := byz.vals.Validators[byz.vals.Proposer(1, 0)].PublicKey
	blk, p, err := byz.ledger.Propose(nil, 0, time.Now().UnixMilli(), prop, execute.Options{})
	if err != nil {
		t.Fatal(err)
	}
	byz.prepared[blk.Hash()] = p
	vote := &consensus.VoteMessage{Vote: types.SignVote(byz.key, byz.genesis.ChainID, types.Prevote, 1, 0, blk.Hash(), uint16(byz.self))}
	in := []consensus.Outbound{
		{To: consensus.Broadcast, Msg: consensus.SignProposal(byz.key, byz.genesis.ChainID, 1, 0, -1, blk)},
		{To: consensus.Broadcast, Msg: vote},
	}
	out := byz.misbehave(in)
	if len(out) != 2 || out[1].Msg != vote {
		t.Fatalf("misbehave gave %d messages; the vote must pass unchanged", len(out))
	}
	m, ok := out[0].Msg.(*consensus.Proposal)
	if !ok || m.Block.Hash() == blk.Hash() || len(m.Block.Txs) != 1 {
		t.Fatalf("the proposal was not replaced by one with the extra tx: %+v", out[0].Msg)
	}
	bad, err := UnauthorizedSender()
	if err != nil {
		t.Fatal(err)
	}
	if m.Block.Txs[0].Sender != bad.Public() || m.Block.Header.Proposer != prop {
		t.Fatalf("block tx from %s, proposer %s", m.Block.Txs[0].Sender, m.Block.Header.Proposer)
	}

	err = honest.ValidateBlock(m.Block)
	var inv *execute.InvalidTxError
	if !errors.As(err, &inv) || inv.Err.Code != types.CodeUnauthorized {
		t.Fatalf("honest validation: %v, want tx 0 unauthorized", err)
	}
	var c dto.Metric
	if err := honest.m.refused.Write(&c); err != nil || c.GetCounter().GetValue() != 1 {
		t.Fatalf("refused proposals counted %v (%v), want 1", c.GetCounter().GetValue(), err)
	}
	// Its roots are right: with the rule skipped, the block is valid.
	if _, err := honest.ledger.Validate(m.Block, execute.Options{SkipAuthorize: true}); err != nil {
		t.Fatalf("the block's only fault must be the permission: %v", err)
	}
}
