package api_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

// A node whose old block bodies are pruned answers 410 height_pruned,
// naming the oldest height it keeps, for a pruned block or transaction;
// an account's transaction list pages down to that height and then
// answers the same; status says what is kept.
func TestPrunedReads(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	ctx := context.Background()
	alice := c.Users[0]
	var hashes []string
	for i := 1; i <= 6; i++ {
		tx := apitest.Tx(alice, uint64(i), &types.KVPut{Key: fmt.Sprint("k", i), Value: "v"})
		res, err := cl.SubmitWait(ctx, tx, 5*time.Second)
		if err != nil || res.Status != client.StatusCommitted {
			t.Fatalf("submit %d: %+v %v", i, res, err)
		}
		hashes = append(hashes, tx.Hash().String())
	}
	head := c.Ledger.Head().Height
	for {
		st, err := c.Ledger.PruneStep(ledger.Retention{BodyHeights: 3}, 100)
		if err != nil {
			t.Fatal(err)
		}
		if !st.More {
			break
		}
	}
	oldest := head - 2
	wantPruned := func(what string, err error) {
		t.Helper()
		var ae *client.Error
		if !errors.As(err, &ae) || ae.Status != 410 || ae.Code != "height_pruned" || !strings.Contains(ae.Message, fmt.Sprint("is ", oldest)) {
			t.Fatalf("%s: %v, want 410 height_pruned naming %d", what, err, oldest)
		}
	}
	_, err := cl.Block(ctx, 1)
	wantPruned("block 1", err)
	if _, err := cl.Block(ctx, oldest); err != nil {
		t.Fatalf("block %d: %v", oldest, err)
	}
	st, err := cl.Status(ctx)
	if err != nil || st.Retained.BodiesFrom != oldest {
		t.Fatalf("status retained %+v, %v", st.Retained, err)
	}
	page, err := cl.AccountTxs(ctx, alice.Public().Address(), "", 0)
	if err != nil || len(page.Txs) != 3 || page.NextCursor == "" {
		t.Fatalf("first page on a pruned node: %+v %v", page, err)
	}
	_, err = cl.AccountTxs(ctx, alice.Public().Address(), page.NextCursor, 0)
	wantPruned("next page", err)
}
