package mempool

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// signedTransfers returns n signed transfers from `senders` funded senders,
// nonces interleaved the way many clients would send them, and the state
// that funds them.
func signedTransfers(tb testing.TB, n, senders int) ([]*types.Tx, *mapState) {
	tb.Helper()
	st := newMapState()
	keys := make([]*crypto.PrivateKey, senders)
	for i := range keys {
		keys[i] = key(i)
		st.set(addr(keys[i]), types.Account{Balance: 1 << 40})
	}
	txs := make([]*types.Tx, n)
	for i := range txs {
		txs[i] = transferTx(keys[i%senders], uint64(i/senders+1), 1)
	}
	return txs, st
}

func benchPool(tb testing.TB, st StateReader, maxTxs int) *Mempool {
	return newPool(tb, st, func(c *Config) {
		c.MaxTxs, c.MaxBytes, c.GossipQueue = maxTxs, 1<<30, 0
	})
}

// BenchmarkAdd: one client tx at a time, signature verified singly.
func BenchmarkAdd(b *testing.B) {
	txs, st := signedTransfers(b, b.N, 1000)
	m := benchPool(b, st, b.N+1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := m.Add(txs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

// BenchmarkAddParallel: Add from concurrent API goroutines (one sender per
// goroutine's slice of txs, so nonces arrive in order).
func BenchmarkAddParallel(b *testing.B) {
	txs, st := signedTransfers(b, b.N, 1000)
	m := benchPool(b, st, b.N+1)
	// Group by sender so each goroutine owns whole senders.
	bySender := make([][]*types.Tx, 1000)
	for i, tx := range txs {
		bySender[i%1000] = append(bySender[i%1000], tx)
	}
	next := make(chan []*types.Tx, len(bySender))
	for _, s := range bySender {
		next <- s
	}
	close(next)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []*types.Tx
		for pb.Next() {
			for len(mine) == 0 {
				s, ok := <-next
				if !ok {
					return
				}
				mine = s
			}
			if err := m.Add(mine[0]); err != nil {
				b.Error(err)
				return
			}
			mine = mine[1:]
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

// BenchmarkAddBatch1000: one op = AddBatch of 1,000 txs (one batch
// signature verification).
func BenchmarkAddBatch1000(b *testing.B) {
	const batch = 1000
	txs, st := signedTransfers(b, b.N*batch, 1000)
	m := benchPool(b, st, b.N*batch+1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, err := range m.AddBatch(txs[i*batch : (i+1)*batch]) {
			if err != nil {
				b.Fatalf("tx %d: %v", j, err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "tx/s")
}

// unsignedTransfers is signedTransfers without the signing, for pools
// filled by fillUnverified: reap and update cost does not depend on
// signatures, and signing 100,000 txs would dominate the setup.
func unsignedTransfers(n, senders int) ([]*types.Tx, map[crypto.Address]types.Account) {
	pubs := make([]crypto.PublicKey, senders)
	accts := make(map[crypto.Address]types.Account, senders)
	for i := range pubs {
		pubs[i] = key(i).Public()
		accts[pubs[i].Address()] = types.Account{Balance: 1 << 40}
	}
	txs := make([]*types.Tx, n)
	for i := range txs {
		tx := &types.Tx{ChainID: testChain, Sender: pubs[i%senders], Nonce: uint64(i/senders + 1), Timestamp: 1,
			Payload: &types.Transfer{To: crypto.Address{0xee}, Amount: 1}}
		tx.Bytes()
		txs[i] = tx
	}
	return txs, accts
}

// fillUnverified admits txs as add does, minus the signature check.
func fillUnverified(tb testing.TB, m *Mempool, txs []*types.Tx) {
	tb.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, tx := range txs {
		c := candidate{tx: tx, hash: tx.Hash(), addr: tx.Sender.Address()}
		acct, err := m.state.Account(c.addr)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := m.insertLocked(c, acct, false, m.cfg.Now()); err != nil {
			tb.Fatalf("fill tx %d: %v", i, err)
		}
	}
}

// poolOf returns a pool holding txs (all ready) over a fresh copy of accts.
func poolOf(tb testing.TB, txs []*types.Tx, accts map[crypto.Address]types.Account) (*Mempool, *mapState) {
	st := newMapState()
	for a, acct := range accts {
		st.m[a] = acct
	}
	m := benchPool(tb, st, len(txs))
	fillUnverified(tb, m, txs)
	if s := m.Stats(); s.Ready != len(txs) {
		tb.Fatalf("pool holds %d ready, want %d", s.Ready, len(txs))
	}
	return m, st
}

// BenchmarkReap10kFrom100k: cut a 10,000-tx block from 100,000 pending
// (10,000 senders).
func BenchmarkReap10kFrom100k(b *testing.B) {
	txs, accts := unsignedTransfers(100_000, 10_000)
	m, _ := poolOf(b, txs, accts)
	b.ReportAllocs()
	for b.Loop() {
		if got := m.Reap(10_000, 16<<20); len(got) != 10_000 {
			b.Fatalf("reaped %d", len(got))
		}
	}
}

// BenchmarkUpdate10kFrom100k: commit a 10,000-tx block out of 100,000
// pending: removal by hash, 10,000 account reads, resync of each sender.
func BenchmarkUpdate10kFrom100k(b *testing.B) {
	txs, accts := unsignedTransfers(100_000, 10_000)
	b.ReportAllocs()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		m, st := poolOf(b, txs, accts)
		block := m.Reap(10_000, -1)
		st.apply(block)
		runtime.GC() // the setup's garbage is not Update's cost
		b.StartTimer()
		err := m.Update(1, block)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if s := m.Stats(); s.Txs != 90_000 || s.Ready != 90_000 {
			b.Fatalf("after update: %+v", s)
		}
	}
}

func Example() {
	st := newMapState()
	k := key(1)
	st.set(addr(k), types.Account{Balance: 10})
	m, _ := New(DefaultConfig(testChain, types.DefaultParams()), st)

	fmt.Println(m.Add(transferTx(k, 1, 6)))
	fmt.Println(m.Add(transferTx(k, 2, 6))) // the same funds twice
	block := m.Reap(100, 1<<20)
	st.apply(block)
	fmt.Println(len(block), m.Update(1, block), m.Stats().Txs)
	// Output:
	// <nil>
	// insufficient_balance: balance 10 does not cover 6 plus 6 in pending transfers
	// 1 <nil> 0
}
