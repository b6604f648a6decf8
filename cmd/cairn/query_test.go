package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

func TestQueryCommands(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	ctx := context.Background()
	alice := c.Users[0]
	node := "--node=" + c.URL
	var heights []uint64
	for i, v := range []string{"one", "two", "three"} {
		r, err := cl.SubmitWait(ctx, apitest.Tx(alice, uint64(i+1), &types.KVPut{Key: "path/with spaces", Value: v}), 5*time.Second)
		if err != nil || r.Status != client.StatusCommitted {
			t.Fatalf("setup: %+v %v", r, err)
		}
		heights = append(heights, r.Height)
	}

	// status
	code, stdout, _ := run(t, "status", node)
	var st client.Status
	decode(t, stdout, &st)
	if code != 0 || st.ChainID != apitest.ChainID || st.Height != heights[2] {
		t.Fatalf("status: %d %+v", code, st)
	}

	// get, at a height, flags after the key
	code, stdout, stderr := run(t, "get", "path/with spaces", node)
	var v client.KVValue
	decode(t, stdout, &v)
	if code != 0 || v.Value != "three" || v.Version != 3 {
		t.Fatalf("get: %d %+v %s", code, v, stderr)
	}
	code, stdout, _ = run(t, "get", "path/with spaces", "--height", itoa(heights[0]), node)
	decode(t, stdout, &v)
	if code != 0 || v.Value != "one" {
		t.Fatalf("get at height: %d %+v", code, v)
	}
	if code, _, stderr = run(t, "get", "missing", node); code != 1 || !strings.Contains(stderr, "not_found") {
		t.Fatalf("get missing: %d %s", code, stderr)
	}

	// get --prove verifies client-side, and says so
	code, stdout, stderr = run(t, "get", "path/with spaces", "--prove", "--height", itoa(heights[1]), node)
	var pv verifiedGet
	decode(t, stdout, &pv)
	if code != 0 || !pv.Verified || pv.Value == nil || *pv.Value != "two" || !strings.Contains(stderr, "verified") {
		t.Fatalf("get --prove: %d %+v %s", code, pv, stderr)
	}
	// the same against a genesis file the user trusts
	gpath := filepath.Join(t.TempDir(), "genesis.json")
	gb, _ := json.Marshal(c.Genesis)
	os.WriteFile(gpath, gb, 0o644)
	if code, _, stderr = run(t, "get", "path/with spaces", "--prove", "--genesis", gpath, node); code != 0 || !strings.Contains(stderr, "genesis file") {
		t.Fatalf("get --prove --genesis: %d %s", code, stderr)
	}
	// absence is proven too, and exits 1
	code, stdout, stderr = run(t, "get", "missing", "--prove", node)
	decode(t, stdout, &pv)
	if code != 1 || !pv.Verified || pv.Found || !strings.Contains(stderr, "absent") {
		t.Fatalf("get --prove missing: %d %+v %s", code, pv, stderr)
	}
	// a genesis of another chain makes verification fail
	other := *c.Genesis
	other.ChainID = "someone-else"
	ob, _ := json.Marshal(&other)
	os.WriteFile(gpath, ob, 0o644)
	if code, _, stderr = run(t, "get", "path/with spaces", "--prove", "--genesis", gpath, node); code != 1 || !strings.Contains(stderr, "DOES NOT VERIFY") {
		t.Fatalf("get --prove with a foreign genesis: %d %s", code, stderr)
	}

	// history
	code, stdout, _ = run(t, "history", "path/with spaces", node)
	var h client.KVHistory
	decode(t, stdout, &h)
	if code != 0 || len(h.Versions) != 3 || h.Versions[0].Value != "one" || h.Versions[2].Value != "three" {
		t.Fatalf("history: %d %+v", code, h)
	}
	code, stdout, _ = run(t, "history", "path/with spaces", "--limit=2", node)
	decode(t, stdout, &h)
	if code != 0 || len(h.Versions) != 2 || h.NextCursor == "" {
		t.Fatalf("history --limit: %d %+v", code, h)
	}
	if code, _, _ = run(t, "history", "missing", node); code != 1 {
		t.Fatalf("history of a missing key: %d", code)
	}

	// account, by address and by key file
	code, stdout, _ = run(t, "account", alice.Public().Address().String(), node)
	var a client.Account
	decode(t, stdout, &a)
	if code != 0 || a.Nonce != 3 || a.Balance != apitest.Balance {
		t.Fatalf("account: %d %+v", code, a)
	}
	code, stdout, _ = run(t, "account", "--key", keyFile(t, alice), "--txs=2", node)
	var at struct {
		Nonce uint64             `json:"nonce"`
		Txs   []client.TxSummary `json:"txs"`
	}
	decode(t, stdout, &at)
	if code != 0 || at.Nonce != 3 || len(at.Txs) != 2 {
		t.Fatalf("account --key --txs: %d %+v", code, at)
	}

	// block, audited
	code, stdout, stderr = run(t, "block", "latest", "--verify", node)
	var b client.Block
	decode(t, stdout, &b)
	if code != 0 || b.Height != heights[2] || !strings.Contains(stderr, "verified") {
		t.Fatalf("block latest: %d %s", code, stderr)
	}
	if code, _, _ = run(t, "block", itoa(heights[0]), node); code != 0 {
		t.Fatalf("block %d: %d", heights[0], code)
	}
	if code, _, _ = run(t, "block", "999", node); code != 1 {
		t.Fatalf("missing block: %d", code)
	}

	// usage errors
	for _, args := range [][]string{
		{"get"}, {"get", "a", "b"}, {"history"}, {"account"}, {"account", "xyz"},
		{"block"}, {"block", "0"}, {"block", "tip"}, {"status", "extra"}, {"get", "k", "--bogus"},
	} {
		if code, _, _ := run(t, append(args, node)...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestDefaultNodeFromEnv(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	t.Setenv("CAIRN_NODE", c.URL)
	if code, _, stderr := run(t, "status"); code != 0 {
		t.Fatalf("status via $CAIRN_NODE: %d %s", code, stderr)
	}
}

func itoa(v uint64) string { return strings.TrimSpace(jsonNum(v)) }

func jsonNum(v uint64) string {
	b, _ := json.Marshal(v)
	return string(b)
}
