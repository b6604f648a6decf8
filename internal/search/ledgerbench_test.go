package search

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

// The committed-corpus benchmark: the same query mix as BenchmarkQuery,
// over transactions that were signed, executed and committed through the
// ledger (failures are real receipts), indexed by the node's own path
// (CatchUp reading committed blocks) and queried through the HTTP
// handler. CAIRN_SEARCH_BENCH_TXS sets the size; with
// CAIRN_SEARCH_BENCH_DIR the ledger and index are kept and reused.
//
//	CAIRN_SEARCH_BENCH_TXS=2000000 CAIRN_SEARCH_BENCH_DIR=/tmp/cairn-bench \
//		go test ./internal/search -run '^$' -bench QueryCommitted -benchtime 2000x -timeout 2h

const corpusAccounts = 10_000

// ledgerCorpus generates blocks of signed transactions for a real ledger:
// 70% transfers (3% of them more than any balance), 12% kv.put (5% with a
// stale expect_version), 3% kv.delete of a key put before, 15% invoice
// records. Each block has distinct senders, so a failure (which uses no
// nonce) never makes a later transaction of the same block fail too.
type ledgerCorpus struct {
	s     *synth // vocabulary and random source
	keys  []*crypto.PrivateKey
	nonce []uint64
	put   [][]string // keys put, by sender
	g     *types.Genesis
	vkey  *crypto.PrivateKey
}

func newLedgerCorpus() *ledgerCorpus {
	c := &ledgerCorpus{s: newSynth(corpusAccounts), vkey: testKey('v', 0)}
	c.g = &types.Genesis{ChainID: "search-corpus", GenesisTime: c.s.t0.UnixMilli(), Params: types.DefaultParams()}
	c.g.Validators = []types.Validator{{Name: "v0", PublicKey: c.vkey.Public(), Power: 1}}
	for i := 0; i < corpusAccounts; i++ {
		var seed [32]byte
		seed[0], seed[1], seed[2] = 'c', byte(i), byte(i>>8)
		k := crypto.MustKeyFromSeed(seed)
		c.keys = append(c.keys, k)
		c.g.Balances = append(c.g.Balances, types.Balance{Address: k.Public().Address(), Amount: 1 << 40})
	}
	c.nonce = make([]uint64, corpusAccounts)
	c.put = make([][]string, corpusAccounts)
	return c
}

func (c *ledgerCorpus) addr(i int) crypto.Address { return c.keys[i].Public().Address() }

// block makes the next block's transactions (signed) and their senders.
func (c *ledgerCorpus) block(n int) ([]*types.Tx, []int) {
	rng := c.s.rng
	senders := rng.Perm(corpusAccounts)[:n]
	txs := make([]*types.Tx, n)
	for i, a := range senders {
		c.nonce[a]++
		var p types.Payload
		switch r := rng.IntN(100); {
		case r < 70:
			amt := uint64(1 + rng.ExpFloat64()*500)
			if rng.IntN(100) < 3 {
				amt = 1 << 50
			}
			p = &types.Transfer{To: c.addr(rng.IntN(corpusAccounts)), Amount: amt}
		case r < 82 || r < 85 && len(c.put[a]) == 0:
			key := fmt.Sprintf("acct/%s/%d", c.addr(a).String()[:8], rng.IntN(64))
			put := &types.KVPut{Key: key, Value: c.s.text(4 + rng.IntN(5))}
			if rng.IntN(100) < 5 {
				put.ExpectVersion = u64(1 << 40)
			}
			c.put[a] = append(c.put[a], key)
			p = put
		case r < 85:
			p = &types.KVDelete{Key: c.put[a][rng.IntN(len(c.put[a]))]}
		default:
			doc, _ := json.Marshal(map[string]any{
				"invoice": map[string]any{
					"id":       fmt.Sprintf("INV-%07d", rng.IntN(10_000_000)),
					"customer": c.s.names[rng.IntN(len(c.s.names))],
					"amount":   rng.IntN(100_000),
					"currency": []string{"EUR", "USD", "CHF"}[rng.IntN(3)],
					"note":     c.s.text(6 + rng.IntN(7)),
				},
				"tags": []string{c.s.words[c.s.zipf.Uint64()], c.s.words[c.s.zipf.Uint64()]},
			})
			p = &types.Record{Document: doc}
		}
		txs[i] = &types.Tx{ChainID: c.g.ChainID, Nonce: c.nonce[a], Timestamp: c.g.GenesisTime, Payload: p}
	}
	// Signing is most of the generator's cost: spread it over the cores.
	var wg sync.WaitGroup
	w := max(1, min(8, len(txs)/100))
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < len(txs); i += w {
				txs[i].Sign(c.keys[senders[i]])
			}
		}()
	}
	wg.Wait()
	return txs, senders
}

// commit commits txs as the next block, one second after the last, and
// gives back the nonces of the senders whose transaction failed.
func (c *ledgerCorpus) commit(tb testing.TB, l *ledger.Ledger, txs []*types.Tx, senders []int) (failed int) {
	head := l.Head()
	blk, p, err := l.Propose(txs, 0, c.g.GenesisTime+int64(head.Height+1)*1000, c.vkey.Public(), execute.Options{SkipSignatures: true})
	if err != nil {
		tb.Fatalf("propose %d: %v", head.Height+1, err)
	}
	v := types.SignVote(c.vkey, c.g.ChainID, types.Precommit, blk.Header.Height, 0, blk.Hash(), 0)
	if err := l.Commit(blk, types.NewCertificate(blk.Header.Height, 0, blk.Hash(), []types.Vote{v}), p); err != nil {
		tb.Fatalf("commit %d: %v", blk.Header.Height, err)
	}
	for i, r := range p.Result.Receipts {
		if !r.OK {
			c.nonce[senders[i]]--
			failed++
		}
	}
	return failed
}

// committedCorpus opens (building it if needed) a ledger of txs committed
// transactions and its search index.
func committedCorpus(b *testing.B) (*Index, *ledgerCorpus) {
	n, keep := benchEnv(b)
	dir := keep
	if dir == "" {
		dir = b.TempDir()
	}
	dir = filepath.Join(dir, fmt.Sprintf("ledger-corpus-%d", n))
	done := filepath.Join(dir, "complete")
	c := newLedgerCorpus()
	if _, err := os.Stat(done); err != nil {
		// Not built, or a build that did not finish: start over.
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
	}
	l, err := ledger.Open(ledger.Options{Dir: filepath.Join(dir, "ledger"), CacheBytes: 256 << 20}, c.g)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close() })
	if l.Head().Height == 0 {
		b.Logf("committing %d transactions to %s", n, dir)
		start, failed := time.Now(), 0
		for h := 0; h < n/benchTxsPerBlock; h++ {
			txs, senders := c.block(benchTxsPerBlock)
			failed += c.commit(b, l, txs, senders)
			if (h+1)%200 == 0 {
				b.Logf("committed %d txs (%d failed) in %s", (h+1)*benchTxsPerBlock, failed, time.Since(start).Round(time.Second))
			}
		}
		b.Logf("ledger: %d txs committed in %s, %d failed", n, time.Since(start).Round(time.Second), failed)
	}
	ix, err := Open(filepath.Join(dir, "search"), l, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ix.Close() })
	if ix.IndexedHeight() < l.Head().Height {
		start, txs0 := time.Now(), ix.Status().TxsIndexed
		if err := ix.CatchUp(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		txs := ix.Status().TxsIndexed - txs0
		size, _ := DiskSize(filepath.Join(dir, "search"))
		b.Logf("index: %d txs in %s (%.0f txs/s), %d bytes on disk (%.0f bytes/tx, before final merges)",
			txs, took.Round(time.Millisecond), float64(txs)/took.Seconds(), size, float64(size)/float64(txs))
	}
	if err := os.WriteFile(done, []byte(strconv.Itoa(n)), 0o644); err != nil {
		b.Fatal(err)
	}
	return ix, c
}

// BenchmarkQueryCommitted measures query latency through the HTTP API
// over a committed, indexed ledger (see committedCorpus).
func BenchmarkQueryCommitted(b *testing.B) {
	ix, c := committedCorpus(b)
	b.Run("exact", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(7, 8))
		measure(b, ix, func(int) string { return "type:transfer from:" + c.addr(rng.IntN(corpusAccounts)).String() })
	})
	b.Run("fulltext", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(9, 10))
		measure(b, ix, func(int) string { return c.s.words[20+rng.IntN(200)] })
	})
	b.Run("fulltext2", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(11, 12))
		measure(b, ix, func(int) string { return c.s.words[5+rng.IntN(50)] + " " + c.s.words[20+rng.IntN(200)] })
	})
	b.Run("record-field", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(13, 14))
		measure(b, ix, func(int) string {
			return fmt.Sprintf(`doc.invoice.customer:"%s" doc.invoice.amount:>50000`, c.s.names[rng.IntN(len(c.s.names))])
		})
	})
	b.Run("failed-range", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(15, 16))
		measure(b, ix, func(int) string {
			h := 1 + rng.IntN(int(ix.IndexedHeight()))
			return fmt.Sprintf("status:failed height:%d..%d", h, h+100)
		})
	})
}
