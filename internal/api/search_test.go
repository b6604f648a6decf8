package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/search"
	"github.com/cairn-db/cairn/types"
)

// searchChain is a chain with a search index over four blocks: five
// transfers (one over-spent, one a replay: both failed) and two kv.puts
// about apples.
func searchChain(t *testing.T, opts search.Options) *apitest.Chain {
	t.Helper()
	c := apitest.New(t, apitest.Options{Search: true, SearchOptions: opts})
	c.Pause()
	u := c.Users
	t0to1 := apitest.Tx(u[0], 1, &types.Transfer{To: u[1].Public().Address(), Amount: 100})
	c.CommitBlock(t0to1,
		apitest.Tx(u[1], 1, &types.Transfer{To: u[2].Public().Address(), Amount: 5}),
		apitest.Tx(u[0], 2, &types.KVPut{Key: "user/alice", Value: "Alice likes green apples"}))
	c.CommitBlock(
		apitest.Tx(u[3], 1, &types.Transfer{To: u[2].Public().Address(), Amount: apitest.Balance + 1}),
		apitest.Tx(u[0], 3, &types.Transfer{To: u[3].Public().Address(), Amount: 7}))
	c.CommitBlock(apitest.Tx(u[1], 2, &types.KVPut{Key: "user/bob", Value: "Bob prefers red apples"}))
	c.CommitBlock(t0to1)
	c.WaitIndexed()
	return c
}

func getSearch(t *testing.T, base string, params url.Values) (int, []byte) {
	t.Helper()
	resp, err := http.Get(base + "/v1/search?" + params.Encode())
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

func nthJSON(t *testing.T, arr json.RawMessage, i int) []byte {
	t.Helper()
	var xs []json.RawMessage
	if err := json.Unmarshal(arr, &xs); err != nil || len(xs) <= i {
		t.Fatalf("hits: %v %s", err, arr)
	}
	return xs[i]
}

// TestSearch: GET /v1/search pages with a cursor, highlights, and maps a
// bad query, limit, sort or cursor to 400 bad_query and a closed index to
// 503, through the API's one error mapping.
func TestSearch(t *testing.T) {
	c := searchChain(t, search.Options{})
	base := c.URL

	// A page, then the rest through the cursor.
	st, body := getSearch(t, base, url.Values{"q": {"type:transfer"}, "limit": {"3"}})
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
	var r client.SearchResult
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	if r.Total != 5 || len(r.Hits) != 3 || r.NextCursor == "" {
		t.Fatalf("first page %+v", r)
	}
	var hit map[string]any
	if err := json.Unmarshal(nthJSON(t, raw["hits"], 0), &hit); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "hash", "type", "height", "index", "time", "status", "snippet"} {
		if _, ok := hit[k]; !ok {
			t.Errorf("hit has no %q: %v", k, hit)
		}
	}
	st, body = getSearch(t, base, url.Values{"q": {"type:transfer"}, "limit": {"3"}, "cursor": {r.NextCursor}})
	var r2 client.SearchResult
	if st != http.StatusOK || json.Unmarshal(body, &r2) != nil || len(r2.Hits) != 2 || r2.NextCursor != "" {
		t.Fatalf("second page %d %s", st, body)
	}

	// Relevance sort with highlighting.
	st, body = getSearch(t, base, url.Values{"q": {`"red apples" OR green`}, "sort": {"_score"}})
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
		st, body := getSearch(t, base, tc.params)
		if st != tc.status || !strings.Contains(string(body), `"code":"`+tc.code+`"`) || !strings.Contains(string(body), tc.message) {
			t.Errorf("%v: %d %s, want %d %s %q", tc.params, st, body, tc.status, tc.code, tc.message)
		}
	}

	resp, err := http.Post(base+"/v1/search?q=x", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}

	// The SDK sees the same answers.
	cl := c.Client()
	if res, err := cl.Search(t.Context(), client.SearchRequest{Query: "type:transfer", Limit: 3}); err != nil || res.Total != 5 || len(res.Hits) != 3 {
		t.Fatalf("client.Search: %+v %v", res, err)
	}
	if _, err := cl.Search(t.Context(), client.SearchRequest{Query: "amount:>x"}); client.ErrorCode(err) != "bad_query" {
		t.Fatalf("client.Search of a bad query: %v", err)
	}

	// A closed index answers 503, not 500.
	if err := c.Index.Close(); err != nil {
		t.Fatal(err)
	}
	if st, body := getSearch(t, base, url.Values{"q": {"*"}}); st != http.StatusServiceUnavailable || !strings.Contains(string(body), "unavailable") {
		t.Errorf("closed: %d %s", st, body)
	}
}

// TestSearchTimeout: a query that cannot finish in time is stopped and
// answered 503 with code timeout (or busy, when it timed out waiting for
// its turn).
func TestSearchTimeout(t *testing.T) {
	c := searchChain(t, search.Options{QueryTimeout: 1})
	st, body := getSearch(t, c.URL, url.Values{"q": {"*"}})
	if st != http.StatusServiceUnavailable || !(strings.Contains(string(body), `"timeout"`) || strings.Contains(string(body), `"busy"`)) {
		t.Fatalf("timeout: %d %s", st, body)
	}
}

// TestSearchDisabled: a node without an index answers 503 unavailable.
func TestSearchDisabled(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	if st, body := getSearch(t, c.URL, url.Values{"q": {"*"}}); st != http.StatusServiceUnavailable || !strings.Contains(string(body), "not enabled") {
		t.Fatalf("search disabled: %d %s", st, body)
	}
}

// TestStatusReportsIndexedHeight: with search on, /v1/status says how far
// the index has applied the chain (apitest's backend reports the index's
// own height), so the lag is 0 once it caught up.
func TestStatusReportsIndexedHeight(t *testing.T) {
	c := searchChain(t, search.Options{})
	st, err := c.Client().Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !st.SearchEnabled || st.IndexedHeight != c.Ledger.Head().Height || st.IndexedHeight == 0 || st.IndexLag != 0 {
		t.Fatalf("status: search %v, indexed %d, lag %d, head %d", st.SearchEnabled, st.IndexedHeight, st.IndexLag, c.Ledger.Head().Height)
	}
}
