package search

import (
	"path/filepath"
	"testing"

	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

// An index built on a ledger whose old block bodies are pruned starts at
// the oldest body it can read instead of failing on height 1.
func TestIndexStartsAtTheOldestKeptBody(t *testing.T) {
	c := newChain(t, 2, 1_000_000)
	c.transfersThenPrune(30, ledger.Retention{BodyHeights: 10})
	if got := c.l.Retained().BodiesFrom; got != 21 {
		t.Fatalf("bodies from %d, want 21", got)
	}
	ix := openIndex(t, c, filepath.Join(t.TempDir(), "search"), Options{})
	st := ix.Status()
	if st.IndexedHeight != 30 || st.TxsIndexed != 10 || st.BlocksIndexed != 10 {
		t.Fatalf("index of a pruned ledger: %+v, want heights 21-30 indexed (10 blocks, 10 txs)", st)
	}
}

// A ledger that keeps block bodies longer than state (state_heights <
// body_heights) is indexed whole: the blocks whose state is gone are
// indexed without the steps the chain took by itself (read from the state
// at that height), instead of stopping the index there.
func TestIndexBlocksWhoseStateIsPruned(t *testing.T) {
	c := newChainID(t, "search-test", 2, 1_000_000, func(c *chain) { c.prunable = true })
	c.transfersThenPrune(30, ledger.Retention{StateHeights: 5})
	if got := c.l.Retained(); got.StateFrom <= 2 || got.BodiesFrom > 1 {
		t.Fatalf("retained %+v, want state pruned and every body kept", got)
	}
	ix := openIndex(t, c, filepath.Join(t.TempDir(), "search"), Options{})
	st := ix.Status()
	if st.IndexedHeight != 30 || st.TxsIndexed != 30 {
		t.Fatalf("index of a ledger with pruned state: %+v, want heights 1-30 and 30 txs indexed", st)
	}
}

// transfersThenPrune commits n one-transfer blocks, then prunes the ledger
// to r in small batches until nothing is left to prune.
func (c *chain) transfersThenPrune(n int, r ledger.Retention) {
	c.t.Helper()
	for i := 0; i < n; i++ {
		c.commit(c.tx(0, &types.Transfer{To: c.addr(1), Amount: 1}))
	}
	for {
		st, err := c.l.PruneStep(r, 7)
		if err != nil {
			c.t.Fatal(err)
		}
		if !st.More {
			return
		}
	}
}
