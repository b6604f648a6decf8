package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/devnet"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/node"
	"github.com/cairn-db/cairn/internal/search"
	"github.com/cairn-db/cairn/types"
)

func TestSearchCommand(t *testing.T) {
	c := apitest.New(t, apitest.Options{Search: true})
	cl := c.Client()
	alice := c.Users[0]
	for i := 0; i < 5; i++ {
		r, err := cl.SubmitWait(context.Background(), apitest.Tx(alice, uint64(i+1), &types.KVPut{Key: "fruit/" + itoa(uint64(i)), Value: "ripe apples"}), 5*time.Second)
		if err != nil || r.Status != client.StatusCommitted {
			t.Fatalf("setup: %+v %v", r, err)
		}
	}
	c.WaitIndexed()
	node := "--node=" + c.URL

	// Pages of 2 are followed up to --limit.
	code, stdout, stderr := run(t, "search", "apples", "type:kv.put", "--limit", "4", node)
	var r client.SearchResult
	decode(t, stdout, &r)
	if code != 0 || r.Total != 5 || len(r.Hits) != 4 || r.NextCursor == "" || !strings.Contains(r.Hits[0].Snippet, "<mark>apples</mark>") {
		t.Fatalf("search: %d %+v %s", code, r, stderr)
	}
	code, stdout, _ = run(t, "search", "apples", "type:kv.put", "--cursor", r.NextCursor, node)
	var rest client.SearchResult
	decode(t, stdout, &rest)
	if code != 0 || len(rest.Hits) != 1 || rest.NextCursor != "" || rest.Hits[0].ID == r.Hits[3].ID {
		t.Fatalf("search --cursor: %d %+v", code, rest)
	}
	code, _, stderr = run(t, "search", "amount:>abc", node)
	if code != 1 || !strings.Contains(stderr, `amount: "abc" is not a number (at position 9)`) || !strings.Contains(stderr, "bad_query") {
		t.Fatalf("bad query: %d %s", code, stderr)
	}
	if code, _, _ = run(t, "search", node); code != 2 {
		t.Fatalf("no query: %d", code)
	}
}

func TestReindexCommand(t *testing.T) {
	home, cfg := initOneValidator(t)
	g, err := types.LoadGenesis(cfg.Path(cfg.Genesis))
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := crypto.LoadKey(cfg.Path(cfg.Key))
	if err != nil {
		t.Fatal(err)
	}
	// The faucet key pays the records' fees.
	key, err := crypto.LoadKey(filepath.Join(filepath.Dir(home), "faucet.key"))
	if err != nil {
		t.Fatal(err)
	}
	// Commit a few blocks as the validator would.
	l, err := ledger.Open(ledger.Options{Dir: node.LedgerDir(cfg)}, g)
	if err != nil {
		t.Fatal(err)
	}
	for h := uint64(1); h <= 3; h++ {
		tx := &types.Tx{ChainID: g.ChainID, Nonce: h, Timestamp: g.GenesisTime, Payload: &types.Record{Document: []byte(`{"n":` + itoa(h) + `}`)}}
		tx.Sign(key)
		blk, p, err := l.Propose([]*types.Tx{tx}, 0, l.Head().Time+1000, vkey.Public(), execute.Options{})
		if err != nil {
			t.Fatal(err)
		}
		v := types.SignVote(vkey, g.ChainID, types.Precommit, h, 0, blk.Hash(), 0)
		if err := l.Commit(blk, types.NewCertificate(h, 0, blk.Hash(), []types.Vote{v}), p); err != nil {
			t.Fatal(err)
		}
	}

	// While the ledger is open (a running node), reindex refuses.
	if code, _, stderr := run(t, "reindex", "--home", home); code != 1 || !strings.Contains(stderr, "stop it first") {
		t.Fatalf("reindex with the ledger open: %d %s", code, stderr)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "reindex", "--home", home)
	var out []struct {
		Home string `json:"home"`
		search.Summary
		Error string `json:"error"`
	}
	decode(t, stdout, &out)
	if code != 0 || len(out) != 1 || out[0].Height != 3 || out[0].Txs != 3 || out[0].Bytes <= 0 || out[0].Error != "" || !strings.Contains(stderr, "height 3/3") {
		t.Fatalf("reindex: %d %+v %s", code, out, stderr)
	}
	if out[0].Dir != search.Dir(cfg.Path(cfg.DataDir)) {
		t.Fatalf("index in %s, want %s", out[0].Dir, search.Dir(cfg.Path(cfg.DataDir)))
	}
	// The rebuilt index answers.
	l, err = ledger.Open(ledger.Options{Dir: node.LedgerDir(cfg)}, g)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ix, err := search.Open(out[0].Dir, l, search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	res, err := ix.Search(context.Background(), client.SearchRequest{Query: "doc.n:>1"})
	if err != nil || res.Total != 2 || ix.IndexedHeight() != 3 {
		t.Fatalf("rebuilt index: %v %+v", err, res)
	}
}

// initOneValidator runs `cairn init` for a one-validator network in a
// temporary directory and returns the validator's home and configuration.
func initOneValidator(t *testing.T) (string, node.Config) {
	t.Helper()
	dir := t.TempDir()
	if code, _, stderr := run(t, "init", "--validators", "1", "--home", dir); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	nw, err := devnet.LoadNetwork(dir)
	if err != nil {
		t.Fatal(err)
	}
	home := nw.Nodes[0].Home
	cfg, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	return home, cfg
}
