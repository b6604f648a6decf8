package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/blobstore"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/snapshot"
	"github.com/cairn-db/cairn/internal/txfixtures"
	"github.com/cairn-db/cairn/types"
)

// brokenBackend fails every way a backend can: reads panic (a bug,
// recovered as a 500) and the node is not ready.
type brokenBackend struct{}

func (brokenBackend) Ledger() *ledger.Ledger                { panic("ledger unreadable") }
func (brokenBackend) Submit(txs []*types.Tx) []error        { panic("mempool unreachable") }
func (brokenBackend) Pending(crypto.Hash) (*types.Tx, bool) { panic("mempool unreachable") }
func (brokenBackend) Info() api.NodeInfo                    { panic("no info") }
func (brokenBackend) Ready() error                          { return errors.New("consensus is not running") }

// brokenGatherer fails to gather metrics.
type brokenGatherer struct{}

func (brokenGatherer) Gather() ([]*dto.MetricFamily, error) {
	return nil, errors.New("collector failed")
}

// noErrorCase names the operations that cannot answer an error a test can
// provoke, and why.
var noErrorCase = map[string]string{
	"GET /healthz":         "answers 200 whenever the process serves HTTP",
	"GET /v1/openapi.json": "serves a constant document",
	"GET /v1/snapshots":    "lists the snapshots held, an empty list when the node takes none",
}

// conformance sends requests and checks each, and its answer, against the
// served OpenAPI document with an independent OpenAPI 3.1 validator
// (libopenapi-validator), recording which operations answered 2xx and
// which answered an error.
type conformance struct {
	t       *testing.T
	v       validator.Validator
	covered map[string]map[bool]bool // "METHOD /path/{template}" -> success? -> seen
}

// reqCheck says what the validator must think of a request.
type reqCheck int

const (
	reqValid   reqCheck = iota // the request conforms
	reqInvalid                 // the document itself refuses it (a bad parameter or body)
)

type call struct {
	name   string
	base   string // server URL; "" for the chain's
	method string
	url    string // path and query
	header http.Header
	body   []byte
	status int
	req    reqCheck
	// stream reads only up to the first event (text/event-stream).
	stream bool
}

func formatErrs(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("\n    - " + e.Message + ": " + e.Reason)
		for _, s := range e.SchemaValidationErrors {
			b.WriteString("\n        " + s.Reason + " at " + s.FieldPath + " (" + s.KeywordLocation + ")")
		}
	}
	return b.String()
}

func (cf *conformance) do(base string, c call) []byte {
	t := cf.t
	t.Helper()
	if c.base != "" {
		base = c.base
	}
	newReq := func(ctx context.Context) *http.Request {
		var body io.Reader
		if c.body != nil {
			body = bytes.NewReader(c.body)
		}
		r, err := http.NewRequestWithContext(ctx, c.method, base+c.url, body)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.body != nil {
			r.Header.Set("Content-Type", "application/json")
		}
		for k, vs := range c.header {
			r.Header[k] = vs
		}
		return r
	}
	// The request, as the document sees it.
	ok, errs := cf.v.ValidateHttpRequestSync(newReq(context.Background()))
	switch {
	case c.req == reqValid && !ok:
		t.Errorf("%s: %s %s: the request does not conform:%s", c.name, c.method, c.url, formatErrs(errs))
	case c.req == reqInvalid && ok:
		t.Errorf("%s: %s %s: the document accepts a request the server refuses", c.name, c.method, c.url)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(newReq(ctx))
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	var body []byte
	if c.stream {
		// The first event, then hang up.
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadBytes('\n')
			body = append(body, line...)
			if err != nil || (len(line) == 1 && bytes.Contains(body, []byte("data:"))) {
				break
			}
		}
		cancel()
	} else if body, err = io.ReadAll(resp.Body); err != nil {
		t.Fatalf("%s: read: %v", c.name, err)
	}
	resp.Body.Close()
	if resp.StatusCode != c.status {
		t.Errorf("%s: %s %s: status %d, want %d: %s", c.name, c.method, c.url, resp.StatusCode, c.status, body)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if ok, errs := cf.v.ValidateHttpResponse(newReq(context.Background()), resp); !ok {
		t.Errorf("%s: %s %s -> %d: the answer does not conform:%s\n    body: %.600s", c.name, c.method, c.url, resp.StatusCode, formatErrs(errs), body)
	}

	key := c.method + " " + template(c.url)
	if cf.covered[key] == nil {
		cf.covered[key] = map[bool]bool{}
	}
	cf.covered[key][resp.StatusCode < 300] = true
	return body
}

// template maps a request path to the document's path template.
func template(u string) string {
	p, _, _ := strings.Cut(u, "?")
	seg := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(seg) >= 3 && seg[0] == "v1" {
		switch seg[1] {
		case "txs", "blobs":
			seg[2] = "{hash}"
		case "blocks":
			seg[2] = "{height}"
		case "kv", "validators":
			seg[2] = "{key}"
		case "accounts":
			seg[2] = "{address}"
		case "fields":
			seg[2] = "{id}"
		case "snapshots":
			seg[2] = "{height}"
			if len(seg) >= 5 {
				seg[4] = "{index}"
			}
		case "contracts":
			seg[2] = "{name}"
			if len(seg) >= 5 && seg[3] == "keys" {
				seg[4] = "{key}"
			}
		case "staking":
			if len(seg) >= 4 && seg[2] == "validators" {
				seg[3] = "{key}"
			}
			if len(seg) >= 4 && seg[2] == "delegators" {
				seg[3] = "{address}"
			}
		}
	}
	return "/" + strings.Join(seg, "/")
}

// TestOpenAPIConformance checks the served OpenAPI document against real
// answers: a success and an error of every operation it lists, each
// request and each answer validated by libopenapi-validator. An operation
// of the document that no case exercised fails the test.
func TestOpenAPIConformance(t *testing.T) {
	snaps := &lateSnapshots{}
	blobs, err := blobstore.OpenFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := apitest.New(t, apitest.Options{Search: true, API: api.Config{Blobs: blobs, MaxBlobBytes: 1 << 20, Snapshots: snaps}})
	cl := c.Client()
	ctx := context.Background()

	// The served document, parsed by the validator's own library.
	resp, err := http.Get(c.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	v, verrs := validator.NewValidator(doc)
	if len(verrs) > 0 {
		t.Fatalf("validator: %v", verrs)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		t.Fatalf("openapi.json is not a valid OpenAPI document:%s", formatErrs(errs))
	}
	cf := &conformance{t: t, v: v, covered: map[string]map[bool]bool{}}

	// A server whose every dependency fails: the 500s (and a 503) that a
	// client cannot provoke on a healthy node.
	reg := prometheus.NewRegistry()
	broken := httptest.NewServer(api.New(api.Config{Backend: brokenBackend{}, Gatherer: brokenGatherer{}, Registerer: reg}))
	defer broken.Close()

	// Some history: every tx type, a failed tx, a deletion, a payment field.
	u := c.Users
	alice, bob := u[0], u[1]
	fieldOpen, _ := txfixtures.Payload(types.TxFieldOpen, apitest.ChainID, alice)
	fieldID := fieldOpen.(*types.FieldOpen).FieldID
	candidate := apitest.Key('c', 0)
	first := apitest.Tx(alice, 1, &types.KVPut{Key: "fruit/apple", Value: "red apples"})
	conflict := apitest.Tx(alice, 5, &types.KVPut{Key: "fruit/apple", Value: "lost", ExpectVersion: u64p(1)}) // fails: version conflict
	for i, tx := range []*types.Tx{
		first,
		apitest.Tx(alice, 2, &types.Transfer{To: bob.Public().Address(), Amount: 10}),
		apitest.Tx(alice, 3, &types.Record{Document: []byte(`{"note":"thanks","amount":5}`)}),
		apitest.Tx(alice, 4, &types.KVPut{Key: "fruit/apple", Value: "green apples", ExpectVersion: u64p(1)}),
		conflict,
		apitest.Tx(alice, 5, &types.KVDelete{Key: "fruit/apple"}), // a failed tx uses no nonce
		apitest.Tx(alice, 6, fieldOpen),
		apitest.Tx(alice, 7, &types.ContractDeploy{Code: txfixtures.ContractModule}),
		apitest.Tx(alice, 8, &types.ContractInstantiate{Name: txfixtures.ContractName, CodeHash: txfixtures.ContractCodeHash(), Owner: alice.Public().Address(), GasLimit: txfixtures.ContractGas}),
		apitest.Tx(alice, 9, stakingRegister(alice, candidate)),
		apitest.Tx(alice, 10, &types.StakeDelegate{Validator: candidate.Public(), Amount: 50}),
	} {
		if r, err := cl.SubmitWait(ctx, tx, 5*time.Second); err != nil || (r.Status != client.StatusCommitted && r.Status != client.StatusFailed) {
			t.Fatalf("setup tx %d: %+v %v", i, r, err)
		}
	}
	c.WaitIndexed()
	head := c.Ledger.Head().Height
	snapStore, err := snapshot.Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	pin := c.Ledger.Pin()
	_, err = snapStore.Take(t.Context(), pin, apitest.ChainID)
	pin.Close()
	if err != nil {
		t.Fatal(err)
	}
	snaps.set(snapStore.API())
	h := func(n uint64) string { return itoa(n) }
	addr := alice.Public().Address().String()

	tx := func(nonce uint64, p types.Payload) []byte { return mustJSON(t, apitest.Tx(bob, nonce, p)) }
	badSig := apitest.Tx(bob, 1, &types.KVPut{Key: "b", Value: "1"})
	badSig.Signature[0] ^= 1
	wrongChain := &types.Tx{ChainID: "elsewhere", Nonce: 1, Timestamp: 1, Payload: &types.Transfer{To: addr2(alice), Amount: 1}}
	wrongChain.Sign(bob)
	octets := http.Header{"Content-Type": {"application/octet-stream"}}
	huge := mustJSON(t, apitest.Tx(bob, 1, &types.KVPut{Key: "big", Value: strings.Repeat("x", 5<<20)}))

	calls := []call{
		{name: "status", method: "GET", url: "/v1/status", status: 200},
		{name: "status, broken node", base: broken.URL, method: "GET", url: "/v1/status", status: 500},

		{name: "submit", method: "POST", url: "/v1/txs", body: tx(1, &types.KVPut{Key: "b/1", Value: "one"}), status: 202},
		{name: "submit and wait", method: "POST", url: "/v1/txs?wait=commit&timeout=5s", body: tx(2, &types.Transfer{To: addr2(alice), Amount: 3}), status: 200},
		{name: "batch", method: "POST", url: "/v1/txs", body: mustJSON(t, []*types.Tx{apitest.Tx(bob, 3, &types.Record{Document: []byte(`[1,2]`)})}), status: 202},
		{name: "batch and wait", method: "POST", url: "/v1/txs?wait=commit", body: mustJSON(t, []*types.Tx{apitest.Tx(bob, 4, &types.KVDelete{Key: "b/1"}), first}), status: 200},
		{name: "malformed", method: "POST", url: "/v1/txs", body: []byte(`{"chain_id":`), status: 400, req: reqInvalid},
		{name: "bad signature", method: "POST", url: "/v1/txs", body: mustJSON(t, badSig), status: 401},
		{name: "replay", method: "POST", url: "/v1/txs", body: mustJSON(t, first), status: 409},
		{name: "replay batch", method: "POST", url: "/v1/txs", body: mustJSON(t, []*types.Tx{first}), status: 409},
		{name: "too large", method: "POST", url: "/v1/txs", body: huge, status: 413},
		{name: "wrong chain", method: "POST", url: "/v1/txs", body: mustJSON(t, wrongChain), status: 422},
		{name: "not JSON content type", method: "POST", url: "/v1/txs", header: http.Header{"Content-Type": {"text/plain"}}, body: tx(9, &types.KVPut{Key: "b/9", Value: "x"}), status: 415, req: reqInvalid},
		{name: "bad wait", method: "POST", url: "/v1/txs?wait=soon", body: tx(9, &types.KVPut{Key: "b/9", Value: "x"}), status: 400, req: reqInvalid},
		{name: "submit, broken node", base: broken.URL, method: "POST", url: "/v1/txs", body: tx(9, &types.KVPut{Key: "b/9", Value: "x"}), status: 500},

		{name: "tx", method: "GET", url: "/v1/txs/" + first.Hash().String(), status: 200},
		{name: "tx proof", method: "GET", url: "/v1/txs/" + first.Hash().String() + "?prove=true", status: 200},
		{name: "failed tx proof", method: "GET", url: "/v1/txs/" + conflict.Hash().String() + "?prove=true", status: 200},
		{name: "tx bad prove", method: "GET", url: "/v1/txs/" + first.Hash().String() + "?prove=maybe", status: 400, req: reqInvalid},
		{name: "unknown tx", method: "GET", url: "/v1/txs/" + crypto.Hash{1}.String(), status: 404},
		{name: "bad tx hash", method: "GET", url: "/v1/txs/xyz", status: 400, req: reqInvalid},

		{name: "block", method: "GET", url: "/v1/blocks/1", status: 200},
		{name: "block decoded", method: "GET", url: "/v1/blocks/1?decode=true", status: 200}, // a kv.put: it once matched two branches of a oneOf
		{name: "latest block", method: "GET", url: "/v1/blocks/latest?decode=true", status: 200},
		{name: "future block", method: "GET", url: "/v1/blocks/" + h(head+100), status: 404},
		{name: "bad height", method: "GET", url: "/v1/blocks/abc", status: 400, req: reqInvalid},

		{name: "kv", method: "GET", url: "/v1/kv/b%2F1?height=" + h(head+1), status: 200},
		{name: "kv proof", method: "GET", url: "/v1/kv/fruit%2Fapple?prove=true&height=2", status: 200},
		{name: "kv absence proof", method: "GET", url: "/v1/kv/none?prove=true", status: 200},
		{name: "deleted kv", method: "GET", url: "/v1/kv/fruit%2Fapple", status: 404},
		{name: "kv bad height", method: "GET", url: "/v1/kv/fruit%2Fapple?height=x", status: 400, req: reqInvalid},

		{name: "history", method: "GET", url: "/v1/kv/fruit%2Fapple/history?limit=2", status: 200},
		{name: "history, no key", method: "GET", url: "/v1/kv/none/history", status: 404},
		{name: "history bad cursor", method: "GET", url: "/v1/kv/fruit%2Fapple/history?cursor=zz", status: 400},

		{name: "account", method: "GET", url: "/v1/accounts/" + addr, status: 200},
		{name: "account at height", method: "GET", url: "/v1/accounts/" + addr + "?height=1", status: 200},
		{name: "account proof", method: "GET", url: "/v1/accounts/" + addr + "?prove=true&height=2", status: 200},
		{name: "account absence proof", method: "GET", url: "/v1/accounts/" + crypto.Address{7}.String() + "?prove=true", status: 200},
		{name: "account future height", method: "GET", url: "/v1/accounts/" + addr + "?height=" + h(head+100), status: 404},
		{name: "bad address", method: "GET", url: "/v1/accounts/xyz", status: 400, req: reqInvalid},
		{name: "account txs", method: "GET", url: "/v1/accounts/" + addr + "/txs?limit=3", status: 200},
		{name: "account txs bad limit", method: "GET", url: "/v1/accounts/" + addr + "/txs?limit=0", status: 400, req: reqInvalid},

		{name: "events", method: "GET", url: "/v1/events?from=1", status: 200, stream: true},
		{name: "events bad from", method: "GET", url: "/v1/events?from=x", status: 400, req: reqInvalid},
		{name: "events bad Last-Event-ID", method: "GET", url: "/v1/events", header: http.Header{"Last-Event-Id": {"x"}}, status: 400, req: reqInvalid},

		{name: "validators", method: "GET", url: "/v1/validators", status: 200},
		{name: "validators of a height", method: "GET", url: "/v1/validators?height=2", status: 200},
		{name: "validators bad height", method: "GET", url: "/v1/validators?height=x", status: 400, req: reqInvalid},
		{name: "validators future height", method: "GET", url: "/v1/validators?height=" + h(head+100), status: 404},
		{name: "validator", method: "GET", url: "/v1/validators/" + c.Ledger.Validators().Validators[0].PublicKey.String(), status: 200},
		{name: "validator unknown", method: "GET", url: "/v1/validators/" + bob.Public().String(), status: 404},
		{name: "validator with stake", method: "GET", url: "/v1/validators/" + candidate.Public().String(), status: 200},
		{name: "validator bad key", method: "GET", url: "/v1/validators/xyz", status: 400, req: reqInvalid},

		{name: "evidence", method: "GET", url: "/v1/evidence", status: 200},
		{name: "evidence, broken node", base: broken.URL, method: "GET", url: "/v1/evidence", status: 500},

		{name: "search", method: "GET", url: "/v1/search?q=apples&sort=_score&limit=2", status: 200},
		{name: "search with proofs", method: "GET", url: "/v1/search?q=apples&limit=5&prove=true", status: 200},
		{name: "search bad query", method: "GET", url: "/v1/search?q=amount:%3Ex", status: 400},
		{name: "search without q", method: "GET", url: "/v1/search", status: 400, req: reqInvalid},
		{name: "search disabled", base: broken.URL, method: "GET", url: "/v1/search?q=x", status: 503},

		{name: "field", method: "GET", url: "/v1/fields/" + fieldID.String(), status: 200},
		{name: "unknown field", method: "GET", url: "/v1/fields/" + crypto.Hash{1}.String(), status: 404},
		{name: "bad field id", method: "GET", url: "/v1/fields/xyz", status: 400, req: reqInvalid},

		{name: "snapshots", method: "GET", url: "/v1/snapshots", status: 200},
		{name: "snapshot", method: "GET", url: "/v1/snapshots/" + h(head), status: 200},
		{name: "no snapshot", method: "GET", url: "/v1/snapshots/" + h(head+100), status: 404},
		{name: "snapshot bad height", method: "GET", url: "/v1/snapshots/0", status: 400, req: reqInvalid},
		{name: "snapshot chunk", method: "GET", url: "/v1/snapshots/" + h(head) + "/chunks/0", status: 200},
		{name: "no snapshot chunk", method: "GET", url: "/v1/snapshots/" + h(head) + "/chunks/99", status: 404},
		{name: "snapshot bad chunk", method: "GET", url: "/v1/snapshots/" + h(head) + "/chunks/x", status: 400, req: reqInvalid},
		{name: "contracts", method: "GET", url: "/v1/contracts?limit=1", status: 200},
		{name: "contracts bad after", method: "GET", url: "/v1/contracts?after=Bad", status: 400},
		{name: "contract", method: "GET", url: "/v1/contracts/fixture", status: 200},
		{name: "unknown contract", method: "GET", url: "/v1/contracts/nobody", status: 404},
		{name: "contract key", method: "GET", url: "/v1/contracts/fixture/keys/6b", status: 200},
		{name: "contract key absent", method: "GET", url: "/v1/contracts/fixture/keys/00ff", status: 200},
		{name: "contract key not hex", method: "GET", url: "/v1/contracts/fixture/keys/zz", status: 400, req: reqInvalid},
		{name: "contract key history", method: "GET", url: "/v1/contracts/fixture/keys/6b/history?limit=5", status: 200},
		{name: "contract key history bad limit", method: "GET", url: "/v1/contracts/fixture/keys/6b/history?limit=0", status: 400, req: reqInvalid},
		{name: "contract query", method: "POST", url: "/v1/contracts/fixture/query", body: []byte(`{"function":"get","gas_limit":100000}`), status: 200},
		{name: "contract query unknown field", method: "POST", url: "/v1/contracts/fixture/query", body: []byte(`{"function":"get","gas":1}`), status: 400, req: reqInvalid},
		{name: "put blob", method: "PUT", url: "/v1/blobs", header: octets, body: []byte("bulk payload"), status: 201},
		{name: "put blob over the limit", method: "PUT", url: "/v1/blobs", header: octets, body: make([]byte, 1<<20+1), status: 413},
		{name: "get blob", method: "GET", url: "/v1/blobs/" + crypto.Sum([]byte("bulk payload")).String(), status: 200},
		{name: "get absent blob", method: "GET", url: "/v1/blobs/" + crypto.Sum([]byte("absent")).String(), status: 404},

		{name: "staking params", method: "GET", url: "/v1/staking/params", status: 200},
		{name: "staking params proof", method: "GET", url: "/v1/staking/params?prove=true&height=2", status: 200},
		{name: "staking params bad height", method: "GET", url: "/v1/staking/params?height=x", status: 400, req: reqInvalid},
		{name: "staking validators", method: "GET", url: "/v1/staking/validators", status: 200},
		{name: "staking validators proof", method: "GET", url: "/v1/staking/validators?prove=true", status: 200},
		{name: "staking validators future height", method: "GET", url: "/v1/staking/validators?height=" + h(head+100), status: 404},
		{name: "staking validator", method: "GET", url: "/v1/staking/validators/" + candidate.Public().String() + "?prove=true", status: 200},
		{name: "staking validator unknown", method: "GET", url: "/v1/staking/validators/" + bob.Public().String(), status: 404},
		{name: "staking validator bad key", method: "GET", url: "/v1/staking/validators/xyz", status: 400, req: reqInvalid},
		{name: "staking delegator", method: "GET", url: "/v1/staking/delegators/" + addr + "?prove=true", status: 200},
		{name: "staking delegator bad address", method: "GET", url: "/v1/staking/delegators/xyz", status: 400, req: reqInvalid},
		{name: "staking reward", method: "GET", url: "/v1/staking/rewards?prove=true&height=1", status: 200},
		{name: "staking reward future height", method: "GET", url: "/v1/staking/rewards?height=" + h(head+100), status: 404},

		{name: "openapi", method: "GET", url: "/v1/openapi.json", status: 200},
		{name: "metrics", method: "GET", url: "/metrics", status: 200},
		{name: "metrics, broken node", base: broken.URL, method: "GET", url: "/metrics", status: 500},
		{name: "healthz", method: "GET", url: "/healthz", status: 200},
		{name: "readyz", method: "GET", url: "/readyz", status: 200},
		{name: "readyz, broken node", base: broken.URL, method: "GET", url: "/readyz", status: 503},
	}
	for _, call := range calls {
		cf.do(c.URL, call)
	}
	// The pending tx of a paused chain.
	c.Pause()
	pend := apitest.Tx(bob, 5, &types.KVPut{Key: "b/5", Value: "later"})
	if _, err := cl.Submit(ctx, pend); err != nil {
		t.Fatal(err)
	}
	cf.do(c.URL, call{name: "pending tx", method: "GET", url: "/v1/txs/" + pend.Hash().String(), status: 200})
	cf.do(c.URL, call{name: "wait times out", method: "POST", url: "/v1/txs?wait=commit&timeout=10ms", body: tx(6, &types.KVPut{Key: "b/6", Value: "x"}), status: 202})
	c.Resume()

	// Every operation of the document was exercised, success and error.
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for p, item := range model.Model.Paths.PathItems.FromOldest() {
		for m := range item.GetOperations().FromOldest() {
			key := strings.ToUpper(m) + " " + p
			if !cf.covered[key][true] {
				missing = append(missing, key+" (success)")
			}
			if _, exempt := noErrorCase[key]; !exempt && !cf.covered[key][false] {
				missing = append(missing, key+" (error)")
			}
			delete(cf.covered, key)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("operations of openapi.json no case exercised: %v", missing)
	}
	if len(cf.covered) > 0 {
		t.Errorf("cases for operations openapi.json does not list: %v", cf.covered)
	}
}

// stakingRegister registers candidate's key, operated by from.
func stakingRegister(from, candidate *crypto.PrivateKey) *types.ValidatorRegister {
	p := &types.ValidatorRegister{Name: "candidate", P2PAddr: "127.0.0.1:19901", CommissionBP: 100}
	types.SignRegistration(p, apitest.ChainID, from.Public().Address(), candidate)
	return p
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func addr2(k *crypto.PrivateKey) crypto.Address { return k.Public().Address() }

// lateSnapshots is a snapshot source set once the test chain has blocks to
// snapshot (the API is built before them).
type lateSnapshots struct {
	mu  sync.Mutex
	src api.SnapshotSource
}

func (l *lateSnapshots) set(s api.SnapshotSource) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.src = s
}

func (l *lateSnapshots) get() api.SnapshotSource {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.src
}

func (l *lateSnapshots) List() client.SnapshotList {
	if s := l.get(); s != nil {
		return s.List()
	}
	return client.SnapshotList{Snapshots: []client.SnapshotInfo{}}
}

func (l *lateSnapshots) Wire(h uint64) (client.SnapshotManifest, error) {
	if s := l.get(); s != nil {
		return s.Wire(h)
	}
	return client.SnapshotManifest{}, api.ErrSnapshotNotFound
}

func (l *lateSnapshots) Open(h uint64, i int) (io.ReadSeekCloser, int64, error) {
	if s := l.get(); s != nil {
		return s.Open(h, i)
	}
	return nil, 0, api.ErrSnapshotNotFound
}
