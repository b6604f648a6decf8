package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/store"
	"github.com/cairn-db/cairn/types"
)

// TestOpenAPIMatchesRoutes: every route the server registers is in the
// OpenAPI document with its method and path parameters, and the document
// lists nothing the server does not serve.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	s := New(Config{Backend: nilBackend{}})
	served := map[string]bool{}
	wild := regexp.MustCompile(`\{([a-z_]+)\}`)
	for _, rt := range s.routes {
		key := strings.ToLower(rt.method) + " " + rt.pattern
		served[key] = true
		op, ok := doc.Paths[rt.pattern][strings.ToLower(rt.method)]
		if !ok {
			t.Errorf("route %s %s is not in openapi.json", rt.method, rt.pattern)
			continue
		}
		if op.OperationID == "" || len(op.Responses) == 0 {
			t.Errorf("%s %s: operation lacks an id or responses", rt.method, rt.pattern)
		}
		for _, m := range wild.FindAllStringSubmatch(rt.pattern, -1) {
			found := false
			for _, p := range op.Parameters {
				found = found || (p.In == "path" && p.Name == m[1])
			}
			if !found {
				t.Errorf("%s %s: path parameter %q not documented", rt.method, rt.pattern, m[1])
			}
		}
	}
	var extra []string
	for p, ops := range doc.Paths {
		for m := range ops {
			if !served[m+" "+p] {
				extra = append(extra, m+" "+p)
			}
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("openapi.json documents routes the server does not have: %v", extra)
	}
}

// nilBackend is enough to construct a Server.
type nilBackend struct{}

func (nilBackend) Ledger() *ledger.Ledger                { return nil }
func (nilBackend) Submit(txs []*types.Tx) []error        { return make([]error, len(txs)) }
func (nilBackend) Pending(crypto.Hash) (*types.Tx, bool) { return nil, false }
func (nilBackend) Info() NodeInfo                        { return NodeInfo{} }
func (nilBackend) Ready() error                          { return nil }

// panicBackend panics where a handler calls it: the bug the recovery
// middleware exists for.
type panicBackend struct{ nilBackend }

func (panicBackend) Ledger() *ledger.Ledger { panic("boom") }

func TestPanicRecovered(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(Config{Backend: panicBackend{}, Registerer: reg})
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/v1/status", nil))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", w.Code)
	}
	var er struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &er); err != nil || er.Error.Code != "internal" {
		t.Fatalf("body %s", w.Body)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	panics := -1.0
	for _, mf := range mfs {
		if mf.GetName() == "cairn_api_panics_total" {
			panics = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if panics != 1 {
		t.Fatalf("cairn_api_panics_total = %v, want 1", panics)
	}
	// The server keeps serving.
	w = httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("healthz after panic: %d", w.Code)
	}
}

type notReady struct{ nilBackend }

func (notReady) Ready() error { return ErrUnavailable }

func TestReadyz(t *testing.T) {
	w := httptest.NewRecorder()
	New(Config{Backend: notReady{}}).ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "unavailable") {
		t.Fatalf("readyz not ready: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	New(Config{Backend: nilBackend{}}).ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("readyz: %d %s", w.Code, w.Body)
	}
}

// failingSubmit fails every submission with an error of the node's own.
type failingSubmit struct{ nilBackend }

func (failingSubmit) Submit(txs []*types.Tx) []error {
	errs := make([]error, len(txs))
	for i := range errs {
		errs[i] = errors.New("disk /secret/path is on fire")
	}
	return errs
}

// TestInternalErrorsHideTheDetail: a 500, from an error or a panic,
// answers a fixed message and an id; the detail is logged under that id
// and never sent.
func TestInternalErrorsHideTheDetail(t *testing.T) {
	tx := &types.Tx{ChainID: "c", Nonce: 1, Timestamp: 1, Payload: &types.KVPut{Key: "k", Value: "v"}}
	tx.Sign(crypto.MustKeyFromSeed([crypto.SeedSize]byte{1}))
	body, err := json.Marshal(tx)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		b      Backend
		method string
		path   string
		body   string
		detail string
	}{
		{"error", failingSubmit{}, "POST", "/v1/txs", string(body), "/secret/path is on fire"},
		{"panic", panicBackend{}, "GET", "/v1/status", "", "boom"},
	}
	ids := map[string]bool{}
	for _, tc := range cases {
		var logs bytes.Buffer
		s := New(Config{Backend: tc.b, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		for range 2 {
			w := httptest.NewRecorder()
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			s.ServeHTTP(w, req)
			var er struct {
				Error struct{ Code, Message, ID string } `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &er); err != nil || w.Code != http.StatusInternalServerError {
				t.Fatalf("%s: %d %s", tc.name, w.Code, w.Body)
			}
			if er.Error.Code != "internal" || er.Error.Message != "internal error" || len(er.Error.ID) != 16 || ids[er.Error.ID] {
				t.Errorf("%s: answer %s: want code internal, message \"internal error\" and a new 16-digit id", tc.name, w.Body)
			}
			ids[er.Error.ID] = true
			if strings.Contains(w.Body.String(), tc.detail) {
				t.Errorf("%s: the answer leaks the detail: %s", tc.name, w.Body)
			}
			// The log has the id and the detail on one line.
			found := false
			for _, line := range strings.Split(logs.String(), "\n") {
				found = found || (strings.Contains(line, `"error_id":"`+er.Error.ID+`"`) && strings.Contains(line, tc.detail))
			}
			if !found {
				t.Errorf("%s: no log line with id %s and the detail: %s", tc.name, er.Error.ID, logs.String())
			}
		}
	}
}

// While the account index is built below height 5, a page ends at the
// complete part with a cursor, and the page after it is refused; built,
// or without a build, pages run as the index holds them.
func TestAccountPageWhileTheIndexIsBuilt(t *testing.T) {
	at := func(hs ...uint64) []store.TxLocation {
		var out []store.TxLocation
		for _, h := range hs {
			out = append(out, store.TxLocation{Height: h})
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		locs     []store.TxLocation
		limit    int
		building bool
		want     []store.TxLocation
		more     bool
		refused  bool
	}{
		{"ends at the built part", at(9, 7, 5, 4, 2), 10, true, at(9, 7, 5), true, false},
		{"a full page first", at(9, 7, 5, 4), 2, true, at(9, 7), true, false},
		{"below the built part", at(4, 2), 10, true, nil, false, true},
		{"all above it", at(9, 7), 10, true, at(9, 7), false, false},
		{"built", at(9, 7, 5, 4, 2), 10, false, at(9, 7, 5, 4, 2), false, false},
		{"built, paged", at(9, 7, 5), 2, false, at(9, 7), true, false},
	} {
		page, more, err := accountPage(tc.locs, tc.limit, 5, tc.building)
		var ae *apiError
		if tc.refused {
			if !errors.As(err, &ae) || ae.status != http.StatusServiceUnavailable || ae.code != "unavailable" || !strings.Contains(ae.msg, "complete from height 5") {
				t.Errorf("%s: %v, want 503 unavailable naming height 5", tc.name, err)
			}
			continue
		}
		if err != nil || more != tc.more || !slices.Equal(page, tc.want) {
			t.Errorf("%s: %v more=%v (%v), want %v more=%v", tc.name, page, more, err, tc.want, tc.more)
		}
	}
}
