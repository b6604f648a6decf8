package api_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/types"
)

func u64p(v uint64) *uint64 { return &v }

// do sends a raw request and returns status and body.
func do(t *testing.T, method, url string, body []byte) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func getJSON(t *testing.T, url string, wantStatus int, out any) {
	t.Helper()
	st, b := do(t, "GET", url, nil)
	if st != wantStatus {
		t.Fatalf("GET %s: status %d, want %d: %s", url, st, wantStatus, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: decode: %v: %s", url, err, b)
		}
	}
}

// flipHex changes the hex digit at i.
func flipHex(s string, i int) string {
	d := "1"
	if s[i] == '1' {
		d = "2"
	}
	return s[:i] + d + s[i+1:]
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSubmitWaitAndReadBack(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	ctx := context.Background()
	alice, bob := c.Users[0], c.Users[1]

	// put with wait=commit
	put := apitest.Tx(alice, 1, &types.KVPut{Key: "greeting/en", Value: "hello"})
	res, err := cl.SubmitWait(ctx, put, 5*time.Second)
	if err != nil {
		t.Fatalf("submit put: %v", err)
	}
	if res.Status != client.StatusCommitted || res.Receipt == nil || !res.Receipt.OK || res.Receipt.Version != 1 || res.Hash != put.Hash() {
		t.Fatalf("put result = %+v", res)
	}
	putHeight := res.Height

	// transfer
	tr := apitest.Tx(alice, 2, &types.Transfer{To: bob.Public().Address(), Amount: 250})
	res, err = cl.SubmitWait(ctx, tr, 5*time.Second)
	if err != nil || res.Status != client.StatusCommitted {
		t.Fatalf("transfer: %+v %v", res, err)
	}
	// second put, CAS on version 1
	put2 := apitest.Tx(alice, 3, &types.KVPut{Key: "greeting/en", Value: "hi", ExpectVersion: u64p(1)})
	if res, err = cl.SubmitWait(ctx, put2, 5*time.Second); err != nil || res.Status != client.StatusCommitted {
		t.Fatalf("put2: %+v %v", res, err)
	}
	head := c.Ledger.Head()

	// status
	st, err := cl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.ChainID != apitest.ChainID || st.Node != "test0" || st.Height != head.Height || st.LatestBlockHash != head.Hash ||
		len(st.Validators) != 1 || st.Validators[0].PublicKey != c.ValKey.Public() || st.QuorumPower != 1 {
		t.Fatalf("status = %+v", st)
	}
	// No search index on this server: no lag to report.
	if st.SearchEnabled || st.IndexedHeight != 0 || st.IndexLag != 0 {
		t.Fatalf("status without search: enabled %v, indexed %d, lag %d", st.SearchEnabled, st.IndexedHeight, st.IndexLag)
	}

	// tx status with inclusion proof
	ts, err := cl.Tx(ctx, put.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if ts.Status != client.StatusCommitted || ts.Height != putHeight || ts.Tx == nil || ts.Tx.Hash() != put.Hash() {
		t.Fatalf("tx status = %+v", ts)
	}
	if err := ts.VerifyInclusion(); err != nil {
		t.Fatalf("inclusion proof: %v", err)
	}
	// tampered proof is refused
	bad := *ts
	badRoot := *ts.TxRoot
	badRoot[0] ^= 1
	bad.TxRoot = &badRoot
	if bad.VerifyInclusion() == nil {
		t.Fatal("inclusion proof verified against a wrong root")
	}

	// block, audited
	blk, err := cl.Block(ctx, putHeight)
	if err != nil {
		t.Fatal(err)
	}
	vals, _ := st.ValidatorSet()
	if err := blk.Verify(apitest.ChainID, vals); err != nil {
		t.Fatalf("block audit: %v", err)
	}
	if err := ts.VerifyIn(blk); err != nil {
		t.Fatalf("tx in its verified block: %v", err)
	}
	if other, _ := cl.Block(ctx, putHeight+1); ts.VerifyIn(other) == nil {
		t.Fatal("tx verified in another block")
	}
	if blk.Txs[0].Tx == nil || blk.Txs[0].Hash != put.Hash() {
		t.Fatalf("block txs = %+v", blk.Txs)
	}
	latest, err := cl.LatestBlock(ctx)
	if err != nil || latest.Height != head.Height || latest.Hash != head.Hash {
		t.Fatalf("latest = %+v, %v", latest, err)
	}
	// Tampering with any part of a block breaks the audit.
	for name, mut := range map[string]func(b *client.Block){
		"tx bytes":      func(b *client.Block) { b.Txs[0].BytesHex = flipHex(b.Txs[0].BytesHex, 20) },
		"receipt":       func(b *client.Block) { b.Receipts[0].OK = false },
		"header field":  func(b *client.Block) { b.Header.Time++ },
		"signature":     func(b *client.Block) { b.Certificate.Signatures[0].Signature = strings.Repeat("00", 64) },
		"cert hash":     func(b *client.Block) { b.Certificate.BlockHash[0] ^= 1 },
		"sign bytes":    func(b *client.Block) { b.Certificate.Signatures[0].SignBytesHex = "00" },
		"drop receipts": func(b *client.Block) { b.Receipts = nil },
	} {
		cp, _ := cl.Block(ctx, putHeight)
		mut(cp)
		if err := cp.Verify(apitest.ChainID, vals); err == nil {
			t.Errorf("tampered block (%s) verified", name)
		}
	}

	// kv now and at the put's height
	v, err := cl.KV(ctx, "greeting/en", 0)
	if err != nil || v.Value != "hi" || v.Version != 2 || v.ReadHeight != head.Height {
		t.Fatalf("kv = %+v, %v", v, err)
	}
	v, err = cl.KV(ctx, "greeting/en", putHeight)
	if err != nil || v.Value != "hello" || v.Version != 1 || v.Height != putHeight || v.TxHash != put.Hash() {
		t.Fatalf("kv at %d = %+v, %v", putHeight, v, err)
	}
	if _, err := cl.KV(ctx, "nope", 0); !client.IsNotFound(err) {
		t.Fatalf("absent key: %v", err)
	}

	// history
	hist, err := cl.History(ctx, "greeting/en", "", 0)
	if err != nil || len(hist.Versions) != 2 || hist.Versions[0].Value != "hello" || hist.Versions[1].Value != "hi" || hist.NextCursor != "" {
		t.Fatalf("history = %+v, %v", hist, err)
	}

	// accounts
	acc, err := cl.Account(ctx, alice.Public().Address())
	if err != nil || acc.Nonce != 3 || acc.Balance != apitest.Balance-250 || acc.Height != head.Height {
		t.Fatalf("alice = %+v, %v", acc, err)
	}
	acc, err = cl.Account(ctx, bob.Public().Address())
	if err != nil || acc.Nonce != 0 || acc.Balance != apitest.Balance+250 {
		t.Fatalf("bob = %+v, %v", acc, err)
	}
	txs, err := cl.AccountTxs(ctx, alice.Public().Address(), "", 0)
	if err != nil || len(txs.Txs) != 3 || txs.Txs[0].Hash != put2.Hash() || txs.Txs[2].Hash != put.Hash() {
		t.Fatalf("alice txs = %+v, %v", txs, err)
	}
	txs, err = cl.AccountTxs(ctx, bob.Public().Address(), "", 0)
	if err != nil || len(txs.Txs) != 1 || txs.Txs[0].Hash != tr.Hash() || txs.Txs[0].Type != "transfer" {
		t.Fatalf("bob txs = %+v, %v", txs, err)
	}
	// paging: one at a time, newest first, same order as all at once
	var paged []crypto.Hash
	cursor := ""
	for i := 0; i < 10; i++ {
		p, err := cl.AccountTxs(ctx, alice.Public().Address(), cursor, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Txs {
			paged = append(paged, s.Hash)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if fmt.Sprint(paged) != fmt.Sprint([]crypto.Hash{put2.Hash(), tr.Hash(), put.Hash()}) {
		t.Fatalf("paged account txs = %v", paged)
	}

	// unknown tx
	ts, err = cl.Tx(ctx, crypto.Sum([]byte("nothing")))
	if err != nil || ts.Status != client.StatusUnknown {
		t.Fatalf("unknown tx = %+v, %v", ts, err)
	}
}

func TestPendingStatus(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	ctx := context.Background()
	c.Pause()
	tx := apitest.Tx(c.Users[0], 1, &types.KVPut{Key: "k", Value: "v"})
	h, err := cl.Submit(ctx, tx)
	if err != nil || h != tx.Hash() {
		t.Fatalf("submit: %v %v", h, err)
	}
	ts, err := cl.Tx(ctx, h)
	if err != nil || ts.Status != client.StatusPending || ts.Tx == nil {
		t.Fatalf("pending tx = %+v, %v", ts, err)
	}
	// wait=commit with a short timeout reports pending, 202
	tx2 := apitest.Tx(c.Users[0], 2, &types.KVPut{Key: "k", Value: "v2"})
	res, err := cl.SubmitWait(ctx, tx2, 50*time.Millisecond)
	if err != nil || res.Status != client.StatusPending {
		t.Fatalf("timed-out wait = %+v, %v", res, err)
	}
	c.Resume()
	c.WaitHeight(1)
	ts, err = cl.Tx(ctx, h)
	if err != nil || ts.Status != client.StatusCommitted {
		t.Fatalf("after resume = %+v, %v", ts, err)
	}
}

func TestBatchSubmit(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	ctx := context.Background()
	alice := c.Users[0]
	var txs []*types.Tx
	for i := 1; i <= 300; i++ {
		txs = append(txs, apitest.Tx(alice, uint64(i), &types.KVPut{Key: fmt.Sprintf("batch/%03d", i), Value: "v"}))
	}
	// one bad signature and one wrong chain in the middle
	badSig := apitest.Tx(c.Users[1], 1, &types.KVPut{Key: "x", Value: "y"})
	badSig.Signature[3] ^= 1
	badSig = reparse(t, badSig)
	wrong := &types.Tx{ChainID: "other", Nonce: 1, Payload: &types.KVPut{Key: "x", Value: "y"}}
	wrong.Sign(c.Users[2])
	all := append(append(append([]*types.Tx{}, txs[:150]...), badSig, wrong), txs[150:]...)
	res, err := cl.SubmitBatchWait(ctx, all, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 300 || res.Errors[150] == nil || res.Errors[150].Code != "bad_signature" || res.Errors[151] == nil || res.Errors[151].Code != "wrong_chain_id" {
		t.Fatalf("batch result: accepted %d, errors %v %v", res.Accepted, res.Errors[150], res.Errors[151])
	}
	for i, r := range res.Results {
		if i == 150 || i == 151 {
			if r != nil {
				t.Fatalf("result for refused tx %d", i)
			}
			continue
		}
		if r == nil || r.Status != client.StatusCommitted {
			t.Fatalf("result %d = %+v", i, r)
		}
	}
	// a batch in which nothing is accepted answers the first error's status
	st, b := do(t, "POST", c.URL+"/v1/txs", mustJSON(t, []*types.Tx{badSig}))
	if st != http.StatusUnauthorized || !bytes.Contains(b, []byte(`"bad_signature"`)) || !bytes.Contains(b, []byte(`"errors"`)) {
		t.Fatalf("all-bad batch: %d %s", st, b)
	}
}

// reparse round-trips a tx through its JSON form (dropping cached bytes, so
// a mutated signature is part of its encoding).
func reparse(t *testing.T, tx *types.Tx) *types.Tx {
	t.Helper()
	b, err := json.Marshal(tx)
	if err != nil {
		t.Fatal(err)
	}
	var out types.Tx
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestProofs(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	ctx := context.Background()
	alice := c.Users[0]
	r1, err := cl.SubmitWait(ctx, apitest.Tx(alice, 1, &types.KVPut{Key: "doc", Value: "v1"}), 5*time.Second)
	if err != nil || r1.Status != client.StatusCommitted {
		t.Fatal(r1, err)
	}
	r2, err := cl.SubmitWait(ctx, apitest.Tx(alice, 2, &types.KVPut{Key: "doc", Value: "v2"}), 5*time.Second)
	if err != nil || r2.Status != client.StatusCommitted {
		t.Fatal(r2, err)
	}
	r3, err := cl.SubmitWait(ctx, apitest.Tx(alice, 3, &types.KVDelete{Key: "doc"}), 5*time.Second)
	if err != nil || r3.Status != client.StatusCommitted {
		t.Fatal(r3, err)
	}
	st, _ := cl.Status(ctx)
	vals, err := st.ValidatorSet()
	if err != nil {
		t.Fatal(err)
	}
	// membership at a past height
	p, err := cl.KVProof(ctx, "doc", r1.Height)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(apitest.ChainID, vals); err != nil {
		t.Fatalf("proof at %d: %v", r1.Height, err)
	}
	if !p.Live() || p.Entry.Value != "v1" || p.Height != r1.Height {
		t.Fatalf("proof at %d: %+v", r1.Height, p)
	}
	// latest: a tombstone (found, deleted)
	p, err = cl.KVProof(ctx, "doc", 0)
	if err != nil || p.Verify(apitest.ChainID, vals) != nil || !p.Found || p.Live() || !p.Entry.Deleted {
		t.Fatalf("tombstone proof: %+v %v", p, err)
	}
	// absence
	p, err = cl.KVProof(ctx, "never-written", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(apitest.ChainID, vals); err != nil || p.Found {
		t.Fatalf("absence proof: %v %+v", err, p)
	}
	// A proof is bound to its key, chain, validators and value.
	good, _ := cl.KVProof(ctx, "doc", r2.Height)
	if err := good.Verify(apitest.ChainID, vals); err != nil {
		t.Fatal(err)
	}
	other := apitest.Key('x', 9)
	otherVals, _ := types.NewValidatorSet([]types.Validator{{Name: "evil", PublicKey: other.Public(), Power: 1}})
	for name, check := range map[string]func() error{
		"wrong chain":      func() error { return good.Verify("other-chain", vals) },
		"wrong validators": func() error { return good.Verify(apitest.ChainID, otherVals) },
		"other key": func() error {
			cp := *good
			cp.Key = "doc2"
			return cp.Verify(apitest.ChainID, vals)
		},
		"claimed absent": func() error {
			cp := *good
			cp.Found, cp.Entry, cp.ValueHex = false, nil, ""
			return cp.Verify(apitest.ChainID, vals)
		},
		"changed value": func() error {
			cp := *good
			e := *cp.Entry
			e.Value = "v3"
			cp.Entry = &e
			cp.ValueHex = hex.EncodeToString(e.Encode())
			return cp.Verify(apitest.ChainID, vals)
		},
		"other height's header": func() error {
			cp := *good
			old, _ := cl.KVProof(ctx, "doc", r1.Height)
			cp.HeaderHex, cp.Header, cp.Certificate = old.HeaderHex, old.Header, old.Certificate
			cp.Height = r1.Height
			return cp.Verify(apitest.ChainID, vals)
		},
	} {
		if err := check(); err == nil {
			t.Errorf("%s: forged proof verified", name)
		}
	}
}

// TestInclusionProofsOfOneBlock checks every position of a 7-tx block
// (an odd size exercises RFC 6962's unbalanced right edge).
func TestInclusionProofsOfOneBlock(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	ctx := context.Background()
	c.Pause()
	var txs []*types.Tx
	for i := 1; i <= 7; i++ {
		txs = append(txs, apitest.Tx(c.Users[0], uint64(i), &types.KVPut{Key: fmt.Sprint("k", i), Value: "v"}))
	}
	if _, err := cl.SubmitBatch(ctx, txs); err != nil {
		t.Fatal(err)
	}
	c.Resume()
	c.WaitHeight(1)
	for i, tx := range txs {
		ts, err := cl.Tx(ctx, tx.Hash())
		if err != nil || ts.Height != 1 || ts.Index == nil || int(*ts.Index) != i {
			t.Fatalf("tx %d: %+v %v", i, ts, err)
		}
		if err := ts.VerifyInclusion(); err != nil {
			t.Fatal(err)
		}
		h := tx.Hash()
		if r, _ := merkle.RootFromProof(h[:], *ts.Proof); r != *ts.TxRoot {
			t.Fatalf("tx %d: proof gives %s, root %s", i, r, ts.TxRoot)
		}
	}
}
