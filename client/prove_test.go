package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// TestProofCalls drives the SDK's proof calls against a live chain: a
// committed and a failed transaction proven with their outcome, an
// account proven at two heights and a never-seen one proven absent, a
// search page whose every hit is proven; and a pending transaction, which
// has no proof, refused.
func TestProofCalls(t *testing.T) {
	c := apitest.New(t, apitest.Options{Search: true, Validators: 4})
	cl := c.Client()
	ctx := context.Background()
	alice, bob := c.Users[0], c.Users[1]
	vals, err := c.Genesis.ValidatorSet()
	if err != nil {
		t.Fatal(err)
	}
	one := uint64(1)
	ok := apitest.Tx(alice, 1, &types.KVPut{Key: "crate", Value: "apples"})
	r1, err := cl.SubmitWait(ctx, ok, 5*time.Second)
	if err != nil || r1.Status != client.StatusCommitted {
		t.Fatalf("setup: %+v %v", r1, err)
	}
	bad := apitest.Tx(bob, 1, &types.KVPut{Key: "crate", Value: "pears", ExpectVersion: new(uint64)}) // fails: version 1 exists
	r2, err := cl.SubmitWait(ctx, bad, 5*time.Second)
	if err != nil || r2.Status != client.StatusFailed {
		t.Fatalf("setup: %+v %v", r2, err)
	}
	if _, err := cl.SubmitWait(ctx, apitest.Tx(alice, 2, &types.KVPut{Key: "crate", Value: "more apples", ExpectVersion: &one}), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	c.WaitIndexed()
	chain := c.Genesis.ChainID

	for _, want := range []struct {
		tx *types.Tx
		ok bool
	}{{ok, true}, {bad, false}} {
		p, err := cl.TxProof(ctx, want.tx.Hash())
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(chain, vals); err != nil {
			t.Fatalf("tx proof: %v", err)
		}
		if p.Receipt.OK != want.ok || (!want.ok && p.Receipt.Code != types.CodeVersionConflict) {
			t.Fatalf("tx proof proves %+v", p.Receipt)
		}
		p.Receipt.OK = !p.Receipt.OK // a lie in the copy
		if err := p.Verify(chain, vals); !errors.Is(err, client.ErrVerify) {
			t.Fatalf("tx proof with a flipped receipt copy: %v", err)
		}
	}

	for _, h := range []uint64{r1.Height, 0} {
		p, err := cl.AccountProof(ctx, alice.Public().Address(), h)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(chain, vals); err != nil || !p.Found || (h != 0 && (p.Height != h || p.Nonce != 1)) {
			t.Fatalf("account proof at %d: %+v %v", h, p, err)
		}
	}
	p, err := cl.AccountProof(ctx, crypto.Address{1, 2, 3}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(chain, vals); err != nil || p.Found || p.Balance != 0 {
		t.Fatalf("absent account proof: %+v %v", p, err)
	}

	res, err := cl.Search(ctx, client.SearchRequest{Query: "crate", Prove: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 3 || len(res.Headers) == 0 {
		t.Fatalf("search: %d hits, %d headers", len(res.Hits), len(res.Headers))
	}
	if err := res.Verify(chain, vals); err != nil {
		t.Fatalf("search proofs: %v", err)
	}
	plain, err := cl.Search(ctx, client.SearchRequest{Query: "crate"})
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Verify(chain, vals); !errors.Is(err, client.ErrVerify) {
		t.Fatalf("search without proofs verified: %v", err)
	}

	// A node that answers with a valid proof about something else: the
	// fetch calls refuse it (Verify alone checks the proof for what the
	// answer names).
	swap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := r.URL.RequestURI()
		u = strings.Replace(u, "/v1/kv/crate", "/v1/kv/nothing", 1)
		u = strings.Replace(u, "/v1/accounts/"+alice.Public().Address().String(), "/v1/accounts/"+bob.Public().Address().String(), 1)
		u = strings.Replace(u, "/v1/txs/"+ok.Hash().String(), "/v1/txs/"+bad.Hash().String(), 1)
		resp, err := http.Get(c.URL + u)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer swap.Close()
	sc, err := client.New(swap.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.KVProof(ctx, "crate", 0); !errors.Is(err, client.ErrVerify) {
		t.Errorf("proof of another key accepted: %v", err)
	}
	if _, err := sc.AccountProof(ctx, alice.Public().Address(), 0); !errors.Is(err, client.ErrVerify) {
		t.Errorf("proof of another account accepted: %v", err)
	}
	if _, err := sc.TxProof(ctx, ok.Hash()); !errors.Is(err, client.ErrVerify) {
		t.Errorf("proof of another tx accepted: %v", err)
	}

	c.Pause()
	pending := apitest.Tx(alice, 3, &types.KVPut{Key: "later", Value: "x"})
	if _, err := cl.Submit(ctx, pending); err != nil {
		t.Fatal(err)
	}
	pp, err := cl.TxProof(ctx, pending.Hash())
	if err != nil || pp.Status != client.StatusPending {
		t.Fatalf("pending: %+v %v", pp, err)
	}
	if err := pp.Verify(chain, vals); !errors.Is(err, client.ErrVerify) {
		t.Fatalf("pending tx verified: %v", err)
	}
	c.Resume()
}
