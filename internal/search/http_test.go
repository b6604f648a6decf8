package search

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

func get(t *testing.T, srv *httptest.Server, params url.Values) (int, []byte) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + "/v1/search?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	return resp.StatusCode, b
}

func TestHandler(t *testing.T) {
	f := newFixture(t)
	ix := openIndex(t, f.chain, filepath.Join(t.TempDir(), "search"), Options{})
	srv := httptest.NewServer(Handler(ix)) // 127.0.0.1
	defer srv.Close()

	// A page, then the rest through the cursor.
	st, body := get(t, srv, url.Values{"q": {"type:transfer"}, "limit": {"3"}})
	if st != http.StatusOK {
		t.Fatalf("status %d: %s", st, body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"total", "hits", "next_cursor", "indexed_height", "took_ms"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("response has no %q: %s", k, body)
		}
	}
	var r Result
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	if r.Total != 5 || len(r.Hits) != 3 || r.NextCursor == "" {
		t.Fatalf("first page %+v", r)
	}
	var hit map[string]any
	if err := json.Unmarshal(mustJSON(t, raw["hits"], 0), &hit); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "hash", "type", "height", "index", "time", "status", "snippet"} {
		if _, ok := hit[k]; !ok {
			t.Errorf("hit has no %q: %v", k, hit)
		}
	}
	st, body = get(t, srv, url.Values{"q": {"type:transfer"}, "limit": {"3"}, "cursor": {r.NextCursor}})
	var r2 Result
	if st != http.StatusOK || json.Unmarshal(body, &r2) != nil || len(r2.Hits) != 2 || r2.NextCursor != "" {
		t.Fatalf("second page %d %s", st, body)
	}

	// Relevance sort with highlighting.
	st, body = get(t, srv, url.Values{"q": {`"red apples" OR green`}, "sort": {"_score"}})
	if st != http.StatusOK || !strings.Contains(string(body), `\u003cmark\u003e`) {
		t.Fatalf("highlight %d %s", st, body)
	}

	bad := []struct {
		params  url.Values
		status  int
		code    string
		message string
	}{
		{url.Values{}, 400, "bad_query", "missing parameter q"},
		{url.Values{"q": {""}}, 400, "bad_query", "empty query"},
		{url.Values{"q": {"amount:>x"}}, 400, "bad_query", `amount: \"x\" is not a number (at position 9)`},
		{url.Values{"q": {"(a OR b"}}, 400, "bad_query", "missing ')'"},
		{url.Values{"q": {"nosuch:1"}}, 400, "bad_query", `unknown field \"nosuch\"`},
		{url.Values{"q": {"*"}, "limit": {"abc"}}, 400, "bad_query", "limit must be a positive integer"},
		{url.Values{"q": {"*"}, "limit": {"1001"}}, 400, "bad_query", "limit must be 1..1000"},
		{url.Values{"q": {"*"}, "sort": {"size"}}, 400, "bad_query", "unknown sort"},
		{url.Values{"q": {"*"}, "cursor": {"xyz"}}, 400, "bad_query", "bad cursor"},
	}
	for _, tc := range bad {
		st, body := get(t, srv, tc.params)
		if st != tc.status || !strings.Contains(string(body), `"code":"`+tc.code+`"`) || !strings.Contains(string(body), tc.message) {
			t.Errorf("%v: %d %s, want %d %s %q", tc.params, st, body, tc.status, tc.code, tc.message)
		}
	}

	resp, err := srv.Client().Post(srv.URL+"/v1/search?q=x", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}

	// A closed index answers 503, not 500.
	ix.Close()
	if st, body := get(t, srv, url.Values{"q": {"*"}}); st != http.StatusServiceUnavailable || !strings.Contains(string(body), "unavailable") {
		t.Errorf("closed: %d %s", st, body)
	}
}

func mustJSON(t *testing.T, arr json.RawMessage, i int) []byte {
	t.Helper()
	var xs []json.RawMessage
	if err := json.Unmarshal(arr, &xs); err != nil || len(xs) <= i {
		t.Fatalf("hits: %v %s", err, arr)
	}
	return xs[i]
}

// TestQueryTimeout: a query that cannot finish in time is stopped and
// answered 503 with code timeout.
func TestQueryTimeout(t *testing.T) {
	f := newFixture(t)
	ix := openIndex(t, f.chain, filepath.Join(t.TempDir(), "search"), Options{QueryTimeout: 1})
	srv := httptest.NewServer(Handler(ix))
	defer srv.Close()
	st, body := get(t, srv, url.Values{"q": {"*"}})
	if st != http.StatusServiceUnavailable || !(strings.Contains(string(body), `"timeout"`) || strings.Contains(string(body), `"busy"`)) {
		t.Fatalf("timeout: %d %s", st, body)
	}
}
