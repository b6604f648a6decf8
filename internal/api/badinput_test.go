package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/api"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// errBody decodes an error response.
func errBody(t *testing.T, b []byte) client.ErrorBody {
	t.Helper()
	var er client.ErrorResponse
	if err := json.Unmarshal(b, &er); err != nil || er.Error.Code == "" || er.Error.Message == "" {
		t.Fatalf("not a JSON error body (%v): %s", err, b)
	}
	return er.Error
}

// TestBadTransactions sends every kind of bad transaction the issue lists
// and checks the documented status and code, and that nothing changed: no
// new block, same state root, nothing pending.
func TestBadTransactions(t *testing.T) {
	c := apitest.New(t, apitest.Options{API: api.Config{MaxBodyBytes: 64 << 10, MaxBatchBodyBytes: 256 << 10}})
	cl := c.Client()
	ctx := context.Background()
	alice, bob := c.Users[0], c.Users[1]

	// Some committed history first, so replays have something to replay.
	first := apitest.Tx(alice, 1, &types.KVPut{Key: "k", Value: "v1"})
	if r, err := cl.SubmitWait(ctx, first, 5*time.Second); err != nil || r.Status != client.StatusCommitted {
		t.Fatalf("setup: %+v %v", r, err)
	}

	valid := func(nonce uint64, p types.Payload) []byte { return mustJSON(t, apitest.Tx(alice, nonce, p)) }
	put := &types.KVPut{Key: "k", Value: "v2"}

	badSig := apitest.Tx(alice, 2, put)
	badSig.Signature[0] ^= 0x80
	wrongChain := &types.Tx{ChainID: "another-chain", Nonce: 2, Timestamp: 1, Payload: put}
	wrongChain.Sign(alice)
	otherSigner := apitest.Tx(bob, 1, put)
	stolen := apitest.Tx(alice, 2, put)
	stolen.Sender = otherSigner.Sender // signed by alice, claims bob

	var withUnknown map[string]any
	_ = json.Unmarshal(valid(2, put), &withUnknown)
	withUnknown["fee"] = 5
	var payloadUnknown map[string]any
	_ = json.Unmarshal(valid(2, put), &payloadUnknown)
	payloadUnknown["payload"].(map[string]any)["ttl"] = 3
	var missing map[string]any
	_ = json.Unmarshal(valid(2, put), &missing)
	delete(missing, "nonce")
	var upperSig map[string]any
	_ = json.Unmarshal(valid(2, put), &upperSig)
	upperSig["signature"] = strings.ToUpper(upperSig["signature"].(string))

	huge := apitest.Tx(alice, 2, &types.KVPut{Key: "big", Value: strings.Repeat("x", 100<<10)})

	cases := []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"malformed JSON", []byte(`{"chain_id": "cairn-apitest", "type": `), 400, "malformed"},
		{"not an object", []byte(`"hello"`), 400, "malformed"},
		{"empty body", nil, 400, "malformed"},
		{"trailing garbage", append(valid(2, put), []byte(" {}")...), 400, "malformed"},
		{"unknown field", mustJSON(t, withUnknown), 400, "malformed"},
		{"unknown payload field", mustJSON(t, payloadUnknown), 400, "malformed"},
		{"missing field", mustJSON(t, missing), 400, "malformed"},
		{"upper-case hex", mustJSON(t, upperSig), 400, "malformed"},
		{"unknown type", bytes.Replace(valid(2, put), []byte(`"kv.put"`), []byte(`"kv.upsert"`), 1), 400, "unknown_type"},
		{"bad signature", mustJSON(t, badSig), 401, "bad_signature"},
		{"signature of another sender", mustJSON(t, stolen), 401, "bad_signature"},
		{"wrong chain id", mustJSON(t, wrongChain), 422, "wrong_chain_id"},
		{"replayed tx", mustJSON(t, first), 409, "replay"},
		{"reused nonce", valid(1, &types.KVPut{Key: "k", Value: "other"}), 409, "bad_nonce"},
		{"nonce too far ahead", valid(1000, put), 409, "bad_nonce"},
		{"overdraft", valid(2, &types.Transfer{To: bob.Public().Address(), Amount: apitest.Balance + 1}), 422, "insufficient_balance"},
		{"oversized body", mustJSON(t, huge), 413, "too_large"},
		{"batch with nothing valid", mustJSON(t, []*types.Tx{first}), 409, "replay"},
		{"empty batch", []byte(`[]`), 400, "malformed"},
		{"malformed batch", []byte(`[{"a":1},`), 400, "malformed"},
	}
	before := c.Ledger.Head()
	for _, tc := range cases {
		st, b := do(t, "POST", c.URL+"/v1/txs", tc.body)
		if st != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, st, tc.status, b)
			continue
		}
		if e := errBody(t, b); e.Code != tc.code {
			t.Errorf("%s: code %q, want %q (%s)", tc.name, e.Code, tc.code, e.Message)
		}
	}
	// The same, with ?wait=commit: refusals do not wait.
	st, b := do(t, "POST", c.URL+"/v1/txs?wait=commit", mustJSON(t, badSig))
	if st != 401 {
		t.Errorf("bad signature with wait: %d %s", st, b)
	}
	// A batch over the batch body limit, and one over the tx count limit.
	big := make([]*types.Tx, 0, 10)
	for i := 0; i < 10; i++ {
		big = append(big, huge)
	}
	if st, b := do(t, "POST", c.URL+"/v1/txs", mustJSON(t, big)); st != 413 || errBody(t, b).Code != "too_large" {
		t.Errorf("oversized batch: %d %s", st, b)
	}

	time.Sleep(20 * time.Millisecond) // let the committer run, were anything pending
	after := c.Ledger.Head()
	if after != before {
		t.Fatalf("bad input changed the chain: %+v -> %+v", before, after)
	}
	if n := c.Mempool.Stats().Txs; n != 0 {
		t.Fatalf("bad input left %d txs pending", n)
	}
	if v, err := cl.KV(ctx, "k", 0); err != nil || v.Value != "v1" {
		t.Fatalf("k = %+v, %v", v, err)
	}
}

// TestRefusedAtExecution covers the two bad inputs that admission cannot
// always catch and that therefore commit as failed receipts which change
// nothing: a stale expect_version (the key's version is only known at
// execution), and an overdraft that only exists after an earlier tx in the
// same block spends the funds.
func TestRefusedAtExecution(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	ctx := context.Background()
	alice, bob := c.Users[0], c.Users[1]
	if r, err := cl.SubmitWait(ctx, apitest.Tx(alice, 1, &types.KVPut{Key: "k", Value: "v1"}), 5*time.Second); err != nil || r.Status != client.StatusCommitted {
		t.Fatalf("setup: %+v %v", r, err)
	}
	before := c.Ledger.Head()

	stale := apitest.Tx(alice, 2, &types.KVPut{Key: "k", Value: "v2", ExpectVersion: u64p(7)})
	r, err := cl.SubmitWait(ctx, stale, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != client.StatusFailed || r.Receipt.Code != types.CodeVersionConflict {
		t.Fatalf("stale expect_version: %+v", r)
	}
	after := c.Ledger.Head()
	if after.Height != before.Height+1 || after.StateRoot != before.StateRoot {
		t.Fatalf("failed CAS changed state: %+v -> %+v", before, after)
	}
	if v, _ := cl.KV(ctx, "k", 0); v.Value != "v1" || v.Version != 1 {
		t.Fatalf("k after failed CAS = %+v", v)
	}
	if a, _ := cl.Account(ctx, alice.Public().Address()); a.Nonce != 1 {
		t.Fatalf("failed tx consumed a nonce: %+v", a)
	}
	// The same signed bytes can never be replayed, even though they failed.
	st, b := do(t, "POST", c.URL+"/v1/txs", mustJSON(t, stale))
	if st != 409 {
		t.Fatalf("replay of failed tx: %d %s", st, b)
	}
	ts, _ := cl.Tx(ctx, stale.Hash())
	if ts.Status != client.StatusFailed || ts.Receipt.Code != types.CodeVersionConflict {
		t.Fatalf("failed tx status = %+v", ts)
	}
	_ = bob
}

// TestBadParams checks the query and path validation of the read endpoints.
func TestBadParams(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cases := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/v1/txs/xyz", 400, "bad_request"},
		{"GET", "/v1/blocks/abc", 400, "bad_request"},
		{"GET", "/v1/blocks/-1", 400, "bad_request"},
		{"GET", "/v1/blocks/0", 404, "not_found"},
		{"GET", "/v1/blocks/99", 404, "not_found"},
		{"GET", "/v1/blocks/latest", 404, "not_found"},
		{"GET", "/v1/kv/a?height=x", 400, "bad_request"},
		{"GET", "/v1/kv/a?height=99", 404, "not_found"},
		{"GET", "/v1/kv/a?prove=maybe", 400, "bad_request"},
		{"GET", "/v1/kv/a?prove=true", 404, "not_found"},
		{"GET", "/v1/kv/a?prove=true&height=0", 400, "bad_request"},
		{"GET", "/v1/kv/" + strings.Repeat("k", 1025), 400, "bad_request"},
		{"GET", "/v1/kv/%FF", 400, "bad_request"},
		{"GET", "/v1/kv/a/history?limit=0", 400, "bad_request"},
		{"GET", "/v1/kv/a/history?limit=100000", 400, "bad_request"},
		{"GET", "/v1/kv/a/history?cursor=zz", 400, "bad_request"},
		{"GET", "/v1/kv/a/history", 404, "not_found"},
		{"GET", "/v1/accounts/nothex", 400, "bad_request"},
		{"GET", "/v1/accounts/" + strings.Repeat("ab", 20) + "/txs?cursor=1", 400, "bad_request"},
		{"GET", "/v1/events?from=x", 400, "bad_request"},
		{"POST", "/v1/txs?wait=forever", 400, "bad_request"},
		{"POST", "/v1/txs?wait=commit&timeout=1h", 400, "bad_request"},
		{"POST", "/v1/txs?wait=commit&timeout=NaN", 400, "bad_request"},
		{"POST", "/v1/txs?wait=commit&timeout=-1", 400, "bad_request"},
		{"DELETE", "/v1/txs", 405, "method_not_allowed"},
		{"POST", "/v1/status", 405, "method_not_allowed"},
		{"PUT", "/v1/kv/a", 405, "method_not_allowed"},
		{"GET", "/v2/status", 404, "not_found"},
		{"GET", "/nothing-here", 404, "not_found"},
		{"POST", "/", 405, "method_not_allowed"}, // the explorer's page
	}
	for _, tc := range cases {
		st, b := do(t, tc.method, c.URL+tc.path, nil)
		if st != tc.status {
			t.Errorf("%s %s: status %d, want %d: %s", tc.method, tc.path, st, tc.status, b)
			continue
		}
		if e := errBody(t, b); e.Code != tc.code {
			t.Errorf("%s %s: code %q, want %q", tc.method, tc.path, e.Code, tc.code)
		}
	}
	// A body on a GET is bounded too.
	st, b := do(t, "GET", c.URL+"/v1/status", bytes.Repeat([]byte("x"), 1<<20))
	if st != 200 && st != 413 {
		t.Fatalf("GET with a large body: %d %s", st, b)
	}
}

// TestNoServerErrorsOnGarbage throws random mutations of valid requests at
// the API: nothing may answer 5xx or panic.
func TestNoServerErrorsOnGarbage(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	rng := rand.New(rand.NewSource(1))
	valid := mustJSON(t, apitest.Tx(c.Users[0], 1, &types.KVPut{Key: "k", Value: "v", ExpectVersion: u64p(0)}))
	alphabet := []byte(`{}[]":,0123456789abcdef-.eE \\u"truefalsenull`)
	for i := 0; i < 300; i++ {
		b := append([]byte(nil), valid...)
		for n := rng.Intn(4) + 1; n > 0; n-- {
			switch rng.Intn(3) {
			case 0:
				b[rng.Intn(len(b))] = alphabet[rng.Intn(len(alphabet))]
			case 1:
				j := rng.Intn(len(b))
				b = append(b[:j], b[j+1:]...)
			case 2:
				j := rng.Intn(len(b))
				b = append(b[:j], append([]byte{alphabet[rng.Intn(len(alphabet))]}, b[j:]...)...)
			}
		}
		if i%3 == 0 {
			b = append(append([]byte("["), b...), ']')
		}
		st, body := do(t, "POST", c.URL+"/v1/txs", b)
		if st >= 500 {
			t.Fatalf("body %q: status %d: %s", b, st, body)
		}
	}
	paths := []string{"/v1/kv/", "/v1/txs/", "/v1/blocks/", "/v1/accounts/", "/v1/kv/x/history?cursor=", "/v1/accounts/" + strings.Repeat("0", 40) + "/txs?cursor="}
	junk := []string{"", "%", "%2F", "..", "9999999999999999999999", "0x10", "1.2", "-", "latest", "%00", "a%2Fb", "\u00e9"}
	for _, p := range paths {
		for _, j := range junk {
			req, err := http.NewRequest("GET", c.URL+p+j, nil)
			if err != nil {
				continue // not even a URL
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Fatalf("GET %s%s: %d", p, j, resp.StatusCode)
			}
		}
	}
}

// TestSlowBodyTimesOut: a client that stops sending its body mid-way gets
// 408 once the request deadline passes, instead of holding a handler.
func TestSlowBodyTimesOut(t *testing.T) {
	c := apitest.New(t, apitest.Options{API: api.Config{RequestTimeout: 200 * time.Millisecond}})
	conn, err := net.Dial("tcp", strings.TrimPrefix(c.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"chain_id\":")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || errBody(t, b).Code != "timeout" {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
}

// A POST must say Content-Type: application/json. A web page can send a
// "simple" cross-origin POST (text/plain, form encodings) to a node on the
// user's machine without a CORS preflight; with this rule it cannot.
func TestPostNeedsJSONContentType(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	alice := c.Users[0]
	for i, ct := range []string{"", "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "garbage;;"} {
		body := mustJSON(t, apitest.Tx(alice, uint64(i+1), &types.KVPut{Key: "ct", Value: "x"}))
		req, err := http.NewRequest("POST", c.URL+"/v1/txs", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType || errBody(t, b).Code != "unsupported_media_type" {
			t.Errorf("Content-Type %q: %d %s, want 415 unsupported_media_type", ct, resp.StatusCode, b)
		}
	}
	for i, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON"} {
		body := mustJSON(t, apitest.Tx(alice, uint64(i+1), &types.KVPut{Key: "ct", Value: "x"}))
		resp, err := http.Post(c.URL+"/v1/txs", ct, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("Content-Type %q: %d %s, want 202", ct, resp.StatusCode, b)
		}
	}
}
