package node

import (
	"io"
	"log/slog"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/p2p"
	"github.com/cairn-db/cairn/types"
)

// followerOf is a follower Node (no engine, no mempool) on a fresh ledger
// of v's chain.
func followerOf(t *testing.T, v *Node) *Node {
	t.Helper()
	l, err := ledger.Open(ledger.Options{Dir: t.TempDir(), CacheBytes: 8 << 20}, v.genesis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	n := &Node{cfg: Config{Role: RoleFollower}, log: slog.New(slog.NewTextHandler(io.Discard, nil)), key: gossipKey(3),
		genesis: v.genesis, vals: v.vals, self: -1, ledger: l, m: newMetrics()}
	n.follow = newFollowState(n.key.Public(), n.m)
	return n
}

// A follower applies a certified block that continues its head, and
// nothing else: consensus messages are not heard (it never votes, even
// when a validator sends it a proposal or a vote), a block whose
// certificate does not verify is dropped, and one from a key that is not a
// validator's is ignored.
func TestFollowerAppliesOnlyCertifiedBlocks(t *testing.T) {
	v := testNode(t)
	b1 := commitEmpty(t, v)
	_, cert, _, err := v.ledger.Block(1)
	if err != nil {
		t.Fatal(err)
	}
	f := followerOf(t, v)
	from := gossipKey(2).Public() // a validator
	msg := func(from crypto.PublicKey, ch byte, m consensus.Message) p2p.Message {
		return p2p.Message{From: from, Channel: ch, Payload: consensus.Encode(m)}
	}
	vote := types.SignVote(gossipKey(2), v.genesis.ChainID, types.Prevote, 1, 0, b1.Hash(), uint16(v.vals.IndexOf(from)))
	forged := *cert
	forged.Sigs = append([]types.CommitSig(nil), cert.Sigs...)
	forged.Sigs[0].Signature[0] ^= 1
	for _, m := range []p2p.Message{
		msg(from, chConsensus, &consensus.VoteMessage{Vote: vote}),
		msg(from, chConsensus, &consensus.BlockResponse{Block: b1, Cert: cert}), // wrong channel
		msg(gossipKey(9).Public(), chSync, &consensus.BlockResponse{Block: b1, Cert: cert}),
		msg(from, chSync, &consensus.BlockResponse{Block: b1, Cert: &forged}),
	} {
		if err := f.onFollowed(m); err != nil {
			t.Fatal(err)
		}
		if h := f.ledger.Head().Height; h != 0 {
			t.Fatalf("the follower applied a block it must not have: head %d", h)
		}
	}
	if err := f.onFollowed(msg(from, chSync, &consensus.BlockResponse{Block: b1, Cert: cert})); err != nil {
		t.Fatal(err)
	}
	if head := f.ledger.Head(); head.Height != 1 || head.Hash != b1.Hash() || head.StateRoot != b1.Header.StateRoot {
		t.Fatalf("follower head %+v, want block 1", head)
	}
	if pos := f.position.Load(); pos == nil || pos.Height != 2 || pos.Step != "follow" {
		t.Fatalf("position %+v", pos)
	}
}
