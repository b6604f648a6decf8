package api_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// TestHistoryPagingManyWritesInOneBlock pages through a key written 500
// times in one block (between a few writes in the blocks around it, with
// other keys' writes interleaved so a write's index in its block is not
// the key's version) and checks that every version comes exactly once, in
// order, and that paging ends, for page sizes far smaller than one
// height's versions.
func TestHistoryPagingManyWritesInOneBlock(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	c.Pause()
	alice, bob := c.Users[0], c.Users[1]
	const key = "hot"
	var aliceNonce, bobNonce uint64
	put := func(v int) *types.Tx {
		aliceNonce++
		return apitest.Tx(alice, aliceNonce, &types.KVPut{Key: key, Value: fmt.Sprint(v)})
	}
	other := func() *types.Tx {
		bobNonce++
		return apitest.Tx(bob, bobNonce, &types.KVPut{Key: "cold", Value: fmt.Sprint(bobNonce)})
	}
	written := 0
	block := func(n int) {
		var txs []*types.Tx
		for i := 0; i < n; i++ {
			if i%7 == 3 {
				txs = append(txs, other())
			}
			written++
			txs = append(txs, put(written))
		}
		c.CommitBlock(txs...)
	}
	block(3)
	block(500)
	block(2)
	c.CommitBlock(other()) // a later height without the key

	cl := c.Client()
	ctx := context.Background()
	for _, limit := range []int{1, 2, 3, 7, 100, 499, 500, 501, 1000} {
		var got []*types.KVEntry
		cursor := ""
		pages := 0
		for {
			pages++
			if pages > written+1 {
				t.Fatalf("limit %d: paging did not end after %d pages (cursor %q)", limit, pages-1, cursor)
			}
			h, err := cl.History(ctx, key, cursor, limit)
			if err != nil {
				t.Fatalf("limit %d, cursor %q: %v", limit, cursor, err)
			}
			if len(h.Versions) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(h.Versions))
			}
			got = append(got, h.Versions...)
			if h.NextCursor == "" {
				break
			}
			if len(h.Versions) == 0 {
				t.Fatalf("limit %d: empty page with next cursor %q", limit, h.NextCursor)
			}
			cursor = h.NextCursor
		}
		if len(got) != written {
			t.Fatalf("limit %d: %d versions, want %d", limit, len(got), written)
		}
		for i, e := range got {
			if e.Version != uint64(i+1) || e.Value != fmt.Sprint(i+1) {
				t.Fatalf("limit %d: position %d holds version %d (value %q), want version %d", limit, i, e.Version, e.Value, i+1)
			}
		}
		if want := (written + limit - 1) / limit; pages != want {
			t.Fatalf("limit %d: %d pages, want %d", limit, pages, want)
		}
	}
}

// TestHistoryCursorRefusals: a cursor this API never returned, including
// the old "height.version" form, is a 400 rather than a silently wrong page.
func TestHistoryCursorRefusals(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	c.Pause()
	var txs []*types.Tx
	for i := 1; i <= 5; i++ {
		txs = append(txs, apitest.Tx(c.Users[0], uint64(i), &types.KVPut{Key: "k", Value: fmt.Sprint(i)}))
	}
	c.CommitBlock(txs...)
	cl := c.Client()
	ctx := context.Background()
	first, err := cl.History(ctx, "k", "", 2)
	if err != nil || len(first.Versions) != 2 || first.NextCursor == "" {
		t.Fatalf("first page = %+v, %v", first, err)
	}
	// The cursor a page returns is accepted.
	if next, err := cl.History(ctx, "k", first.NextCursor, 2); err != nil || len(next.Versions) != 2 || next.Versions[0].Version != 3 {
		t.Fatalf("second page = %+v, %v", next, err)
	}
	for _, cur := range []string{"1.3", "x", "1:", ":1", "1:x", "-1:0", "1:4294967296", "1:2:3"} {
		_, err := cl.History(ctx, "k", cur, 2)
		if client.ErrorCode(err) != "bad_request" {
			t.Errorf("cursor %q: %v, want bad_request", cur, err)
		}
	}
	// A cursor past the end is an empty last page, not a 404.
	st, b := do(t, "GET", c.URL+"/v1/kv/k/history?cursor="+url.QueryEscape("99:0"), nil)
	if st != 200 {
		t.Fatalf("cursor past the end: %d %s", st, b)
	}
}
