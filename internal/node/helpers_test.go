package node

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/mempool"
	"github.com/cairn-db/cairn/internal/p2p"
	"github.com/cairn-db/cairn/types"
)

// testNode is a Node with a real ledger and mempool for a two-validator
// chain whose keys are gossipKey(1) and gossipKey(2), and no engine,
// transport or API: enough for the paths that only read or record.
func testNode(t *testing.T) *Node { return testNodeWith(t, nil) }

// testNodeWith is testNode on a genesis edit changed (nil: none).
func testNodeWith(t *testing.T, edit func(g *types.Genesis)) *Node {
	t.Helper()
	g := &types.Genesis{ChainID: "gossip-test", GenesisTime: 1_700_000_000_000, Params: types.DefaultParams()}
	for i := byte(1); i <= 2; i++ {
		g.Validators = append(g.Validators, types.Validator{Name: string('a' + rune(i-1)), PublicKey: gossipKey(i).Public(), Power: 1})
	}
	if edit != nil {
		edit(g)
	}
	l, err := ledger.Open(ledger.Options{Dir: t.TempDir(), CacheBytes: 8 << 20}, g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	vals, err := g.ValidatorSet()
	if err != nil {
		t.Fatal(err)
	}
	pool, err := mempool.New(mempool.DefaultConfig(g.ChainID, g.Params), l)
	if err != nil {
		t.Fatal(err)
	}
	self := vals.IndexOf(gossipKey(1).Public())
	n := &Node{log: slog.New(slog.NewTextHandler(io.Discard, nil)), key: gossipKey(1), genesis: g, vals: vals, self: self,
		ledger: l, pool: pool, m: newMetrics(), prepared: map[crypto.Hash]*ledger.Prepared{}}
	n.server = newBlockServer(n.m)
	n.evidenceQ = make(chan p2p.Message, maxEvidenceQueue)
	n.evidenceGate = evidenceGate{counts: make([]int, vals.Len())}
	// An engine for what apply reads (its position); tests step it only
	// where they say so.
	n.engine, err = consensus.New(consensus.Config{ChainID: g.ChainID, Validators: vals, Key: n.key, App: n,
		Cut:      consensus.CutPolicy{MaxTxs: g.Params.MaxBlockTxs, MaxBytes: g.Params.MaxBlockBytes},
		Timeouts: consensus.DefaultTimeouts()}, consensus.StartPoint{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// keyOf returns the private key of validator i of the test node's set.
func keyOf(n *Node, i int) *crypto.PrivateKey {
	for _, k := range []*crypto.PrivateKey{gossipKey(1), gossipKey(2)} {
		if k.Public() == n.vals.Validators[i].PublicKey {
			return k
		}
	}
	panic("no such validator")
}

// commitEmpty commits an empty block at the next height, certified by both
// validators.
func commitEmpty(t *testing.T, n *Node) *types.Block {
	t.Helper()
	h := n.ledger.Head().Height + 1
	prop := n.vals.Validators[n.vals.Proposer(h, 0)].PublicKey
	b, p, err := n.ledger.Propose(nil, 0, time.Now().UnixMilli(), prop, execute.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var votes []types.Vote
	for i := 0; i < n.vals.Len(); i++ {
		votes = append(votes, types.SignVote(keyOf(n, i), n.genesis.ChainID, types.Precommit, h, 0, b.Hash(), uint16(i)))
	}
	if err := n.ledger.Commit(b, types.NewCertificate(h, 0, b.Hash(), votes), p); err != nil {
		t.Fatal(err)
	}
	return b
}
