package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// TestKeysNeedingEscapes writes keys with every character that means
// something in a URL and reads each back, with history and a proof.
func TestKeysNeedingEscapes(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	ctx := context.Background()
	keys := []string{"a/b", ".", "..", "./x", "100%", "q?x=1#frag", "ünïcødé ✓", " spaced ", "history", "a/history", "%2F", "+plus+", "semi;colon"}
	s := cl.NewSigner(c.Users[0], "")
	var txs []*types.Tx
	for _, k := range keys {
		tx, err := s.Put(ctx, k, "v:"+k, nil)
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	res, err := cl.SubmitBatchWait(ctx, txs, 10*time.Second)
	if err != nil || res.Accepted != len(keys) {
		t.Fatalf("batch: %+v %v", res, err)
	}
	st, _ := cl.Status(ctx)
	vals, _ := st.ValidatorSet()
	for _, k := range keys {
		v, err := cl.KV(ctx, k, 0)
		if err != nil || v.Key != k || v.Value != "v:"+k {
			t.Errorf("key %q: %+v %v", k, v, err)
			continue
		}
		h, err := cl.History(ctx, k, "", 0)
		if err != nil || len(h.Versions) != 1 || h.Key != k {
			t.Errorf("history of %q: %+v %v", k, h, err)
		}
		p, err := cl.KVProof(ctx, k, 0)
		if err != nil || p.Verify(apitest.ChainID, vals) != nil || !p.Live() {
			t.Errorf("proof of %q: %v", k, err)
		}
	}
}

func TestSignerNonces(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	ctx := context.Background()
	s := cl.NewSigner(c.Users[1], "")
	if id, err := s.ChainID(ctx); err != nil || id != apitest.ChainID {
		t.Fatalf("chain id %q %v", id, err)
	}
	// Many in flight at once: consecutive nonces from the committed one.
	var txs []*types.Tx
	for i := 0; i < 5; i++ {
		tx, err := s.Transfer(ctx, c.Users[2].Public().Address(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if tx.Nonce != uint64(i+1) {
			t.Fatalf("tx %d has nonce %d", i, tx.Nonce)
		}
		txs = append(txs, tx)
	}
	if r, err := cl.SubmitBatchWait(ctx, txs, 10*time.Second); err != nil || r.Accepted != 5 {
		t.Fatalf("batch: %+v %v", r, err)
	}
	// A fresh signer starts from the committed nonce.
	s2 := cl.NewSigner(c.Users[1], apitest.ChainID)
	tx, err := s2.Record(ctx, []byte(` {"a": [1, 2]} `))
	if err != nil || tx.Nonce != 6 {
		t.Fatalf("fresh signer: %v %v", tx, err)
	}
	r, err := cl.SubmitWait(ctx, tx, 5*time.Second)
	if err != nil || r.Status != client.StatusCommitted {
		t.Fatalf("record: %+v %v", r, err)
	}
	// Resync after a tx that was refused, so its nonce is reused.
	bad, _ := s2.Transfer(ctx, c.Users[2].Public().Address(), apitest.Balance*10)
	if _, err := cl.Submit(ctx, bad); client.ErrorCode(err) != "insufficient_balance" {
		t.Fatalf("overdraft: %v", err)
	}
	s2.Resync()
	tx, _ = s2.Delete(ctx, "nothing", nil)
	if tx.Nonce != 7 {
		t.Fatalf("after resync nonce %d, want 7", tx.Nonce)
	}
}

func TestErrors(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	ctx := context.Background()
	_, err := cl.KV(ctx, "absent", 0)
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 404 || e.Code != "not_found" || !client.IsNotFound(err) {
		t.Fatalf("KV absent: %#v", err)
	}
	if _, err := cl.Block(ctx, 5); !client.IsNotFound(err) {
		t.Fatalf("missing block: %v", err)
	}
	// A non-Cairn error body still becomes an *Error.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gateway on fire", http.StatusBadGateway)
	}))
	defer srv.Close()
	other, _ := client.New(srv.URL)
	_, err = other.Status(ctx)
	if !errors.As(err, &e) || e.Status != 502 || e.Code != "http_502" {
		t.Fatalf("plain error: %#v", err)
	}
	for _, bad := range []string{"", "ftp://x", "127.0.0.1:8080", "http://"} {
		if _, err := client.New(bad); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}

func TestLoadNetwork(t *testing.T) {
	dir := t.TempDir()
	k := apitest.Key('f', 1)
	if err := crypto.SaveKey(filepath.Join(dir, "faucet.key"), k); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"chain_id": "devnet", "faucet_key": "faucet.key",
		"nodes": []map[string]string{{"name": "node0", "api": "http://127.0.0.1:8080", "home": "node0"}, {"name": "node1", "api": "http://127.0.0.1:8081", "home": "/abs/node1"}},
	})
	os.WriteFile(filepath.Join(dir, "network.json"), b, 0o644)
	for _, p := range []string{dir, filepath.Join(dir, "network.json")} {
		n, err := client.LoadNetwork(p)
		if err != nil {
			t.Fatal(err)
		}
		if n.ChainID != "devnet" || len(n.Nodes) != 2 || n.NodeHome(0) != filepath.Join(dir, "node0") || n.NodeHome(1) != "/abs/node1" {
			t.Fatalf("network %+v", n)
		}
		fk, err := n.LoadFaucetKey()
		if err != nil || fk.Public() != k.Public() {
			t.Fatalf("faucet key: %v", err)
		}
		cs, err := n.Clients()
		if err != nil || len(cs) != 2 || cs[1].BaseURL() != "http://127.0.0.1:8081" {
			t.Fatalf("clients: %v", err)
		}
	}
	if _, err := client.LoadNetwork(filepath.Join(dir, "nope.json")); err == nil {
		t.Fatal("missing file loaded")
	}
}

// A batch encoded ahead of time is submitted as SubmitBatch would submit
// it: every transaction admitted and committed, and a second submission of
// the same bytes refused as a replay.
func TestSubmitEncodedBatch(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	ctx := context.Background()
	if _, err := cl.SubmitEncodedBatch(ctx, client.EncodedBatch{}); err == nil {
		t.Fatal("an empty encoded batch was submitted")
	}
	s := cl.NewSigner(c.Users[0], "")
	var txs []*types.Tx
	for i := 0; i < 3; i++ {
		tx, err := s.Transfer(ctx, c.Users[1].Public().Address(), 7)
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	enc, err := client.EncodeBatch(txs)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cl.SubmitEncodedBatch(ctx, enc)
	if err != nil || res.Accepted != len(txs) {
		t.Fatalf("encoded batch: %+v %v", res, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, tx := range txs {
		for {
			st, err := cl.Tx(ctx, tx.Hash())
			if err != nil {
				t.Fatalf("tx %s: %v", tx.Hash(), err)
			}
			if st.Status == client.StatusCommitted {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("tx %s not committed in 10 s: %+v", tx.Hash(), st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if again, err := cl.SubmitEncodedBatch(ctx, enc); client.ErrorCode(err) != "replay" {
		t.Fatalf("the same batch again: %+v, error %v, want code replay", again, err)
	}
}
