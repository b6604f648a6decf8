package search

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cairn-db/cairn/internal/txfixtures"
)

// Every registered type is indexed and searchable: its sample's document
// has a rule of its own (no unindexed_payload marker), type:NAME finds
// exactly that sample, and its snippet describes it (more than the bare type
// name that describe falls back to).
func TestEveryTypeIndexed(t *testing.T) {
	c := newChain(t, 1, txfixtures.Balance)
	txs := txfixtures.Txs(t, c.g.ChainID, c.users[0], 1)
	receipts := c.commit(txs...)
	mustOK(t, receipts, len(txs))
	ix := openIndex(t, c, filepath.Join(t.TempDir(), "index"), Options{})

	for i, tx := range txs {
		name := tx.Type().String()
		d := ix.b.txDoc(1, uint32(i), tx, receipts[i])
		for _, f := range d.Fields {
			if f.Name() == fUnindexed {
				t.Errorf("%s: txDoc has no case for this type", name)
			}
		}
		r, err := ix.Search(context.Background(), Request{Query: "type:" + name, Limit: 10})
		if err != nil {
			t.Errorf("type:%s: %v", name, err)
			continue
		}
		if len(r.Hits) != 1 || r.Hits[0].ID != id(tx) || r.Hits[0].Type != name {
			t.Errorf("type:%s: hits %+v, want the %s sample", name, r.Hits, name)
			continue
		}
		if s := r.Hits[0].Snippet; s == name || s == "" {
			t.Errorf("%s: snippet %q: describe has no case for this type", name, s)
		}
	}
}
