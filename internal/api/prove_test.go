package api_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// TestReceiptProofsOfOneBlock proves the outcome of every transaction of a
// 7-transaction block (an odd size: RFC 6962's unbalanced right edge),
// successes and failures mixed, with GET /v1/txs/{hash}?prove=true alone,
// and checks that a receipt proof of one position does not prove another.
func TestReceiptProofsOfOneBlock(t *testing.T) {
	c := apitest.New(t, apitest.Options{Validators: 4})
	cl := c.Client()
	ctx := context.Background()
	c.Pause()
	var txs []*types.Tx
	nonces := map[int]uint64{}
	for i := 1; i <= 7; i++ {
		var expect *uint64
		if i%3 == 0 {
			expect = new(uint64) // "must be absent": the first (i = 3) succeeds, the second (i = 6, its sender's last) fails
		}
		nonces[i%2]++
		txs = append(txs, apitest.Tx(c.Users[i%2], nonces[i%2], &types.KVPut{Key: fmt.Sprint("k", i%3), Value: fmt.Sprint(i), ExpectVersion: expect}))
	}
	blk := c.CommitBlock(txs...)
	if len(blk.Txs) != 7 {
		t.Fatalf("block holds %d txs", len(blk.Txs))
	}
	vals, err := c.Genesis.ValidatorSet()
	if err != nil {
		t.Fatal(err)
	}
	var proofs []*client.TxStatus
	failed := 0
	for i, tx := range txs {
		p, err := cl.TxProof(ctx, tx.Hash())
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(apitest.ChainID, vals); err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
		if *p.Index != uint32(i) || p.ReceiptProof.Size != 7 || p.ReceiptProof.Index != uint64(i) {
			t.Fatalf("tx %d: index %d, receipt proof %+v", i, *p.Index, p.ReceiptProof)
		}
		if !p.Receipt.OK {
			failed++
		}
		proofs = append(proofs, p)
	}
	if failed == 0 || failed == len(txs) {
		t.Fatalf("%d of %d failed: the block should mix outcomes", failed, len(txs))
	}
	// Tx 0's answer with tx 1's receipt (bytes and proof): refused.
	mixed := *proofs[0]
	mixed.ReceiptBytesHex, mixed.ReceiptProof, mixed.Receipt = proofs[1].ReceiptBytesHex, proofs[1].ReceiptProof, proofs[1].Receipt
	if err := mixed.Verify(apitest.ChainID, vals); !errors.Is(err, client.ErrVerify) {
		t.Fatalf("tx 0 with tx 1's receipt: %v", err)
	}
	// Tx 0's receipt proof moved to index 1: refused.
	moved := *proofs[0]
	rp := *moved.ReceiptProof
	rp.Index = 1
	moved.ReceiptProof = &rp
	if err := moved.Verify(apitest.ChainID, vals); !errors.Is(err, client.ErrVerify) {
		t.Fatalf("receipt proof at another index: %v", err)
	}
}

// TestProveParameters checks the new parameters' edges: an account proof
// needs a certified height (400 for height 0, 404 before the first block,
// 404 above the head), ?prove accepts only booleans everywhere, and a
// pending transaction has no proof members even when asked.
func TestProveParameters(t *testing.T) {
	c := apitest.New(t, apitest.Options{Search: true})
	addr := c.Users[0].Public().Address().String()
	var e struct {
		Error client.ErrorBody `json:"error"`
	}
	getJSON(t, c.URL+"/v1/accounts/"+addr+"?prove=true", 404, &e)
	if e.Error.Code != "not_found" {
		t.Fatalf("account proof before any block: %+v", e)
	}
	cl := c.Client()
	ctx := context.Background()
	if r, err := cl.SubmitWait(ctx, apitest.Tx(c.Users[0], 1, &types.KVPut{Key: "a", Value: "b"}), 5e9); err != nil || r.Status != client.StatusCommitted {
		t.Fatalf("setup: %+v %v", r, err)
	}
	for url, want := range map[string]int{
		"/v1/accounts/" + addr + "?prove=true&height=0":  400,
		"/v1/accounts/" + addr + "?height=99":            404,
		"/v1/accounts/" + addr + "?prove=yes":            400,
		"/v1/txs/" + crypto.Hash{}.String() + "?prove=2": 400,
		"/v1/search?q=a&prove=maybe":                     400,
	} {
		getJSON(t, c.URL+url, want, nil)
	}
	var a client.Account
	getJSON(t, c.URL+"/v1/accounts/"+addr+"?height=0", 200, &a)
	if a.Height != 0 || a.Balance != apitest.Balance || a.Nonce != 0 {
		t.Fatalf("account at genesis: %+v", a)
	}
	c.Pause()
	pending := apitest.Tx(c.Users[0], 2, &types.KVPut{Key: "a", Value: "c"})
	if _, err := cl.Submit(ctx, pending); err != nil {
		t.Fatal(err)
	}
	var ts client.TxStatus
	getJSON(t, c.URL+"/v1/txs/"+pending.Hash().String()+"?prove=true", 200, &ts)
	if ts.Status != client.StatusPending || ts.HeaderHex != "" || ts.ReceiptProof != nil || ts.Certificate != nil {
		t.Fatalf("pending tx with proof members: %+v", ts)
	}
	c.Resume()
}
