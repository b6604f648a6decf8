package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/api"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// BenchmarkParseTxJSON is the strict JSON decoding of one transfer, the
// API's per-transaction parsing cost.
func BenchmarkParseTxJSON(b *testing.B) {
	k := apitest.Key('u', 0)
	raw, _ := json.Marshal(apitest.Tx(k, 1, &types.Transfer{To: k.Public().Address(), Amount: 1}))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var tx types.Tx
		if err := tx.UnmarshalJSON(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmitBatch measures POST /v1/txs with batches of signed
// transfers over loopback HTTP into a real mempool and a committing
// single-validator chain: parsing, batch signature verification, admission,
// block execution and commit all run on this machine. Reported: tx/s
// admitted (the committer runs concurrently).
func BenchmarkSubmitBatch(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			users := 200
			c := apitest.New(b, apitest.Options{Users: users, MempoolMaxTxs: 200_000, BlockTxs: 5000, API: api.Config{RequestTimeout: time.Minute}})
			cl := c.Client()
			ctx := context.Background()
			nonces := make([]uint64, users)
			// Pre-sign every batch so the benchmark times the server only.
			batches := make([][]*types.Tx, 0, b.N/size+1)
			for n := 0; n < b.N; n += size {
				var batch []*types.Tx
				for j := 0; j < size; j++ {
					u := (n + j) % users
					nonces[u]++
					batch = append(batch, apitest.Tx(c.Users[u], nonces[u], &types.Transfer{To: c.Users[(u+1)%users].Public().Address(), Amount: 1}))
				}
				batches = append(batches, batch)
			}
			b.ResetTimer()
			start := time.Now()
			total := 0
			for _, batch := range batches {
				r, err := cl.SubmitBatch(ctx, batch)
				if err != nil {
					b.Fatal(err)
				}
				if r.Accepted != len(batch) {
					for _, e := range r.Errors {
						if e != nil {
							b.Fatalf("refused: %+v", e)
						}
					}
				}
				total += len(batch)
			}
			b.ReportMetric(float64(total)/time.Since(start).Seconds(), "tx/s")
			b.StopTimer()
			_ = client.StatusCommitted
		})
	}
}
