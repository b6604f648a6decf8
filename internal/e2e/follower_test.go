package e2e

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/node"
	"github.com/cairn-db/cairn/types"
)

// genesisVals is the validator set the test trusts, read from genesis.
func (tn *testnet) genesisVals() *types.ValidatorSet {
	tn.t.Helper()
	g, err := types.LoadGenesis(tn.dir + "/genesis.json")
	if err != nil {
		tn.t.Fatal(err)
	}
	vs, err := g.ValidatorSet()
	if err != nil {
		tn.t.Fatal(err)
	}
	return vs
}

// A follower serves the whole read API from its own replica, every answer
// verifiable against the genesis validator set; validators send searches
// to it and it sends writes to them.
func TestFollowerServesReadsAndSearch(t *testing.T) {
	tn := startNetWith(t, 4, 1, nil)
	const f = 4 // the follower's index
	vals := tn.genesisVals()
	alice := newKeys(t, 1)[0]
	tn.fund([]*crypto.PrivateKey{alice}, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	put := client.NewTx(tn.net.ChainID, alice, 1, &types.KVPut{Key: "city", Value: "Lyon"})
	res, err := tn.clients[1].SubmitWait(ctx, put, 30*time.Second)
	if err != nil || res.Receipt == nil || !res.Receipt.OK {
		t.Fatalf("put: %+v %v", res, err)
	}
	tn.waitCommitted(f, []crypto.Hash{put.Hash()}, 30*time.Second)
	fc := tn.clients[f]

	// Read at the put's height: a tx can be visible in the store a moment
	// before the head that includes it is (ledger.Commit).
	kp, err := fc.KVProof(ctx, "city", res.Height)
	if err != nil || !kp.Found || kp.Entry.Value != "Lyon" {
		t.Fatalf("kv proof from the follower: %+v %v", kp, err)
	}
	if err := kp.Verify(tn.net.ChainID, vals); err != nil {
		t.Fatalf("the follower's kv proof does not verify: %v", err)
	}
	ap, err := fc.AccountProof(ctx, alice.Public().Address(), res.Height)
	if err != nil {
		t.Fatal(err)
	}
	if err := ap.Verify(tn.net.ChainID, vals); err != nil || ap.Nonce != 1 {
		t.Fatalf("account proof: %+v %v", ap, err)
	}
	tp, err := fc.TxProof(ctx, put.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Verify(tn.net.ChainID, vals); err != nil {
		t.Fatalf("tx proof: %v", err)
	}
	b, err := fc.Block(ctx, res.Height)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Verify(tn.net.ChainID, vals); err != nil {
		t.Fatalf("block from the follower: %v", err)
	}
	var sr *client.SearchResult
	eventually(t, 30*time.Second, "the follower's index has the put", func() bool {
		sr, err = fc.Search(ctx, client.SearchRequest{Query: "type:kv.put AND key:city", Prove: true})
		return err == nil && sr.Total == 1
	})
	if err := sr.Verify(tn.net.ChainID, vals); err != nil {
		t.Fatalf("search hits from the follower: %v", err)
	}
	es, err := fc.Events(ctx, client.EventOptions{From: 1})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := es.Next()
	es.Close()
	if err != nil || ev.Height != 1 {
		t.Fatalf("event stream from the follower: %+v %v", ev, err)
	}

	// The follower lists alice's transactions: her funding, then the put.
	at, err := fc.AccountTxs(ctx, alice.Public().Address(), "", 10)
	if err != nil || len(at.Txs) != 2 || at.Txs[0].Hash != put.Hash() || at.Txs[1].Type != "transfer" {
		t.Fatalf("alice's transactions from the follower: %+v %v", at, err)
	}

	// Validators do not index: they name the follower, for search and
	// for account listings.
	_, err = tn.clients[0].Search(ctx, client.SearchRequest{Query: "city"})
	if ask := client.WrongNode(err); !slices.Equal(ask, []string{tn.net.Followers[0].API}) {
		t.Fatalf("search on a validator: %v (ask %v)", err, ask)
	}
	_, err = tn.clients[2].AccountTxs(ctx, alice.Public().Address(), "", 10)
	if ask := client.WrongNode(err); !slices.Equal(ask, []string{tn.net.Followers[0].API}) {
		t.Fatalf("account listing on a validator: %v (ask %v)", err, ask)
	}
	// The follower takes no writes: it names the validators, and the
	// transaction goes nowhere.
	next := client.NewTx(tn.net.ChainID, alice, 2, &types.KVPut{Key: "city", Value: "Nantes"})
	_, err = fc.Submit(ctx, next)
	if ask := client.WrongNode(err); len(ask) != 4 || ask[0] != tn.net.Nodes[0].API {
		t.Fatalf("submit to the follower: %v (ask %v)", err, ask)
	}
	time.Sleep(500 * time.Millisecond)
	if st, err := tn.clients[0].Tx(ctx, next.Hash()); err == nil && st.Status != "unknown" {
		t.Fatalf("a transaction refused by the follower reached a validator: %+v", st)
	}
	st, err := fc.Status(ctx)
	if err != nil || !st.SearchEnabled || !st.AccountsIndexed || st.AccountsIndexedFrom != 1 || st.Height < res.Height {
		t.Fatalf("follower status: %+v %v", st, err)
	}
	vst, err := tn.clients[0].Status(ctx)
	if err != nil || vst.SearchEnabled || vst.AccountsIndexed {
		t.Fatalf("validator status: %+v %v", vst, err)
	}
	if !slices.ContainsFunc(vst.Peers, func(p client.Peer) bool { return p.Name == "follower0" && p.Connected }) {
		t.Fatalf("validator does not list the follower as connected: %+v", vst.Peers)
	}
}

// A follower keeps up with a loaded chain, the validators keep committing
// while it is down (killed with SIGKILL), and on restart it catches up by
// block sync to the same chain, every acknowledged transaction included,
// its index too.
func TestFollowerRecoversAfterKillAndCatchesUp(t *testing.T) {
	tn := startNetWith(t, 4, 1, nil)
	const f = 4
	senders := newKeys(t, 8)
	tn.fund(senders, 1_000_000)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ackedc := make(chan []crypto.Hash, 1)
	go func() { ackedc <- tn.load(ctx, senders, []int{0, 1, 2, 3}, 60, nil) }()

	eventually(t, 60*time.Second, "the follower follows the load", func() bool { return tn.height(f) >= 5 })
	tn.cluster.Kill(f)
	down := tn.height(0)
	eventually(t, 60*time.Second, "validators commit with the follower down", func() bool { return tn.height(0) >= down+3 })
	if err := tn.cluster.Start(f); err != nil {
		t.Fatal(err)
	}
	acked := <-ackedc
	if len(acked) != 8*60 {
		t.Fatalf("%d transfers acknowledged, want %d", len(acked), 8*60)
	}
	tn.waitCommitted(0, acked, 60*time.Second)
	target := tn.height(0)
	eventually(t, 60*time.Second, "the follower caught up", func() bool { return tn.height(f) >= target })
	tn.waitCommitted(f, acked, 30*time.Second)
	tn.sameChain([]int{0, f}, target)
	eventually(t, 60*time.Second, "the follower's index caught up", func() bool {
		r, err := tn.clients[f].Search(ctx, client.SearchRequest{Query: "type:transfer AND sender_address:" + senders[3].Public().Address().String()})
		return err == nil && r.Total == 60
	})

	// A validator restarted with the account index on builds it for the
	// blocks it already holds: its listings become the follower's.
	tn.cluster.Stop(1, 10*time.Second)
	cfg, err := node.LoadConfig(tn.net.Nodes[1].Home)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AccountIndex = "on"
	if err := cfg.Save(); err != nil {
		t.Fatal(err)
	}
	if err := tn.cluster.Start(1); err != nil {
		t.Fatal(err)
	}
	for _, k := range []*crypto.PrivateKey{senders[3], senders[6]} {
		want, err := tn.clients[f].AccountTxs(ctx, k.Public().Address(), "", 1000)
		if err != nil || len(want.Txs) != 121 { // funded, 60 transfers sent and 60 received
			t.Fatalf("the follower lists %+v, %v", want, err)
		}
		var got *client.AccountTxs
		eventually(t, 60*time.Second, "validator 1 built its account index", func() bool {
			got, err = tn.clients[1].AccountTxs(ctx, k.Public().Address(), "", 1000)
			return err == nil && len(got.Txs) == len(want.Txs)
		})
		if !slices.Equal(got.Txs, want.Txs) {
			t.Fatalf("validator 1 lists %+v, the follower %+v", got.Txs, want.Txs)
		}
	}
}

// A follower never votes: it refuses a Byzantine mode and a validator's key,
// and every certificate of a chain it followed carries validators' votes
// only, a quorum of them.
func TestFollowerNeverVotes(t *testing.T) {
	tn := startNetWith(t, 4, 1, nil)
	alice := newKeys(t, 1)[0]
	tn.fund([]*crypto.PrivateKey{alice}, 10)
	home := tn.net.Followers[0].Home
	tn.cluster.Stop(4, 10*time.Second)
	out, err := exec.Command(bin, "node", "--home", home, "--unsafe-test-faults", "--byzantine", "double-vote").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "follower has no Byzantine modes") {
		t.Fatalf("a Byzantine follower: err=%v output=%s", err, out)
	}
	// The follower's home with a validator's key: refused.
	out, err = exec.Command(bin, "node", "--home", tn.net.Nodes[0].Home, "--follower", "--api-addr", "127.0.0.1:0", "--p2p-addr", "127.0.0.1:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "needs a key of its own") {
		t.Fatalf("a follower with a validator's key: err=%v output=%s", err, out)
	}
	if err := tn.cluster.Start(4); err != nil {
		t.Fatal(err)
	}
	target := tn.height(0)
	eventually(t, 30*time.Second, "the follower is back", func() bool { return tn.height(4) >= target })
	vals := tn.genesisVals()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for h := uint64(1); h <= target; h++ {
		b, err := tn.clients[4].Block(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Verify(tn.net.ChainID, vals); err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
	}
}
