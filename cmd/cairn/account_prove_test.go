package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// TestAccountProve checks `cairn account --prove`: it verifies the balance
// and nonce client-side at a height and says what it verified, proves a
// never-seen address absent, and refuses (exit 1) a proof against another
// chain's validators and an answer whose balance a node altered.
func TestAccountProve(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	alice, bob := c.Users[0], c.Users[1]
	var heights []uint64
	for i := 0; i < 2; i++ {
		r, err := cl.SubmitWait(context.Background(), apitest.Tx(alice, uint64(i+1), &types.Transfer{To: bob.Public().Address(), Amount: 100}), 5*time.Second)
		if err != nil || r.Status != client.StatusCommitted {
			t.Fatalf("setup: %+v %v", r, err)
		}
		heights = append(heights, r.Height)
	}
	node := "--node=" + c.URL
	addr := alice.Public().Address().String()

	code, stdout, stderr := run(t, "account", addr, "--prove", "--height", itoa(heights[0]), node)
	var va verifiedAccount
	decode(t, stdout, &va)
	if code != 0 || !va.Verified || !va.Found || va.Nonce != 1 || va.Balance != apitest.Balance-100 || va.Height != heights[0] ||
		!strings.Contains(stderr, "verified: account "+addr+" has balance 999900 and nonce 1") {
		t.Fatalf("account --prove --height: %d %+v %s", code, va, stderr)
	}
	// --height alone reads the same height, unproven
	code, stdout, _ = run(t, "account", addr, "--height", itoa(heights[0]), node)
	var a client.Account
	decode(t, stdout, &a)
	if code != 0 || a.Nonce != 1 || a.Height != heights[0] {
		t.Fatalf("account --height: %d %+v", code, a)
	}
	// latest, through --key, against a genesis file
	gpath := filepath.Join(t.TempDir(), "genesis.json")
	gb, _ := json.Marshal(c.Genesis)
	os.WriteFile(gpath, gb, 0o644)
	code, stdout, stderr = run(t, "account", "--key", keyFile(t, alice), "--prove", "--genesis", gpath, node)
	decode(t, stdout, &va)
	if code != 0 || va.Nonce != 2 || va.Height != heights[1] || !strings.Contains(stderr, "genesis file") {
		t.Fatalf("account --key --prove --genesis: %d %+v %s", code, va, stderr)
	}
	// a never-seen address is proven absent: zero, exit 0
	stranger := crypto.Address{0xee}.String()
	code, stdout, stderr = run(t, "account", stranger, "--prove", node)
	decode(t, stdout, &va)
	if code != 0 || !va.Verified || va.Found || va.Balance != 0 || !strings.Contains(stderr, "proven absent") {
		t.Fatalf("account --prove never seen: %d %+v %s", code, va, stderr)
	}
	// another chain's validators: refused
	other := *c.Genesis
	other.ChainID = "someone-else"
	ob, _ := json.Marshal(&other)
	os.WriteFile(gpath, ob, 0o644)
	if code, _, stderr = run(t, "account", addr, "--prove", "--genesis", gpath, node); code != 1 || !strings.Contains(stderr, "DOES NOT VERIFY") {
		t.Fatalf("account --prove with a foreign genesis: %d %s", code, stderr)
	}
	// a node that inflates the balance in its answer: refused
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(c.URL + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if strings.HasPrefix(r.URL.Path, "/v1/accounts/") {
			b = bytes.Replace(b, []byte(`"balance":999800`), []byte(`"balance":5000000`), 1)
		}
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		w.Write(b)
	}))
	defer liar.Close()
	if code, _, stderr = run(t, "account", addr, "--prove", "--node="+liar.URL); code != 1 || !strings.Contains(stderr, "DOES NOT VERIFY") {
		t.Fatalf("account --prove through a lying node: %d %s", code, stderr)
	}
	if code, _, _ = run(t, "account", addr, "--prove", "--txs=2", node); code != 2 {
		t.Fatalf("account --prove --txs: exit %d, want 2 (usage)", code)
	}
}
