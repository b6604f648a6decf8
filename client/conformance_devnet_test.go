package client_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/devnet"
	"github.com/cairn-db/cairn/internal/node"
	"github.com/cairn-db/cairn/types"
)

// TestGenerateConformanceKitDevnet records the kit of a real network into
// testdata/conformance/devnet: four `cairn node` processes on 127.0.0.1
// reaching consensus over p2p, the answers served by node 0. It builds the
// binary and runs the network, so it runs only when asked
// (-conformance.update); the recorded kit is checked by TestConformanceKit
// in every plain `go test`.
func TestGenerateConformanceKitDevnet(t *testing.T) {
	if !*updateKit {
		t.Skip("records the devnet kit only with -conformance.update (builds cairn and runs four validator processes); TestConformanceKit checks the recorded one")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, remove, err := devnet.BuildCairnTemp(ctx, "cairn-kit-")
	if err != nil {
		t.Fatal(err)
	}
	defer remove()
	const n = 4
	ports, err := devnet.FreePorts(2 * n)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	nw, err := devnet.InitNetwork(dir, devnet.Options{Validators: n, ChainID: "cairn-kit-devnet", Tune: func(i int, c *node.Config) {
		c.APIAddr = fmt.Sprintf("127.0.0.1:%d", ports[i])
		c.P2PAddr = fmt.Sprintf("127.0.0.1:%d", ports[n+i])
		c.Consensus.MaxBlockDelay = node.Duration{Duration: 200 * time.Millisecond}
		c.Search.Index = "on" // the kit records search answers from node 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := types.LoadGenesis(filepath.Join(dir, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	cluster := devnet.NewCluster(bin, nw)
	defer cluster.StopAll(10 * time.Second)
	if err := cluster.StartAll(); err != nil {
		t.Fatal(err)
	}
	if err := cluster.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	cls, err := nw.Clients()
	if err != nil {
		t.Fatal(err)
	}
	cl := cls[0]
	faucetKey, err := crypto.LoadKey(nw.FaucetKey)
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := mustKey(t), mustKey(t)
	faucet := cl.NewSigner(faucetKey, nw.ChainID)
	as, bs := cl.NewSigner(alice, nw.ChainID), cl.NewSigner(bob, nw.ChainID)
	one := uint64(1)
	sign := func(tx *types.Tx, err error) *types.Tx {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	batch := func(txs ...*types.Tx) []*client.TxResult {
		t.Helper()
		r, err := cl.SubmitBatchWait(ctx, txs, 30*time.Second)
		if err != nil || r.Accepted != len(txs) {
			t.Fatalf("batch: %+v %v", r, err)
		}
		for i, res := range r.Results {
			if res == nil || (res.Status != client.StatusCommitted && res.Status != client.StatusFailed) {
				t.Fatalf("batch tx %d: %+v", i, res)
			}
		}
		return r.Results
	}
	// A: fund alice and bob, put a key. B: alice puts another. C: alice and
	// bob race a compare-and-set (one fails with version_conflict) beside a
	// record. D: a delete and a transfer.
	fund := sign(faucet.Transfer(ctx, alice.Public().Address(), 100_000))
	txsA := []*types.Tx{fund, sign(faucet.Transfer(ctx, bob.Public().Address(), 100_000)), sign(faucet.Put(ctx, "fruit/banana", "yellow", nil))}
	rA := batch(txsA...)
	rB := batch(sign(as.Put(ctx, "fruit/apple", "red apples", nil)))
	green, stale := sign(as.Put(ctx, "fruit/apple", "green apples", &one)), sign(bs.Put(ctx, "fruit/apple", "stale apples", &one))
	rC := batch(green, stale, sign(faucet.Record(ctx, []byte(`{"note":"apples for the market","crates":12}`))))
	rD := batch(sign(faucet.Delete(ctx, "fruit/banana", nil)), sign(faucet.Transfer(ctx, bob.Public().Address(), 7)))

	failTx, failRes := stale, rC[1]
	if rC[0].Status == client.StatusFailed {
		failTx, failRes = green, rC[0]
	}
	if failRes.Status != client.StatusFailed || failRes.Receipt.Code != types.CodeVersionConflict {
		t.Fatalf("no version conflict: %+v %+v", rC[0], rC[1])
	}
	// The ok tx must sit in a block of two or more txs (its receipt proof
	// has a path); blocks are cut by consensus, so look.
	var okTx *types.Tx
	for _, cand := range txsA {
		st, err := cl.Tx(ctx, cand.Hash())
		if err == nil && st.Proof != nil && st.Proof.Size >= 2 && st.Receipt.OK {
			okTx = cand
			break
		}
	}
	if okTx == nil {
		t.Fatal("no committed tx of batch A is in a block of two or more (consensus cut it into single-tx blocks); record again")
	}
	head := rD[len(rD)-1].Height
	for _, r := range rD {
		head = max(head, r.Height)
	}
	// Wait for node 0's search index to reach the head.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := cl.Status(ctx)
		if err == nil && st.IndexedHeight >= head && st.Height >= head {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("search index did not reach %d: %+v %v", head, st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	blocks := map[uint64]bool{rA[0].Height: true, failRes.Height: true, rD[0].Height: true}
	var hs []uint64
	for h := range blocks {
		hs = append(hs, h)
	}
	slices.Sort(hs)
	recordKit(t, cl.BaseURL(), kitScenario{
		dir:         "devnet",
		description: "Cairn conformance kit: recorded API answers of a real four-validator network (cairn node processes reaching consensus over p2p; answers from node0) and the verdict a verifier must reach on each. See ../README.md.",
		chainID:     g.ChainID, validators: g.Validators,
		blocks: hs, failBlock: failRes.Height, failIdx: int(*failRes.Index),
		okTx: okTx, failTx: failTx, failCode: string(types.CodeVersionConflict),
		kvs: []kitCase{
			{Name: "kv-apple-1", Key: "fruit/apple", Height: rB[0].Height, Verdict: verdictPresent, Version: 1},
			{Name: "kv-apple-2", Key: "fruit/apple", Height: failRes.Height, Verdict: verdictPresent, Version: 2},
			{Name: "kv-banana-deleted", Key: "fruit/banana", Height: rD[0].Height, Verdict: verdictDeleted, Version: 2},
		},
		absentHeight: head,
		accounts: []kitCase{
			{Name: "account-alice-funded", Address: alice.Public().Address().String(), Height: rA[0].Height, Verdict: verdictPresent},
			{Name: "account-alice-later", Address: alice.Public().Address().String(), Height: head, Verdict: verdictPresent},
			{Name: "account-faucet", Address: faucetKey.Public().Address().String(), Height: head, Verdict: verdictPresent},
		},
		stranger: mustKey(t).Public().Address(),
		searches: [][2]string{{"search-apples", "apples"}, {"search-failed", "status:failed"}, {"search-none", "zebra"}},
		notAHit:  fund.Hash(),
	})
}

func mustKey(t *testing.T) *crypto.PrivateKey {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
