package explorer_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/txfixtures"
	"github.com/cairn-db/cairn/types"
)

// fieldChain is a one-validator chain on which a payment field lives its
// whole life, one field transaction per block: the signed samples of
// internal/txfixtures (open at height 2, a unilateral close at state 1 at
// 3, a challenge with state 2 at 4, a dispute of its balances at 5, the
// cooperative close at 6). The first four samples (transfer, kv.put,
// kv.delete, record) make block 1. It returns the chain, the field
// transactions in order and the field's id.
func fieldChain(t *testing.T) (*apitest.Chain, []*types.Tx, string) {
	c := apitest.New(t, apitest.Options{})
	c.Pause()
	txs := txfixtures.Txs(t, apitest.ChainID, c.Users[0], 1)
	var fields []*types.Tx
	c.CommitBlock(txs[:4]...)
	for _, tx := range txs[4:] {
		c.CommitBlock(tx)
		fields = append(fields, tx)
	}
	for h := uint64(1); h <= c.Ledger.Head().Height; h++ {
		b, err := c.Client().Block(t.Context(), h)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range b.Receipts {
			if !r.OK {
				t.Fatalf("block %d tx %d failed: %s %s", h, i, r.Code, r.Reason)
			}
		}
	}
	return c, fields, fields[0].Payload.(*types.FieldOpen).FieldID.String()
}

// TestExplorerFieldTxs: a block holding each field transaction type shows
// it and verifies (its transactions are decoded from their bytes in the
// browser and compared with what the page shows).
func TestExplorerFieldTxs(t *testing.T) {
	b := newBrowser(t)
	c, fields, _ := fieldChain(t)
	_ = fields
	for h := 2; h <= 6; h++ {
		b.open(fmt.Sprintf("%s/blocks/%d", c.URL, h))
		verdict, report := b.verify()
		if verdict != "pass" || !strings.Contains(report, "passed: transactions shown = transactions in their bytes") {
			t.Fatalf("verify block %d: %s\n%s", h, verdict, report)
		}
	}
}
