package blockstream_test

import (
	"flag"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/natstest"
	"github.com/cairn-db/cairn/types"
)

var (
	exportFigures  = flag.Bool("export-figures", false, "measure the block stream's lag behind commits under load (docs/scale-out.md)")
	exportBlocks   = flag.Int("export-blocks", 200, "with -export-figures: blocks to commit")
	exportBlockTxs = flag.Int("export-block-txs", 1000, "with -export-figures: transactions per block")
)

// TestExportLag measures, with -export-figures, how far the publisher
// trails the committer: blocks of kv.puts are committed back to back on a
// test chain (as fast as it executes and syncs them) while the publisher
// streams them to a 3-server cluster with R=3; lag is the time from a
// block's commit to the stream's acknowledgement of it.
func TestExportLag(t *testing.T) {
	if !*exportFigures {
		t.Skip("figures: run with -export-figures (docs/scale-out.md)")
	}
	c := natstest.Start(t, 3)
	chain := apitest.New(t, apitest.Options{Users: 16, BlockTxs: *exportBlockTxs})
	// Pre-sign everything so the load is the chain's and the stream's.
	var blocks [][]*types.Tx
	nonces := make([]uint64, len(chain.Users))
	for b := 0; b < *exportBlocks; b++ {
		var txs []*types.Tx
		for i := 0; i < *exportBlockTxs; i++ {
			u := i % len(chain.Users)
			nonces[u]++
			txs = append(txs, apitest.Tx(chain.Users[u], nonces[u], &types.KVPut{Key: fmt.Sprintf("k/%d/%d", u, nonces[u]), Value: "value"}))
		}
		blocks = append(blocks, txs)
	}
	p := start(t, c, chain)

	var mu sync.Mutex
	committed := map[uint64]time.Time{}
	published := map[uint64]time.Time{}
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		var last uint64
		for {
			if h := p.p.Published(); h > last {
				now := time.Now()
				mu.Lock()
				for ; last < h; last++ {
					published[last+1] = now
				}
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	begin := time.Now()
	for _, txs := range blocks {
		b := chain.CommitBlock(txs...)
		mu.Lock()
		committed[b.Header.Height] = time.Now()
		mu.Unlock()
	}
	elapsed := time.Since(begin)
	p.waitPublished(t, chain.Ledger.Head().Height, 5*time.Minute)
	close(stop)
	<-watched
	var lags []time.Duration
	for h, ct := range committed {
		lags = append(lags, published[h].Sub(ct))
	}
	slices.Sort(lags)
	pct := func(q float64) time.Duration { return lags[int(q*float64(len(lags)-1))] }
	t.Logf("%d blocks of %d txs committed in %.1f s: %.1f blocks/s, %.0f tx/s", len(blocks), *exportBlockTxs, elapsed.Seconds(),
		float64(len(blocks))/elapsed.Seconds(), float64(len(blocks)**exportBlockTxs)/elapsed.Seconds())
	t.Logf("export lag: p50 %v, p90 %v, p99 %v, max %v", pct(0.5).Round(time.Millisecond), pct(0.9).Round(time.Millisecond),
		pct(0.99).Round(time.Millisecond), lags[len(lags)-1].Round(time.Millisecond))
}
