package search

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/cputime"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/types"
)

// Benchmarks. The query benchmarks run over a synthetic corpus written
// straight into an index (committing millions of signed transactions
// through the ledger would take far longer than indexing them); its
// documents are built by the same code as the node's, from transactions
// and receipts shaped like real ones. Environment:
//
//	CAIRN_SEARCH_BENCH_TXS  corpus size in transactions (default 50,000)
//	CAIRN_SEARCH_BENCH_DIR  keep the corpus index here and reuse it
//
// e.g. CAIRN_SEARCH_BENCH_TXS=2000000 CAIRN_SEARCH_BENCH_DIR=/tmp/cairn-bench \
//	go test ./internal/search -run '^$' -bench Query -benchtime 2000x -timeout 2h

const benchTxsPerBlock = 1000

// synth generates a deterministic stream of blocks of synthetic
// transactions: 70% transfers, 12% kv.put, 3% kv.delete, 15% records;
// about 3% fail.
type synth struct {
	rng      *rand.Rand
	zipf     *rand.Zipf
	accounts []crypto.PublicKey
	addrs    []crypto.Address
	nonce    []uint64
	words    []string
	names    []string
	height   uint64
	t0       time.Time
	// transfers makes every transaction a transfer (the mix cairn bench
	// sends).
	transfers bool
}

func newSynth(accounts int) *synth {
	s := &synth{rng: rand.New(rand.NewPCG(1, 2)), t0: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for i := 0; i < accounts; i++ {
		pk := testKey('b', i).Public()
		s.accounts = append(s.accounts, pk)
		s.addrs = append(s.addrs, pk.Address())
	}
	s.nonce = make([]uint64, accounts)
	syl := []string{"ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "da", "gu", "shi", "ban", "tor", "mel", "qui"}
	seen := map[string]bool{}
	for len(s.words) < 5000 {
		n := 2 + s.rng.IntN(3)
		w := ""
		for j := 0; j < n; j++ {
			w += syl[s.rng.IntN(len(syl))]
		}
		if !seen[w] {
			seen[w] = true
			s.words = append(s.words, w)
		}
	}
	for i := 0; i < 300; i++ {
		s.names = append(s.names, fmt.Sprintf("%s %s", title(s.words[1000+i]), title(s.words[2000+i])))
	}
	s.zipf = rand.NewZipf(s.rng, 1.1, 2, uint64(len(s.words)-1))
	return s
}

func (s *synth) blockTime(h uint64) (int64, error) {
	return s.t0.Add(time.Duration(h) * time.Second).UnixMilli(), nil
}

func title(w string) string { return string(w[0]-'a'+'A') + w[1:] }

func (s *synth) text(n int) string {
	out := make([]byte, 0, n*8)
	for i := 0; i < n; i++ {
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, s.words[s.zipf.Uint64()]...)
	}
	return string(out)
}

func (s *synth) block() (*types.Block, []*types.Receipt) {
	s.height++
	bt, _ := s.blockTime(s.height)
	blk := &types.Block{Header: types.Header{ChainID: "bench", Height: s.height, Time: bt,
		Proposer: s.accounts[0], TxCount: benchTxsPerBlock}}
	rs := make([]*types.Receipt, 0, benchTxsPerBlock)
	for i := 0; i < benchTxsPerBlock; i++ {
		a := s.rng.IntN(len(s.accounts))
		s.nonce[a]++
		tx := &types.Tx{ChainID: "bench", Sender: s.accounts[a], Nonce: s.nonce[a], Timestamp: blk.Header.Time - 200}
		r := &types.Receipt{OK: true}
		p := s.rng.IntN(100)
		if s.transfers {
			p = 0
		}
		switch {
		case p < 70:
			amt := uint64(1 + s.rng.ExpFloat64()*500)
			tx.Payload = &types.Transfer{To: s.addrs[s.rng.IntN(len(s.addrs))], Amount: amt}
			if s.rng.IntN(100) < 3 {
				r = &types.Receipt{Code: types.CodeInsufficientBalance, Reason: fmt.Sprintf("insufficient_balance: balance %d, transfer %d", amt/3, amt)}
			}
		case p < 82:
			key := fmt.Sprintf("acct/%s/%d", s.addrs[a].String()[:8], s.rng.IntN(64))
			tx.Payload = &types.KVPut{Key: key, Value: s.text(4 + s.rng.IntN(5))}
			if s.rng.IntN(100) < 5 {
				r = &types.Receipt{Code: types.CodeVersionConflict, Reason: fmt.Sprintf("version_conflict: key %q is at version 3 (live=true), expected 2", key)}
			} else {
				r.Version = uint64(1 + s.rng.IntN(20))
			}
		case p < 85:
			tx.Payload = &types.KVDelete{Key: fmt.Sprintf("acct/%s/%d", s.addrs[a].String()[:8], s.rng.IntN(64))}
			r.Version = uint64(2 + s.rng.IntN(20))
		default:
			doc, _ := json.Marshal(map[string]any{
				"invoice": map[string]any{
					"id":       fmt.Sprintf("INV-%07d", s.rng.IntN(10_000_000)),
					"customer": s.names[s.rng.IntN(len(s.names))],
					"amount":   s.rng.IntN(100_000),
					"currency": []string{"EUR", "USD", "CHF"}[s.rng.IntN(3)],
					"note":     s.text(6 + s.rng.IntN(7)),
				},
				"tags": []string{s.words[s.zipf.Uint64()], s.words[s.zipf.Uint64()]},
			})
			tx.Payload = &types.Record{Document: doc}
		}
		if r.OK && s.rng.IntN(1000) == 0 {
			r = &types.Receipt{Code: types.CodeBadNonce, Reason: "bad_nonce: nonce 9, expected 8"}
		}
		if !r.OK {
			s.nonce[a]-- // a failed tx does not use its nonce
		}
		r.TxHash = tx.Hash()
		blk.Txs = append(blk.Txs, tx)
		rs = append(rs, r)
	}
	return blk, rs
}

// benchEnv reads the corpus size and directory.
func benchEnv(b *testing.B) (int, string) {
	n := 50_000
	if v := os.Getenv("CAIRN_SEARCH_BENCH_TXS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < benchTxsPerBlock {
			b.Fatalf("CAIRN_SEARCH_BENCH_TXS=%q: want an integer >= %d", v, benchTxsPerBlock)
		}
	}
	return n / benchTxsPerBlock * benchTxsPerBlock, os.Getenv("CAIRN_SEARCH_BENCH_DIR")
}

var benchGenesis = crypto.Sum([]byte("search bench corpus"))

// fill indexes synthetic blocks until the index holds txs transactions.
func fill(b *testing.B, ix *Index, s *synth, txs int) time.Duration {
	var took time.Duration
	for done := 0; done < txs; {
		var blks []*types.Block
		var rcpts [][]*types.Receipt
		for len(blks)*benchTxsPerBlock < ix.opts.BatchDocs && done < txs {
			blk, rs := s.block()
			blks, rcpts = append(blks, blk), append(rcpts, rs)
			done += len(blk.Txs)
		}
		start := time.Now()
		ix.writeMu.Lock()
		err := ix.writeBlocks(blks, rcpts)
		ix.writeMu.Unlock()
		took += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if ix.IndexedHeight()%500 == 0 {
			b.Logf("indexed %d txs, %.0f txs/s", done, float64(done)/took.Seconds())
		}
	}
	return took
}

// BenchmarkIndexing measures indexing throughput: b.N synthetic
// transactions (rounded to blocks of 1,000) written in batches by one
// goroutine, as Run does when catching up, for the synthetic mix and for
// transfers alone. cpu-us/tx is the process's CPU time over the run
// (building documents, segments in parallel, background merges) per
// transaction.
func BenchmarkIndexing(b *testing.B) {
	for _, mix := range []string{"mixed", "transfers"} {
		b.Run(mix, func(b *testing.B) {
			n := max(b.N, benchTxsPerBlock) / benchTxsPerBlock * benchTxsPerBlock
			dir := filepath.Join(b.TempDir(), "search")
			ix, err := open(dir, nil, benchGenesis, ^uint64(0), Options{})
			if err != nil {
				b.Fatal(err)
			}
			s := newSynth(10_000)
			s.transfers = mix == "transfers"
			b.ResetTimer()
			cpu0 := cputime.Process()
			took := fill(b, ix, s, n)
			b.StopTimer()
			if err := ix.Close(); err != nil {
				b.Fatal(err)
			}
			cpu := cputime.Process() - cpu0
			size, err := DiskSize(dir)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(n)/took.Seconds(), "txs/s")
			b.ReportMetric(float64(size)/float64(n), "bytes/tx")
			if cpu > 0 {
				b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-us/tx")
			}
		})
	}
}

// ledgerLoad signs txs transactions shaped like the synthetic corpus (70%
// transfers, 10% kv.put, 20% records) for c's users, in blocks of per.
func ledgerLoad(c *chain, txs, per int) [][]*types.Tx {
	s := newSynth(10)
	var blocks [][]*types.Tx
	for n := 0; n < txs; {
		var blk []*types.Tx
		for i := 0; i < per && n < txs; i, n = i+1, n+1 {
			u := n % len(c.users)
			switch n % 10 {
			case 0, 1, 2, 3, 4, 5, 6:
				blk = append(blk, c.tx(u, &types.Transfer{To: c.addr((u + 7) % len(c.users)), Amount: uint64(1 + n%1000)}))
			case 7:
				blk = append(blk, c.tx(u, &types.KVPut{Key: fmt.Sprintf("k/%d/%d", u, n%64), Value: s.text(6)}))
			default:
				blk = append(blk, c.tx(u, &types.Record{Document: []byte(fmt.Sprintf(`{"invoice":{"amount":%d,"note":%q}}`, n, s.text(8)))}))
			}
		}
		blocks = append(blocks, blk)
	}
	return blocks
}

// commitFast commits a block without checking signatures (they were made
// here) so that the committer is as fast as the ledger allows.
func (c *chain) commitFast(tb testing.TB, txs []*types.Tx, at int64) {
	h := c.l.Head().Height + 1
	blk, p, err := c.l.Propose(txs, 0, at, c.vkey.Public(), execute.Options{SkipSignatures: true})
	if err != nil {
		tb.Fatal(err)
	}
	v := types.SignVote(c.vkey, c.g.ChainID, types.Precommit, h, 0, blk.Hash(), 0)
	if err := c.l.Commit(blk, types.NewCertificate(h, 0, blk.Hash(), []types.Vote{v}), p); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkIndexFromLedger measures the node's indexing path: CatchUp
// reading b.N committed transactions (blocks of 1,000) from a real ledger.
// Setup commits them; only indexing is timed.
func BenchmarkIndexFromLedger(b *testing.B) {
	c := newChain(b, 1000, 1_000_000_000)
	for _, blk := range ledgerLoad(c, max(b.N, 1000), 1000) {
		c.commitFast(b, blk, c.l.Head().Time+1000)
	}
	ix, err := Open(filepath.Join(b.TempDir(), "search"), c.l, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	b.ResetTimer()
	start := time.Now()
	if err := ix.CatchUp(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(ix.Status().TxsIndexed)/took.Seconds(), "txs/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkLag commits blocks at a steady rate while Run indexes them, and
// reports how far behind the index is: for each 20 ms sample, the age of
// the oldest committed block not yet searchable. Environment:
// CAIRN_SEARCH_BENCH_RATE (txs/s, default 2,000), CAIRN_SEARCH_BENCH_SECONDS
// (default 10), CAIRN_SEARCH_BENCH_BLOCK_MS (block interval, default 100).
func BenchmarkLag(b *testing.B) {
	env := func(k string, d int) int {
		if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
			return v
		}
		return d
	}
	rate, secs, blockMs := env("CAIRN_SEARCH_BENCH_RATE", 2000), env("CAIRN_SEARCH_BENCH_SECONDS", 10), env("CAIRN_SEARCH_BENCH_BLOCK_MS", 100)
	per := max(1, rate*blockMs/1000)
	c := newChain(b, 1000, 1_000_000_000)
	plan := ledgerLoad(c, rate*secs, per)
	ix, err := Open(filepath.Join(b.TempDir(), "search"), c.l, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = ix.Run(ctx) }()

	var mu sync.Mutex
	committedAt := []time.Time{{}} // by height
	done := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Duration(blockMs) * time.Millisecond)
		defer tick.Stop()
		for _, txs := range plan {
			<-tick.C
			c.commitFast(b, txs, time.Now().UnixMilli())
			mu.Lock()
			committedAt = append(committedAt, time.Now())
			mu.Unlock()
			ix.Notify(c.l.Head().Height)
		}
	}()
	var lags []time.Duration
	sample := time.NewTicker(20 * time.Millisecond)
	defer sample.Stop()
	for finished := false; !finished || ix.IndexedHeight() < c.l.Head().Height; {
		select {
		case <-done:
			finished = true
			done = nil
		case <-sample.C:
		}
		mu.Lock()
		lag := time.Duration(0)
		if h := ix.IndexedHeight() + 1; h < uint64(len(committedAt)) {
			lag = time.Since(committedAt[h])
		}
		mu.Unlock()
		lags = append(lags, lag)
		if time.Since(start) > time.Duration(secs)*time.Second+5*time.Minute {
			b.Fatalf("index never caught up: %d of %d", ix.IndexedHeight(), c.l.Head().Height)
		}
	}
	took := time.Since(start)
	b.StopTimer()
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	q := func(p float64) float64 { return lags[int(p*float64(len(lags)-1))].Seconds() }
	b.ReportMetric(float64(rate*secs)/took.Seconds(), "committed-txs/s")
	b.ReportMetric(q(0.5), "lag-p50-s")
	b.ReportMetric(q(0.99), "lag-p99-s")
	b.ReportMetric(lags[len(lags)-1].Seconds(), "lag-max-s")
	b.ReportMetric(0, "ns/op")
}

// corpus opens (building or completing it if needed) the query
// benchmarks' index: in CAIRN_SEARCH_BENCH_DIR when set (kept for the next
// run), else in a temporary directory removed at the end of b.
func corpus(b *testing.B) (*Index, *synth) {
	n, keep := benchEnv(b)
	dir := keep
	if dir == "" {
		dir = b.TempDir()
	}
	dir = filepath.Join(dir, fmt.Sprintf("corpus-%d", n))
	ix, err := open(dir, nil, benchGenesis, ^uint64(0), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ix.Close() })
	s := newSynth(10_000)
	ix.blockTime = s.blockTime
	// A kept corpus: replay the generator to the same state.
	for s.height < ix.IndexedHeight() {
		s.block()
	}
	if missing := n - int(ix.IndexedHeight())*benchTxsPerBlock; missing > 0 {
		b.Logf("building a corpus of %d txs in %s", n, dir)
		took := fill(b, ix, s, missing)
		size, _ := DiskSize(dir)
		b.Logf("corpus: %d txs indexed in %s (%.0f txs/s), %d bytes on disk (%.0f bytes/tx, before final merges)",
			missing, took.Round(time.Millisecond), float64(missing)/took.Seconds(), size, float64(size)/float64(n))
	}
	return ix, s
}

// benchHandler is GET /v1/search reduced to what costs time: the query
// and the JSON answer over HTTP. (The API's handler, in internal/api,
// adds only parameter checks and error mapping; this package cannot
// import it.)
func benchHandler(ix *Index) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		limit, _ := strconv.Atoi(v.Get("limit"))
		res, err := ix.Search(r.Context(), Request{Query: v.Get("q"), Limit: limit})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	})
}

// measure runs b.N queries over HTTP and reports p50/p99.
func measure(b *testing.B, ix *Index, next func(i int) string) {
	srv := httptest.NewServer(benchHandler(ix))
	defer srv.Close()
	hc := srv.Client()
	lat := make([]time.Duration, 0, b.N)
	var hits, total uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := srv.URL + "/v1/search?" + url.Values{"q": {next(i)}, "limit": {"20"}}.Encode()
		start := time.Now()
		resp, err := hc.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		var r Result
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d: %v", resp.StatusCode, err)
		}
		hits += uint64(len(r.Hits))
		total += r.Total
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(total)/float64(b.N), "matches/query")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkQuery measures latency through the HTTP API over the corpus:
// exact (all transfers from one account, newest first, 20 per page) and
// full text (one mid-frequency word; two words).
func BenchmarkQuery(b *testing.B) {
	ix, s := corpus(b)
	b.Run("exact", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(7, 8))
		measure(b, ix, func(int) string {
			return "type:transfer from:" + s.addrs[rng.IntN(len(s.addrs))].String()
		})
	})
	b.Run("fulltext", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(9, 10))
		measure(b, ix, func(int) string { return s.words[20+rng.IntN(200)] })
	})
	b.Run("fulltext2", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(11, 12))
		measure(b, ix, func(int) string { return s.words[5+rng.IntN(50)] + " " + s.words[20+rng.IntN(200)] })
	})
	b.Run("record-field", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(13, 14))
		measure(b, ix, func(int) string {
			return fmt.Sprintf(`doc.invoice.customer:"%s" doc.invoice.amount:>50000`, s.names[rng.IntN(len(s.names))])
		})
	})
}
