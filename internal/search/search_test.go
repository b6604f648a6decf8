package search

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/types"
)

func id(tx *types.Tx) string { return tx.Hash().String() }

// searchAll runs q with sort, paging through every result with pages of
// size page, and checks that paging visits each hit exactly once and agrees
// with one big page. It returns the hit ids in order.
func searchAll(t *testing.T, ix *Index, q, sort string, page int) ([]string, []Hit) {
	t.Helper()
	ctx := context.Background()
	big, err := ix.Search(ctx, Request{Query: q, Sort: sort, Limit: 1000})
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	if big.NextCursor != "" {
		t.Fatalf("search %q: next cursor on a complete page", q)
	}
	if int(big.Total) != len(big.Hits) {
		t.Fatalf("search %q: total %d, %d hits", q, big.Total, len(big.Hits))
	}
	var want []string
	for _, h := range big.Hits {
		want = append(want, h.ID)
	}
	var got []string
	seen := map[string]bool{}
	cursor := ""
	for i := 0; i < 1000; i++ {
		r, err := ix.Search(ctx, Request{Query: q, Sort: sort, Limit: page, Cursor: cursor})
		if err != nil {
			t.Fatalf("search %q page %d: %v", q, i, err)
		}
		if r.Total != big.Total {
			t.Fatalf("search %q page %d: total %d, want %d", q, i, r.Total, big.Total)
		}
		for _, h := range r.Hits {
			if seen[h.ID] {
				t.Fatalf("search %q: %s seen twice while paging", q, h.ID)
			}
			seen[h.ID] = true
			got = append(got, h.ID)
		}
		if r.NextCursor == "" {
			break
		}
		if len(r.Hits) != page {
			t.Fatalf("search %q: short page of %d with a next cursor", q, len(r.Hits))
		}
		cursor = r.NextCursor
	}
	if !slices.Equal(got, want) {
		t.Fatalf("search %q sort %q: paged %v, one page %v", q, sort, got, want)
	}
	return want, big.Hits
}

func TestQueryForms(t *testing.T) {
	f := newFixture(t)
	ix := openIndex(t, f.chain, filepath.Join(t.TempDir(), "search"), Options{})
	if ix.IndexedHeight() != 4 {
		t.Fatalf("indexed height %d, want 4", ix.IndexedHeight())
	}
	replay := id(f.replay) + "@4.0"
	a0, a1 := f.addr(0).String(), f.addr(1).String()
	h2, h3, h4 := "block:2", "block:3", "block:4"
	allTxs := []string{replay, id(f.del), id(f.rec2), id(f.conflict), id(f.putBob), id(f.t0to3), id(f.over), id(f.rec1), id(f.put), id(f.t1to2), id(f.t0to1)}
	everything := []string{replay, h4, id(f.del), id(f.rec2), id(f.conflict), id(f.putBob), h3, id(f.t0to3), id(f.over), id(f.rec1), h2, id(f.put), id(f.t1to2), id(f.t0to1), "block:1"}

	cases := []struct {
		q    string
		want []string // in default order: newest first
	}{
		// exact fields
		{"type:transfer", []string{replay, id(f.t0to3), id(f.over), id(f.t1to2), id(f.t0to1)}},
		{"type:transfer status:ok", []string{id(f.t0to3), id(f.t1to2), id(f.t0to1)}},
		{"from:" + a0, []string{replay, id(f.t0to3), id(f.put), id(f.t0to1)}},
		{"sender:" + f.users[0].Public().String(), []string{replay, id(f.t0to3), id(f.put), id(f.t0to1)}},
		{"from:" + strings.ToUpper(a0) + " AND type:transfer", []string{replay, id(f.t0to3), id(f.t0to1)}},
		{"to:" + a1, []string{replay, id(f.t0to1)}},
		{"recipient:" + a1, []string{replay, id(f.t0to1)}},
		{"address:" + a1, []string{replay, id(f.del), id(f.putBob), id(f.t1to2), id(f.t0to1)}},
		{a1, []string{replay, id(f.del), id(f.putBob), id(f.t1to2), id(f.t0to1)}},
		{"hash:" + id(f.t0to1), []string{replay, id(f.t0to1)}},
		{id(f.t0to1), []string{replay, id(f.t0to1)}},
		{"hash:" + id(f.t0to1)[:10] + "*", []string{replay, id(f.t0to1)}},
		{"key:user/alice", []string{id(f.del), id(f.put)}},
		{"key:user/*", []string{id(f.del), id(f.putBob), id(f.put)}},
		{"key:User/alice", nil},
		{"status:failed", []string{replay, id(f.conflict), id(f.over)}},
		{"code:insufficient_balance", []string{id(f.over)}},
		{"insufficient_balance", []string{id(f.over)}},
		{"nonce:1 from:" + a0, []string{replay, id(f.t0to1)}},
		{"version:1", []string{id(f.putBob), id(f.put)}},
		{"version:2", []string{id(f.del)}},
		{"proposer:" + f.vkey.Public().String(), []string{h4, h3, h2, "block:1"}},
		{"type:block", []string{h4, h3, h2, "block:1"}},
		{"tx_count:>=4", []string{h3}},
		{"hash:" + f.l.Head().Hash.String(), []string{h4}},
		// numeric ranges
		{"amount:>100", []string{id(f.over)}},
		{"amount:>=100", []string{replay, id(f.over), id(f.t0to1)}},
		{"amount:>=5 amount:<10", []string{id(f.t0to3), id(f.t1to2)}},
		{"amount:5..7", []string{id(f.t0to3), id(f.t1to2)}},
		{"amount:101..*", []string{id(f.over)}},
		{"amount:100", []string{replay, id(f.t0to1)}},
		{"amount:<=5", []string{id(f.t1to2)}},
		{"height:2..3 type:kv.put", []string{id(f.conflict), id(f.putBob)}},
		{"height:4 type:block", []string{h4}},
		{"index:0 type:transfer", []string{replay, id(f.t0to1)}},
		// time ranges (a date names the whole day)
		{"time:>2026-01-01", []string{replay, h4, id(f.del), id(f.rec2), id(f.conflict), id(f.putBob), h3}},
		{"time:2026-01-01", []string{id(f.t0to3), id(f.over), id(f.rec1), h2}},
		{"time:<2026-01-01 -type:block", []string{id(f.put), id(f.t1to2), id(f.t0to1)}},
		{"time:<=2025-12-31 type:block", []string{"block:1"}},
		{"time:2026-01-01..2026-01-02 type:block", []string{h3, h2}},
		{"time:>=2026-02-01T08:30:00Z", []string{replay, h4}},
		{"time:>2026-02-01T08:30:00Z", nil},
		{fmt.Sprintf("time:%d", f.blockTimes[3].UnixMilli()), []string{replay, h4}},
		// full text
		{"apples", []string{id(f.rec2), id(f.putBob), id(f.put)}},
		{"APPLES", []string{id(f.rec2), id(f.putBob), id(f.put)}},
		{`"red apples"`, []string{id(f.putBob)}},
		{`"apples red"`, nil},
		{"value:green", []string{id(f.put)}},
		{"value:apples -value:green", []string{id(f.putBob)}},
		{"reason:balance", []string{id(f.over)}},
		{`reason:"already committed"`, []string{replay}},
		{"the", nil}, // only a stop word
		// records
		{"doc.voucher.to:bob", []string{id(f.rec1)}},
		{`doc.voucher.to:="Bob Smith"`, []string{id(f.rec1)}},
		{`doc.voucher.to:="bob smith"`, nil},
		{`doc.voucher.to:="Bob*"`, nil}, // quoted: no prefix
		{`doc.voucher.to:=Bob*`, []string{id(f.rec1)}},
		{"doc.voucher.amount:>100", []string{id(f.rec1)}},
		{"doc.voucher.amount:50", []string{id(f.rec2)}},
		{"doc.voucher.amount:=250", []string{id(f.rec1)}},
		{"doc.voucher.amount:0..1000", []string{id(f.rec2), id(f.rec1)}},
		{"doc.voucher.tags:holiday", []string{id(f.rec1)}},
		{"doc.voucher.paid:true", []string{id(f.rec2)}},
		{`doc.note:"happy new year"`, []string{id(f.rec1)}},
		{"christmas", []string{id(f.rec1)}},
		{"jones", []string{id(f.rec2)}},
		// boolean structure
		{"type:transfer AND NOT status:failed", []string{id(f.t0to3), id(f.t1to2), id(f.t0to1)}},
		{"type:record OR key:user/bob", []string{id(f.rec2), id(f.putBob), id(f.rec1)}},
		{"(type:record OR type:kv.put) AND apples", []string{id(f.rec2), id(f.putBob), id(f.put)}},
		{"-type:block -type:transfer", []string{id(f.del), id(f.rec2), id(f.conflict), id(f.putBob), id(f.rec1), id(f.put)}},
		{"NOT (type:block OR type:transfer)", []string{id(f.del), id(f.rec2), id(f.conflict), id(f.putBob), id(f.rec1), id(f.put)}},
		{"apples NOT key:user/alice", []string{id(f.rec2), id(f.putBob)}},
		{"+apples -doc.note:thanks", []string{id(f.putBob), id(f.put)}},
		{"the OR christmas", []string{id(f.rec1)}},
		{"the AND christmas", nil},
		{"NOT the type:block", []string{h4, h3, h2, "block:1"}},
		{"((type:transfer) AND (amount:7 OR amount:5))", []string{id(f.t0to3), id(f.t1to2)}},
		{"*", everything},
		{"* -type:block", allTxs},
	}
	for _, tc := range cases {
		got, _ := searchAll(t, ix, tc.q, "", 2)
		if !slices.Equal(got, tc.want) {
			t.Errorf("query %q:\n got %v\nwant %v", tc.q, got, tc.want)
		}
	}
}

func TestSortOrders(t *testing.T) {
	f := newFixture(t)
	ix := openIndex(t, f.chain, filepath.Join(t.TempDir(), "search"), Options{})
	replay := id(f.replay) + "@4.0"
	cases := []struct {
		q, sort string
		want    []string
	}{
		{"type:transfer", "amount", []string{id(f.t1to2), id(f.t0to3), id(f.t0to1), replay, id(f.over)}},
		{"type:transfer", "-amount", []string{id(f.over), replay, id(f.t0to1), id(f.t0to3), id(f.t1to2)}},
		{"type:transfer", "height", []string{id(f.t0to1), id(f.t1to2), id(f.over), id(f.t0to3), replay}},
		{"type:transfer", "time", []string{id(f.t0to1), id(f.t1to2), id(f.over), id(f.t0to3), replay}},
		{"type:transfer", "-time", []string{replay, id(f.t0to3), id(f.over), id(f.t1to2), id(f.t0to1)}},
		// Documents without an amount come last either way.
		{"from:" + f.addr(0).String(), "amount", []string{id(f.t0to3), id(f.t0to1), replay, id(f.put)}},
		{"from:" + f.addr(0).String(), "-amount", []string{replay, id(f.t0to1), id(f.t0to3), id(f.put)}},
	}
	for _, tc := range cases {
		for _, page := range []int{1, 2, 3} {
			got, _ := searchAll(t, ix, tc.q, tc.sort, page)
			if !slices.Equal(got, tc.want) {
				t.Errorf("query %q sort %s:\n got %v\nwant %v", tc.q, tc.sort, got, tc.want)
			}
		}
	}
	// Relevance: every match once, best first, paging included.
	got, hits := searchAll(t, ix, "apples OR apple OR red", "_score", 1)
	if len(got) != 3 || got[0] != id(f.putBob) {
		t.Errorf("by score: %v (want putBob %s first: it has both words)", got, id(f.putBob))
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Score > hits[i-1].Score {
			t.Errorf("scores not descending: %v", hits)
		}
	}
}

func TestHitShape(t *testing.T) {
	f := newFixture(t)
	ix := openIndex(t, f.chain, filepath.Join(t.TempDir(), "search"), Options{})
	ctx := context.Background()
	r, err := ix.Search(ctx, Request{Query: "green"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Total != 1 || len(r.Hits) != 1 {
		t.Fatalf("green: %+v", r)
	}
	h := r.Hits[0]
	if h.Hash != id(f.put) || h.Type != "kv.put" || h.Height != 1 || h.Index == nil || *h.Index != 2 || h.Status != "ok" {
		t.Errorf("hit %+v", h)
	}
	if h.Time != "2025-12-31T12:00:00.000Z" {
		t.Errorf("time %q", h.Time)
	}
	if !strings.Contains(h.Snippet, "<mark>green</mark>") || len(h.Fragments["value"]) == 0 {
		t.Errorf("snippet %q fragments %v", h.Snippet, h.Fragments)
	}
	if r.IndexedHeight != 4 {
		t.Errorf("indexed height %d", r.IndexedHeight)
	}

	// A failed transfer found by a numeric query: no text matched, so the
	// snippet describes it.
	r, err = ix.Search(ctx, Request{Query: "amount:5000"})
	if err != nil || len(r.Hits) != 1 {
		t.Fatalf("amount:5000: %v %+v", err, r)
	}
	h = r.Hits[0]
	if h.Status != "failed" || h.Code != "insufficient_balance" || !strings.Contains(h.Snippet, "transfer of 5000") || !strings.Contains(h.Snippet, "insufficient_balance") {
		t.Errorf("failed hit %+v", h)
	}
	r, err = ix.Search(ctx, Request{Query: "type:block height:1"})
	if err != nil || len(r.Hits) != 1 {
		t.Fatalf("block: %v %+v", err, r)
	}
	if h = r.Hits[0]; h.Index != nil || h.Hash == "" || !strings.Contains(h.Snippet, "block 1 with 3 txs") {
		t.Errorf("block hit %+v", h)
	}
	// A record: the matched field is highlighted.
	r, err = ix.Search(ctx, Request{Query: "doc.voucher.to:smith"})
	if err != nil || len(r.Hits) != 1 {
		t.Fatalf("record: %v %+v", err, r)
	}
	if h = r.Hits[0]; !strings.Contains(h.Snippet, "doc.voucher.to: Bob <mark>Smith</mark>") {
		t.Errorf("record snippet %q", h.Snippet)
	}
}

func TestBadQueries(t *testing.T) {
	f := newFixture(t)
	ix := openIndex(t, f.chain, filepath.Join(t.TempDir(), "search"), Options{})
	ctx := context.Background()
	good, err := ix.Search(ctx, Request{Query: "*", Limit: 1})
	if err != nil || good.NextCursor == "" {
		t.Fatalf("setup: %v", err)
	}
	deep := strings.Repeat("(", 20) + "apples" + strings.Repeat(")", 20)
	many := strings.TrimSpace(strings.Repeat("apples ", 65))
	cases := []struct {
		r       Request
		problem string
		pos     int
	}{
		{Request{Query: ""}, "empty query", 0},
		{Request{Query: "   "}, "empty query", 0},
		{Request{Query: "(type:transfer"}, "missing ')'", 1},
		{Request{Query: "type:transfer)"}, "unmatched ')'", 14},
		{Request{Query: "type:block foo:bar"}, `unknown field "foo"`, 12},
		{Request{Query: "amount:abc"}, `"abc" is not a number`, 8},
		{Request{Query: "amount:>"}, "missing value", 9},
		{Request{Query: "amount:10..5"}, "empty range", 8},
		{Request{Query: "amount:\"5\""}, "without quotes", 8},
		{Request{Query: "time:2026-13-45"}, "not a date", 6},
		{Request{Query: "time:1900-01-01"}, "out of range", 6},
		{Request{Query: "type:transfr"}, "type must be one of", 6},
		{Request{Query: "status:>ok"}, "not a comparison", 9},
		{Request{Query: "index:>1"}, "takes an exact number", 8},
		{Request{Query: "nonce:x"}, `"x" is not a non-negative integer`, 7},
		{Request{Query: "hash:xyz"}, "must be hexadecimal", 6},
		{Request{Query: "hash:abc"}, "must be 64 hex digits", 6},
		{Request{Query: "from:>abc"}, "not a comparison", 7},
		{Request{Query: "AND type:block"}, "AND needs a term before it", 1},
		{Request{Query: "type:block OR"}, "OR needs a term after it", 12},
		{Request{Query: "type:block AND"}, "AND needs a term after it", 12},
		{Request{Query: "NOT"}, "NOT needs a term after it", 1},
		{Request{Query: `"unterminated`}, "unterminated phrase", 1},
		{Request{Query: "reason:>5"}, "is text", 9},
		{Request{Query: "key:u*"}, "too short", 5},
		{Request{Query: "apple*"}, "needs a field", 1},
		{Request{Query: "key:*"}, "key:* is not supported", 5},
		{Request{Query: ":x"}, "missing field name", 1},
		{Request{Query: "()"}, "empty parentheses", 1},
		{Request{Query: deep}, "nests deeper than 16", 17},
		{Request{Query: many}, "too many terms: at most 64", 449},
		{Request{Query: strings.Repeat("a", 5000)}, "query is 5000 bytes, limit 4096", 0},
		{Request{Query: "*", Sort: "bogus"}, `unknown sort "bogus"`, 0},
		{Request{Query: "*", Limit: 5000}, "limit must be 1..1000", 0},
		{Request{Query: "*", Limit: -1}, "limit must be 1..1000", 0},
		{Request{Query: "*", Cursor: "garbage!"}, "bad cursor", 0},
		{Request{Query: "type:block", Cursor: good.NextCursor}, "belongs to another query", 0},
		{Request{Query: "*", Sort: "height", Cursor: good.NextCursor}, "belongs to another query", 0},
	}
	for _, tc := range cases {
		_, err := ix.Search(ctx, tc.r)
		var qe *QueryError
		if !errors.As(err, &qe) {
			t.Errorf("query %.40q: error %v, want a QueryError", tc.r.Query, err)
			continue
		}
		if !strings.Contains(qe.Msg, tc.problem) || qe.Pos != tc.pos {
			t.Errorf("query %.40q: got %q at %d, want %q at %d", tc.r.Query, qe.Msg, qe.Pos, tc.problem, tc.pos)
		}
	}
}

func TestPrefixExpansionLimit(t *testing.T) {
	c := newChain(t, 1, 1000)
	var txs []*types.Tx
	for i := 0; i < 30; i++ {
		txs = append(txs, c.tx(0, &types.KVPut{Key: fmt.Sprintf("item/%02d", i), Value: "v"}))
	}
	mustOK(t, c.commit(txs...), 30)
	ix := openIndex(t, c, filepath.Join(t.TempDir(), "search"), Options{MaxPrefixTerms: 20})
	_, err := ix.Search(context.Background(), Request{Query: "key:item/*"})
	var qe *QueryError
	if !errors.As(err, &qe) || !strings.Contains(qe.Msg, "more than 20 distinct values") {
		t.Fatalf("wide prefix: %v", err)
	}
	r, err := ix.Search(context.Background(), Request{Query: "key:item/1*"})
	if err != nil || r.Total != 10 {
		t.Fatalf("narrow prefix: %v %+v", err, r)
	}
}

func TestRestartCatchesUp(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "search")
	ix := openIndex(t, f.chain, dir, Options{})
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Search(context.Background(), Request{Query: "*"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("search after close: %v", err)
	}
	// The node keeps committing while the index is closed.
	var later []*types.Tx
	for i := 0; i < 5; i++ {
		tx := f.tx(4, &types.Transfer{To: f.addr(2), Amount: uint64(i + 1)})
		later = append(later, tx)
		mustOK(t, f.commit(tx), 1)
	}
	ix2, err := Open(dir, f.l, Options{PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.Close()
	if ix2.IndexedHeight() != 4 {
		t.Fatalf("reopened at %d, want 4", ix2.IndexedHeight())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ix2.Run(ctx) }()
	ix2.Notify(f.l.Head().Height)
	if err := ix2.WaitIndexed(ctx, f.l.Head().Height); err != nil {
		t.Fatal(err)
	}
	got, _ := searchAll(t, ix2, "from:"+f.addr(4).String(), "height", 2)
	want := []string{id(f.conflict)}
	for _, tx := range later {
		want = append(want, id(tx))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after catch-up: %v, want %v", got, want)
	}
	if got, _ := searchAll(t, ix2, "apples", "", 5); len(got) != 3 {
		t.Fatalf("old documents after restart: %v", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if st := ix2.Status(); st.IndexedHeight != 9 || st.BlocksIndexed != 5 || st.TxsIndexed != 5 || st.LastError != "" {
		t.Fatalf("status %+v", st)
	}
}

func TestIndexOfAnotherChainIsRebuilt(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "search")
	ix := openIndex(t, f.chain, dir, Options{})
	ix.Close()
	other := newChainID(t, "other", 2, 10)
	ix2, err := Open(dir, other.l, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.Close()
	if ix2.IndexedHeight() != 0 {
		t.Fatalf("index of another chain kept: height %d", ix2.IndexedHeight())
	}
	r, err := ix2.Search(context.Background(), Request{Query: "*"})
	if err != nil || r.Total != 0 {
		t.Fatalf("rebuilt index not empty: %v %+v", err, r)
	}
}

func TestRebuildGivesIdenticalResults(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "search")
	// Index incrementally, a block per batch, as a running node would.
	ix, err := Open(dir, f.l, Options{BatchBlocks: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.CatchUp(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	queries := []string{"*", "apples", "type:transfer", "doc.voucher.to:bob OR status:failed", "time:>2026-01-01", "-type:block"}
	sorts := []string{"", "height", "amount", "_score"}
	type answer struct {
		Total uint64
		Hits  []Hit
	}
	before := map[string]answer{}
	for _, q := range queries {
		for _, s := range sorts {
			r, err := ix.Search(context.Background(), Request{Query: q, Sort: s, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			before[q+"|"+s] = answer{r.Total, r.Hits}
		}
	}
	ix.Close()
	var reports []Progress
	// The rebuild writes everything in one batch, split into three
	// segments built at once.
	sum, err := Rebuild(context.Background(), dir, f.l, Options{Parallel: 3, MinParallelDocs: 1}, func(p Progress) { reports = append(reports, p) })
	if err != nil {
		t.Fatal(err)
	}
	if sum.Height != 4 || sum.Blocks != 4 || sum.Txs != 11 || sum.Bytes <= 0 || len(reports) == 0 || reports[len(reports)-1].IndexedHeight != 4 {
		t.Fatalf("summary %+v, progress %+v", sum, reports)
	}
	ix2, err := Open(dir, f.l, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.Close()
	for _, q := range queries {
		for _, s := range sorts {
			r, err := ix2.Search(context.Background(), Request{Query: q, Sort: s, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			b := before[q+"|"+s]
			if r.Total != b.Total || !slices.EqualFunc(r.Hits, b.Hits, hitEqual) {
				t.Errorf("query %q sort %q differs after rebuild:\n before %+v\n after  %+v", q, s, b, r.Hits)
			}
		}
	}
}

func hitEqual(a, b Hit) bool {
	if a.ID != b.ID || a.Hash != b.Hash || a.Type != b.Type || a.Height != b.Height || a.Time != b.Time ||
		a.Status != b.Status || a.Code != b.Code || a.Snippet != b.Snippet || a.Score != b.Score {
		return false
	}
	if (a.Index == nil) != (b.Index == nil) || a.Index != nil && *a.Index != *b.Index {
		return false
	}
	return fmt.Sprint(a.Fragments) == fmt.Sprint(b.Fragments)
}

// TestQueryDuringCommitLoad commits blocks as fast as it can while the
// indexer runs and queries keep coming: every query is answered, and in
// the end everything committed is found.
func TestQueryDuringCommitLoad(t *testing.T) {
	const blocks, perBlock = 120, 40
	c := newChain(t, 8, 1_000_000)
	ix, err := Open(filepath.Join(t.TempDir(), "search"), c.l, Options{PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- ix.Run(ctx) }()

	// Signing happens up front so the committer is as fast as the ledger.
	var plan [][]*types.Tx
	for b := 0; b < blocks; b++ {
		var txs []*types.Tx
		for i := 0; i < perBlock; i++ {
			u := (b*perBlock + i) % len(c.users)
			if i%4 == 3 {
				txs = append(txs, c.tx(u, &types.Record{Document: []byte(fmt.Sprintf(`{"batch":%d,"text":"load test entry %d"}`, b, i))}))
			} else {
				txs = append(txs, c.tx(u, &types.Transfer{To: c.addr((u + 1) % len(c.users)), Amount: uint64(i + 1)}))
			}
		}
		plan = append(plan, txs)
	}
	commitErr := make(chan error, 1)
	go func() {
		defer close(commitErr)
		for _, txs := range plan {
			h := c.l.Head().Height + 1
			blk, p, err := c.l.Propose(txs, 0, c.l.Head().Time+1000, c.vkey.Public(), execute.Options{})
			if err != nil {
				commitErr <- err
				return
			}
			v := types.SignVote(c.vkey, c.g.ChainID, types.Precommit, h, 0, blk.Hash(), 0)
			if err := c.l.Commit(blk, types.NewCertificate(h, 0, blk.Hash(), []types.Vote{v}), p); err != nil {
				commitErr <- err
				return
			}
			ix.Notify(h)
		}
	}()
	queries := []string{"type:transfer from:" + c.addr(3).String(), "load entry", "amount:>30", "doc.batch:>10", "*"}
	answered := 0
	for i := 0; i < 100_000; i++ {
		select {
		case err, ok := <-commitErr:
			if ok && err != nil {
				t.Fatalf("commit: %v", err)
			}
			i = 100_000 // committer finished
			continue
		default:
		}
		if _, err := ix.Search(ctx, Request{Query: queries[i%len(queries)], Limit: 50}); err != nil {
			t.Fatalf("query %d during load: %v", i, err)
		}
		answered++
	}
	if answered == 0 {
		t.Fatal("no query ran during the load")
	}
	if err := ix.WaitIndexed(ctx, blocks); err != nil {
		t.Fatal(err)
	}
	r, err := ix.Search(ctx, Request{Query: "type:transfer status:ok", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Total != blocks*perBlock*3/4 {
		t.Fatalf("transfers after load: total %d, want %d", r.Total, blocks*perBlock*3/4)
	}
	cancel()
	<-runDone
	t.Logf("%d queries answered during %d commits", answered, blocks)
}

func TestLingerAimsForTargetBatch(t *testing.T) {
	ix := &Index{opts: Options{}}
	ix.opts.setDefaults()
	for _, c := range []struct {
		docs  int
		since time.Duration
		want  time.Duration
	}{
		{0, time.Second, 200 * time.Millisecond},             // idle
		{50, 200 * time.Millisecond, 200 * time.Millisecond}, // trickle
		{1000, 200 * time.Millisecond, 800 * time.Millisecond},
		{2000, 200 * time.Millisecond, 400 * time.Millisecond},
		{20000, 200 * time.Millisecond, 200 * time.Millisecond}, // never below the minimum
		{500, 200 * time.Millisecond, time.Second},              // never above the maximum
	} {
		if got := ix.lingerFor(c.docs, c.since); got != c.want {
			t.Errorf("%d docs over %s: linger %s, want %s", c.docs, c.since, got, c.want)
		}
	}
}
