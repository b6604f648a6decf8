package field_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/cairn-db/cairn/field"
	"github.com/cairn-db/cairn/types"
)

// BenchmarkPayments measures off-chain payments per second within one field
// of three members on this machine: payments signed by their payers,
// ordered by the leader in batches, checked and fsynced by every member
// over HTTP on 127.0.0.1 before the leader answers. Payer signing is
// included (done before each batch is sent, in the timed loop).
//
//	go test -run '^$' -bench Payments -benchtime 20000x ./field/
func BenchmarkPayments(b *testing.B) {
	for _, batch := range []int{100, 1000, 5000} {
		b.Run("batch="+itoa(batch), func(b *testing.B) {
			n := newNet(b, "bench")
			if _, err := n.nodes[0].Create(context.Background(), "cairn-apitest", n.terms); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ResetTimer()
			start := time.Now()
			for done := 0; done < b.N; {
				i, rs := nextBatch(b, n, done, batch)
				if _, err := n.nodes[i].Pay(ctx, rs); err != nil {
					b.Fatal(err)
				}
				done += len(rs)
			}
			el := time.Since(start)
			b.ReportMetric(float64(b.N)/el.Seconds(), "payments/s")
			var bal []uint64
			n.nodes[2].Book(func(bk *field.Book) { bal = bk.Balances() })
			if len(bal) != 3 {
				b.Fatal("no balances")
			}
		})
	}
}

// BenchmarkPaymentsPresigned is BenchmarkPayments with the payers'
// signatures made before the timer starts (in a real field every payer signs
// on its own machine, in parallel with the others): what is timed is the
// leader's ordering and every member's checking, replication and fsync.
//
//	go test -run '^$' -bench PaymentsPresigned -benchtime 20000x ./field/
func BenchmarkPaymentsPresigned(b *testing.B) {
	const batch = 1000
	n := newNet(b, "bench presigned")
	ctx := context.Background()
	if _, err := n.nodes[0].Create(ctx, "cairn-apitest", n.terms); err != nil {
		b.Fatal(err)
	}
	var batches [][]field.Request
	var owner []int
	for done := 0; done < b.N; {
		i, rs := nextBatch(b, n, done, batch)
		batches, owner = append(batches, rs), append(owner, i)
		done += len(rs)
	}
	b.ResetTimer()
	start := time.Now()
	for k, rs := range batches {
		res, err := n.nodes[owner[k]].Pay(ctx, rs)
		if err != nil {
			b.Fatal(err)
		}
		if res[len(res)-1].Err != "" {
			b.Fatal(res[len(res)-1].Err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "payments/s")
}

// nextBatch signs the next batch of 1-unit payments of a benchmark that has
// made done of b.N: up to batch of them, from member i (the members take
// turns a batch at a time) to the next member. It returns i and the batch.
func nextBatch(b *testing.B, n *net, done, batch int) (int, []field.Request) {
	i := (done / batch) % 3
	amounts := make([]uint64, min(batch, b.N-done))
	for j := range amounts {
		amounts[j] = 1
	}
	rs, err := n.nodes[i].NewRequests(uint16((i+1)%3), amounts)
	if err != nil {
		b.Fatal(err)
	}
	return i, rs
}

// BenchmarkOnChainBytes reports the bytes a field puts on chain per settled
// payment: its field.open and field.close transactions over the payments
// they settle (the payments themselves never reach the chain).
func BenchmarkOnChainBytes(b *testing.B) {
	n := newNet(b, "bytes")
	open, err := n.nodes[0].Create(context.Background(), "cairn-apitest", n.terms)
	if err != nil {
		b.Fatal(err)
	}
	var cl *types.FieldClose
	for i := 0; i < b.N; i++ {
		cl, err = n.nodes[0].CloseSigs(context.Background())
		if err != nil {
			b.Fatal(err)
		}
	}
	total := txSize(open) + txSize(cl)
	b.ReportMetric(float64(total), "onchain-bytes/field")
	for _, p := range []float64{1_000, 10_000, 1_000_000} {
		b.ReportMetric(float64(total)/p, "bytes/payment@"+itoa(int(p)))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
