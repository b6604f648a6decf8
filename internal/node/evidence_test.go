package node

import (
	"testing"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/internal/p2p"
	"github.com/cairn-db/cairn/types"
)

func dupVote(n *Node, typ types.VoteType, height uint64, round uint32, v int) consensus.DuplicateVote {
	k := keyOf(n, v)
	a := types.SignVote(k, n.genesis.ChainID, typ, height, round, crypto.Sum([]byte("a")), uint16(v))
	b := types.SignVote(k, n.genesis.ChainID, typ, height, round, crypto.Sum([]byte("b")), uint16(v))
	return consensus.DuplicateVote{A: a, B: b}
}

// Evidence is keyed by (height, round, type, validator): a validator that
// double-signs both its prevote and its precommit of one round leaves two
// records, not one overwriting the other.
func TestEvidenceKeyedByType(t *testing.T) {
	n := testNode(t)
	for _, ev := range []consensus.DuplicateVote{
		dupVote(n, types.Prevote, 3, 1, 1), dupVote(n, types.Precommit, 3, 1, 1),
		dupVote(n, types.Precommit, 3, 1, 1), // the same again
	} {
		n.recordEvidence(&ev)
	}
	raw, err := n.ledger.Store().Evidence(10)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 2 {
		t.Fatalf("stored %d evidence records, want 2 (prevote and precommit)", len(raw))
	}
}

func conflictingProposal(n *Node, height uint64, round uint32) *consensus.ConflictingProposal {
	v := n.vals.Proposer(height, round)
	k := keyOf(n, v)
	c := &consensus.ConflictingProposal{Validator: uint16(v)}
	for i, p := range []*consensus.SignedProposal{&c.A, &c.B} {
		*p = consensus.SignedProposal{Height: height, Round: round, POLRound: -1, BlockHash: crypto.Sum([]byte{byte(i)})}
		p.Signature = k.SignRaw(p.SignBytes(n.genesis.ChainID))
	}
	return c
}

// Evidence is gossiped: what the engine reports goes to the peers, and
// what a peer sends is verified, stored once and forwarded; forgeries and
// oversized messages are refused.
func TestEvidenceGossip(t *testing.T) {
	n := testNode(t)
	a, b := transportPair(t, 1<<20)
	n.net = a
	peer := gossipKey(2).Public()
	recv := func() consensus.Evidence {
		t.Helper()
		select {
		case m := <-b.Receive():
			if m.Channel != chEvidence {
				t.Fatalf("message on channel %d", m.Channel)
			}
			ev, err := consensus.DecodeEvidence(m.Payload)
			if err != nil {
				t.Fatal(err)
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no evidence gossiped")
		}
		return nil
	}

	own := dupVote(n, types.Prevote, 1, 0, 1)
	n.recordEvidence(&own)
	if got := recv(); got.Key() != own.Key() {
		t.Fatalf("gossiped %+v, want %+v", got.Key(), own.Key())
	}

	deliver := func(payload []byte) {
		if err := n.onMessage(p2p.Message{From: peer, Channel: chEvidence, Payload: payload}); err != nil {
			t.Fatal(err)
		}
		n.admitEvidence(<-n.evidenceQ) // the evidence worker's step
	}
	cp := conflictingProposal(n, 2, 1)
	deliver(cp.Encode())
	if has, err := n.ledger.Store().HasEvidence(storeKey(cp.Key())); err != nil || !has {
		t.Fatalf("gossiped proposal evidence not stored (%v)", err)
	}
	if got := recv(); got.Key() != cp.Key() {
		t.Fatal("new evidence from a peer was not forwarded")
	}
	deliver(cp.Encode()) // again: held already, not stored or forwarded twice

	forged := conflictingProposal(n, 3, 0)
	forged.B.Signature[0] ^= 1
	deliver(forged.Encode())
	if has, _ := n.ledger.Store().HasEvidence(storeKey(forged.Key())); has {
		t.Fatal("forged evidence stored")
	}
	deliver(make([]byte, consensus.MaxEvidenceEncoding+1))

	raw, err := n.ledger.Store().Evidence(10)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 2 {
		t.Fatalf("stored %d pieces, want 2", len(raw))
	}
	for _, r := range raw {
		ev, err := consensus.DecodeEvidence(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := ev.Verify(n.genesis.ChainID, n.vals); err != nil {
			t.Fatal(err)
		}
	}
}

// A faulty validator signing conflicting messages in every round cannot
// fill a peer's disk: evidence per validator and height is capped.
func TestEvidencePerValidatorHeightIsCapped(t *testing.T) {
	n := testNode(t)
	for r := uint32(0); r < 3*maxEvidencePerValidatorHeight; r++ { // bounded
		ev := dupVote(n, types.Precommit, 1, r, 0)
		if _, err := n.storeEvidence(&ev); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := n.ledger.Store().Evidence(100)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != maxEvidencePerValidatorHeight {
		t.Fatalf("stored %d pieces for one validator and height, cap %d", len(raw), maxEvidencePerValidatorHeight)
	}
}
