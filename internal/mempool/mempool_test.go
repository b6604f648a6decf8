package mempool

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

func TestAddMakesTxPendingReapableAndGossiped(t *testing.T) {
	st := newMapState()
	m := newPool(t, st, nil)
	k := key(1)
	tx := putTx(k, 1, "a")
	mustAdd(t, m, tx)

	if !m.Has(tx.Hash()) || !m.Verified(tx.Hash()) {
		t.Fatal("added tx is not pending")
	}
	if got, ok := m.Get(tx.Hash()); !ok || got != tx {
		t.Fatal("Get does not return the added tx")
	}
	if s := m.Stats(); s.Txs != 1 || s.Ready != 1 || s.Held != 0 || s.Bytes != tx.Size() || s.Senders != 1 {
		t.Fatalf("stats %+v", s)
	}
	sameOrder(t, "reap", m.Reap(-1, -1), []*types.Tx{tx})
	select {
	case <-m.TxsAvailable():
	default:
		t.Fatal("TxsAvailable did not fire")
	}
	select {
	case b := <-m.Gossip():
		sameOrder(t, "gossip", b, []*types.Tx{tx})
	default:
		t.Fatal("client tx was not queued for gossip")
	}
	// Reap does not remove.
	if m.Stats().Txs != 1 {
		t.Fatal("Reap removed txs")
	}
	checkInvariants(t, m)
}

func TestAdmissionRules(t *testing.T) {
	st := newMapState()
	k := key(1)
	st.set(addr(k), types.Account{Balance: 100, Nonce: 5})
	params := types.DefaultParams()
	params.MaxTxBytes, params.MaxRecordBytes = 400, 100

	badSig := func() *types.Tx {
		b := append([]byte(nil), transferTx(k, 6, 1).Bytes()...)
		b[len(b)-1] ^= 1
		tx, err := types.DecodeTx(b)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		return tx
	}
	wrongChain := &types.Tx{ChainID: "other", Nonce: 6, Payload: &types.KVPut{Key: "k", Value: "v"}}
	wrongChain.Sign(k)
	big := &types.Tx{ChainID: testChain, Nonce: 6, Payload: &types.KVPut{Key: "k", Value: strings.Repeat("x", 500)}}
	big.Sign(k)
	bigRecord := &types.Tx{ChainID: testChain, Nonce: 6, Payload: &types.Record{Document: []byte(`"` + strings.Repeat("r", 150) + `"`)}}
	bigRecord.Sign(k)

	cases := []struct {
		name string
		tx   *types.Tx
		want error
	}{
		{"nil", nil, types.ErrMalformed},
		{"wrong chain", wrongChain, types.ErrWrongChain},
		{"oversized tx", big, types.ErrOversized},
		{"oversized record", bigRecord, types.ErrOversized},
		{"bad signature", badSig(), types.ErrBadSignature},
		{"nonce equal to committed (replay)", putTx(k, 5, "a"), types.ErrBadNonce},
		{"nonce below committed (replay)", putTx(k, 1, "a"), types.ErrBadNonce},
		{"nonce too far ahead", putTx(k, 6+64+1, "a"), types.ErrBadNonce},
		{"overdraft", transferTx(k, 6, 101), types.ErrInsufficientBalance},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newPool(t, st, func(cfg *Config) { cfg.Params = params })
			err := m.Add(c.tx)
			wantCode(t, err, c.want)
			if s := m.Stats(); s.Txs != 0 || s.Bytes != 0 {
				t.Fatalf("refused tx changed the pool: %+v", s)
			}
			select {
			case <-m.Gossip():
				t.Fatal("refused tx was gossiped")
			default:
			}
			// Batch admission refuses the same way.
			errs := m.AddBatch([]*types.Tx{c.tx, putTx(key(2), 1, "ok")})
			wantCode(t, errs[0], c.want)
			if errs[1] != nil {
				t.Fatalf("good tx in the same batch refused: %v", errs[1])
			}
			if s := m.Stats(); s.Txs != 1 {
				t.Fatalf("batch: %d txs pending, want 1", s.Txs)
			}
		})
	}

	// The boundaries are accepted: the next nonce, the furthest future
	// nonce, a transfer of the whole balance.
	m := newPool(t, st, func(cfg *Config) { cfg.Params = params })
	mustAdd(t, m, putTx(k, 6+64, "far"), transferTx(k, 6, 100))
	if s := m.Stats(); s.Ready != 1 || s.Held != 1 {
		t.Fatalf("stats %+v", s)
	}
	// A different tx with a pending nonce is a conflict, not a replacement.
	wantCode(t, m.Add(putTx(k, 6, "again")), types.ErrBadNonce)
	wantCode(t, m.Add(putTx(k, 6+64, "again")), types.ErrBadNonce)
	checkInvariants(t, m)
}

func TestDuplicateRefused(t *testing.T) {
	st := newMapState()
	m := newPool(t, st, nil)
	tx := putTx(key(1), 1, "a")
	mustAdd(t, m, tx)
	wantCode(t, m.Add(tx), ErrDuplicate)
	// The same bytes decoded into a fresh value are the same tx.
	again, err := types.DecodeTx(tx.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, m.Add(again), ErrDuplicate)
	if errors.Is(m.Add(again), ErrCommitted) {
		t.Fatal("pending duplicate reported as committed")
	}
	errs := m.AddFromPeer([]*types.Tx{again})
	wantCode(t, errs[0], ErrDuplicate)

	// Within one batch, the second copy is the duplicate.
	tx2 := putTx(key(2), 1, "b")
	errs = m.AddBatch([]*types.Tx{tx2, tx2})
	if errs[0] != nil {
		t.Fatalf("first copy: %v", errs[0])
	}
	wantCode(t, errs[1], ErrDuplicate)
	if s := m.Stats(); s.Txs != 2 {
		t.Fatalf("%d pending, want 2", s.Txs)
	}
	checkInvariants(t, m)
}

func TestCommittedTxReplayRefused(t *testing.T) {
	st := newMapState()
	m := newPool(t, st, func(c *Config) { c.RecentCommitted = 2 })
	k := key(1)
	tx := putTx(k, 1, "a")
	mustAdd(t, m, tx)
	commit(t, m, st, 1, tx)
	if m.Has(tx.Hash()) {
		t.Fatal("committed tx still pending")
	}
	err := m.Add(tx)
	wantCode(t, err, ErrCommitted)
	wantCode(t, err, ErrDuplicate)

	// A tx committed by a block this pool never saw (catch-up) is known too.
	unseen := putTx(k, 2, "b")
	commit(t, m, st, 2, unseen)
	wantCode(t, m.AddFromPeer([]*types.Tx{unseen})[0], ErrCommitted)

	// Once the committed hash is forgotten, the nonce still refuses it.
	commit(t, m, st, 3, putTx(key(2), 1, "c"), putTx(key(3), 1, "d"))
	err = m.Add(tx)
	wantCode(t, err, types.ErrBadNonce)
	if errors.Is(err, ErrDuplicate) {
		t.Fatal("forgotten hash still reported as duplicate")
	}
	if s := m.Stats(); s.Txs != 0 || s.RecentCommitted != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestBalanceCountsPendingSpends(t *testing.T) {
	st := newMapState()
	k := key(1)
	st.set(addr(k), types.Account{Balance: 100})
	m := newPool(t, st, nil)

	mustAdd(t, m, transferTx(k, 1, 60))
	// The same funds again through a second pending tx: refused.
	wantCode(t, m.Add(transferTx(k, 2, 60)), types.ErrInsufficientBalance)
	// Also in one batch.
	errs := m.AddBatch([]*types.Tx{transferTx(k, 2, 30), transferTx(k, 3, 30)})
	if errs[0] != nil {
		t.Fatalf("affordable transfer refused: %v", errs[0])
	}
	wantCode(t, errs[1], types.ErrInsufficientBalance)
	// Non-transfers spend nothing.
	mustAdd(t, m, putTx(k, 3, "free"))
	// Exactly the rest is fine.
	mustAdd(t, m, transferTx(k, 4, 10))
	wantCode(t, m.Add(transferTx(k, 5, 1)), types.ErrInsufficientBalance)

	// Committing the first two moves their spend from pending to the
	// balance: still 10 pending, 10 left.
	commit(t, m, st, 1, m.Reap(2, -1)...)
	if b := st.get(addr(k)).Balance; b != 10 {
		t.Fatalf("balance %d after commit, want 10", b)
	}
	wantCode(t, m.Add(transferTx(k, 5, 1)), types.ErrInsufficientBalance)
	// Funds received raise what can be spent.
	st.set(addr(k), types.Account{Balance: 11, Nonce: 2})
	mustAdd(t, m, transferTx(k, 5, 1))
	checkInvariants(t, m)
}

func TestFIFOAcrossSenders(t *testing.T) {
	st := newMapState()
	m := newPool(t, st, nil)
	var want []*types.Tx
	// Interleave 5 senders, 4 txs each, in an irregular arrival order.
	next := map[int]uint64{}
	order := []int{3, 1, 1, 4, 0, 2, 3, 3, 0, 4, 2, 1, 0, 2, 4, 4, 3, 1, 0, 2}
	for _, s := range order {
		next[s]++
		tx := putTx(key(s), next[s], fmt.Sprint(s))
		mustAdd(t, m, tx)
		want = append(want, tx)
	}
	sameOrder(t, "reap", m.Reap(-1, -1), want)
	sameOrder(t, "reap 7", m.Reap(7, -1), want[:7])
	checkInvariants(t, m)
}

func TestFutureNoncesHeldUntilContiguous(t *testing.T) {
	st := newMapState()
	k := key(1)
	m := newPool(t, st, nil)
	tx := make([]*types.Tx, 6)
	for n := 1; n <= 5; n++ {
		tx[n] = putTx(k, uint64(n), "k")
	}
	other := putTx(key(2), 1, "o")

	mustAdd(t, m, tx[3], tx[5]) // held: gap at 1, 2
	if s := m.Stats(); s.Ready != 0 || s.Held != 2 {
		t.Fatalf("stats %+v", s)
	}
	if got := m.Reap(-1, -1); len(got) != 0 {
		t.Fatalf("reaped %d txs behind a nonce gap", len(got))
	}
	select {
	case <-m.TxsAvailable():
		t.Fatal("TxsAvailable fired for held txs only")
	default:
	}
	mustAdd(t, m, tx[1], other) // 1 ready; 3 and 5 still held
	sameOrder(t, "after 1", m.Reap(-1, -1), []*types.Tx{tx[1], other})
	mustAdd(t, m, tx[2]) // fills the gap: 2 and 3 become ready, in nonce order
	sameOrder(t, "after 2", m.Reap(-1, -1), []*types.Tx{tx[1], other, tx[2], tx[3]})
	mustAdd(t, m, tx[4])
	sameOrder(t, "after 4", m.Reap(-1, -1), []*types.Tx{tx[1], other, tx[2], tx[3], tx[4], tx[5]})
	checkInvariants(t, m)
}

// Shuffled arrival of many senders' nonces: whatever the order, the ready
// list is in each sender's nonce order, ready txs never follow a gap, and a
// reaped prefix committed by a block leaves the pool consistent.
func TestShuffledArrivalKeepsNonceOrder(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		st := newMapState()
		m := newPool(t, st, func(c *Config) { c.MaxFutureNonces = 8 })
		const senders, perSender = 6, 12
		var all []*types.Tx
		for s := 0; s < senders; s++ {
			for n := 1; n <= perSender; n++ {
				all = append(all, putTx(key(s), uint64(n), "k"))
			}
		}
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		// Deliver in random batches; txs too far ahead are refused and
		// retried later, as a client would.
		pending := all
		for round := 0; len(pending) > 0 && round < 100; round++ {
			var retry []*types.Tx
			for len(pending) > 0 {
				n := 1 + rng.IntN(5)
				n = min(n, len(pending))
				errs := m.AddBatch(pending[:n])
				for i, err := range errs {
					switch {
					case err == nil:
					case errors.Is(err, types.ErrBadNonce):
						retry = append(retry, pending[i])
					default:
						t.Fatalf("seed %d: %v", seed, err)
					}
				}
				pending = pending[n:]
				checkInvariants(t, m)
			}
			pending = retry
			if round%3 == 2 {
				commit(t, m, st, uint64(round), m.Reap(1+rng.IntN(20), -1)...)
				checkInvariants(t, m)
			}
		}
		if len(pending) > 0 {
			t.Fatalf("seed %d: %d txs never admitted", seed, len(pending))
		}
		// Everything left is ready now; commit it all.
		if s := m.Stats(); s.Held != 0 {
			t.Fatalf("seed %d: %d still held with no gaps", seed, s.Held)
		}
		commit(t, m, st, 1000, m.Reap(-1, -1)...)
		for s := 0; s < senders; s++ {
			if n := st.get(addr(key(s))).Nonce; n != perSender {
				t.Fatalf("seed %d: sender %d at nonce %d, want %d (a reaped block had a gap)", seed, s, n, perSender)
			}
		}
		if s := m.Stats(); s.Txs != 0 {
			t.Fatalf("seed %d: %d txs left after committing all", seed, s.Txs)
		}
	}
}

func TestFullPoolRefusesAndChangesNothing(t *testing.T) {
	for _, limit := range []string{"txs", "bytes"} {
		t.Run(limit, func(t *testing.T) {
			st := newMapState()
			first := []*types.Tx{putTx(key(1), 1, "a"), putTx(key(2), 1, "b"), putTx(key(3), 1, "c")}
			m := newPool(t, st, func(c *Config) {
				if limit == "txs" {
					c.MaxTxs = 3
				} else {
					c.MaxBytes = first[0].Size() * 3
				}
			})
			mustAdd(t, m, first...)
			<-m.Gossip()
			<-m.Gossip()
			<-m.Gossip()
			before := m.Stats()
			extra := putTx(key(4), 1, "d")
			wantCode(t, m.Add(extra), ErrFull)
			errs := m.AddBatch([]*types.Tx{putTx(key(5), 1, "e"), putTx(key(6), 1, "f")})
			wantCode(t, errs[0], ErrFull)
			wantCode(t, errs[1], ErrFull)
			wantCode(t, m.AddFromPeer([]*types.Tx{extra})[0], ErrFull)
			if after := m.Stats(); after != before {
				t.Fatalf("refusal changed the pool: %+v -> %+v", before, after)
			}
			if m.Has(extra.Hash()) {
				t.Fatal("refused tx is pending")
			}
			select {
			case <-m.Gossip():
				t.Fatal("refused tx was gossiped")
			default:
			}
			// A full pool refuses before spending a signature check.
			forged := *extra
			forged.Signature[0] ^= 1
			forgedTx, err := types.DecodeTx(append(append([]byte(nil), extra.Bytes()[:extra.Size()-crypto.SignatureSize]...), forged.Signature[:]...))
			if err != nil {
				t.Fatal(err)
			}
			wantCode(t, m.Add(forgedTx), ErrFull)
			// Every accepted tx is still there: nothing was evicted.
			sameOrder(t, "reap", m.Reap(-1, -1), first)
			// A commit makes room.
			commit(t, m, st, 1, first[0])
			mustAdd(t, m, extra)
			checkInvariants(t, m)
		})
	}
}

// A batch that fits tx by tx but not as a whole: the txs that fit are
// admitted in order, the rest get ErrFull.
func TestBatchFillsPoolExactly(t *testing.T) {
	st := newMapState()
	m := newPool(t, st, func(c *Config) { c.MaxTxs = 3 })
	batch := []*types.Tx{putTx(key(1), 1, "a"), putTx(key(2), 1, "b"), putTx(key(1), 2, "c"), putTx(key(3), 1, "d"), putTx(key(4), 1, "e")}
	errs := m.AddBatch(batch)
	for i, err := range errs {
		if i < 3 && err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
		if i >= 3 {
			wantCode(t, err, ErrFull)
		}
	}
	sameOrder(t, "reap", m.Reap(-1, -1), batch[:3])
	if b := <-m.Gossip(); len(b) != 3 {
		t.Fatalf("gossiped %d txs, want the 3 admitted", len(b))
	}
	checkInvariants(t, m)
}

func TestUpdateRemovesCommittedAndDropsInvalidated(t *testing.T) {
	st := newMapState()
	m := newPool(t, st, nil)
	a, b, c := key(1), key(2), key(3)
	a1, b1, a2, c1, b2, a3 := putTx(a, 1, "x"), putTx(b, 1, "x"), putTx(a, 2, "x"), putTx(c, 1, "x"), putTx(b, 2, "x"), putTx(a, 3, "x")
	mustAdd(t, m, a1, b1, a2, c1, b2, a3)

	// A block from catch-up: a1 and a2 as we know them, and for b a
	// different tx with nonce 1 this pool never saw.
	bOther := putTx(b, 1, "other")
	commit(t, m, st, 7, a1, a2, bOther)

	for _, tx := range []*types.Tx{a1, a2, b1} {
		if m.Has(tx.Hash()) {
			t.Fatalf("tx nonce %d of %s still pending", tx.Nonce, tx.Sender.Address())
		}
	}
	// b1's nonce is used up by bOther, b2 is still valid; order is kept.
	sameOrder(t, "after update", m.Reap(-1, -1), []*types.Tx{c1, b2, a3})
	if s := m.Stats(); s.Txs != 3 || s.Height != 7 {
		t.Fatalf("stats %+v", s)
	}
	checkInvariants(t, m)
}

// A tx that failed in execution leaves its nonce unused: the sender's later
// txs must not be proposed until a new tx takes that nonce.
func TestUpdateFailedTxLeavesGap(t *testing.T) {
	st := newMapState()
	k := key(1)
	st.set(addr(k), types.Account{Balance: 50})
	m := newPool(t, st, nil)
	t1, t2, t3 := transferTx(k, 1, 50), putTx(k, 2, "x"), putTx(k, 3, "y")
	other := putTx(key(2), 1, "o")
	mustAdd(t, m, t1, t2, t3, other)

	// Someone else's block drains the balance first (a tx this pool never
	// saw would do; here we lower it directly), so t1 fails when executed.
	st.set(addr(k), types.Account{Balance: 10})
	commit(t, m, st, 1, t1)
	if n := st.get(addr(k)).Nonce; n != 0 {
		t.Fatalf("failed tx consumed its nonce (%d)", n)
	}
	sameOrder(t, "after failed tx", m.Reap(-1, -1), []*types.Tx{other})
	if s := m.Stats(); s.Held != 2 || s.Ready != 1 {
		t.Fatalf("stats %+v", s)
	}
	checkInvariants(t, m)
	// The failed tx cannot come back (its hash is in the chain) ...
	wantCode(t, m.Add(t1), ErrCommitted)
	// ... but a new tx with nonce 1 releases the held ones, in order.
	n1 := transferTx(k, 1, 5)
	mustAdd(t, m, n1)
	sameOrder(t, "after refill", m.Reap(-1, -1), []*types.Tx{other, n1, t2, t3})
	checkInvariants(t, m)
}

func TestUpdatePromotesHeldTxs(t *testing.T) {
	st := newMapState()
	k := key(1)
	m := newPool(t, st, nil)
	t3 := putTx(k, 3, "z")
	mustAdd(t, m, t3)
	if got := m.Reap(-1, -1); len(got) != 0 {
		t.Fatal("held tx reaped")
	}
	// The block has nonces 1 and 2, which this pool never saw.
	commit(t, m, st, 1, putTx(k, 1, "x"), putTx(k, 2, "y"))
	select {
	case <-m.TxsAvailable():
	default:
		t.Fatal("TxsAvailable did not fire when a held tx became ready")
	}
	sameOrder(t, "after update", m.Reap(-1, -1), []*types.Tx{t3})
	checkInvariants(t, m)
}

// Between the ledger committing a block and the pool's Update, admission
// sees the new state and must neither accept a used nonce nor corrupt the
// sender's run.
func TestStateAheadOfUpdate(t *testing.T) {
	st := newMapState()
	k := key(1)
	m := newPool(t, st, nil)
	t1, t2 := putTx(k, 1, "a"), putTx(k, 2, "b")
	mustAdd(t, m, t1)
	st.apply([]*types.Tx{t1, t2}) // t2 came from another validator's block
	wantCode(t, m.Add(putTx(k, 2, "conflict")), types.ErrBadNonce)
	t3 := putTx(k, 3, "c")
	mustAdd(t, m, t3) // past the pool's run: held until Update
	if err := m.Update(1, []*types.Tx{t1, t2}); err != nil {
		t.Fatal(err)
	}
	sameOrder(t, "after update", m.Reap(-1, -1), []*types.Tx{t3})
	checkInvariants(t, m)
}

func TestUpdateStateReadFailure(t *testing.T) {
	st := newMapState()
	m := newPool(t, st, nil)
	t1, t2 := putTx(key(1), 1, "a"), putTx(key(1), 2, "b")
	mustAdd(t, m, t1, t2)
	st.apply([]*types.Tx{t1})
	st.fail = errors.New("disk on fire")
	if err := m.Update(1, []*types.Tx{t1}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Update error %v", err)
	}
	// The committed tx is gone all the same and the rest stays proposable.
	sameOrder(t, "after update", m.Reap(-1, -1), []*types.Tx{t2})
	err := m.Add(putTx(key(2), 1, "c"))
	var te *types.TxError
	if err == nil || errors.As(err, &te) || errors.Is(err, ErrFull) {
		t.Fatalf("state read failure reported as %v", err)
	}
	checkInvariants(t, m)
}

func TestReapLimits(t *testing.T) {
	st := newMapState()
	m := newPool(t, st, nil)
	var all []*types.Tx
	for i := 0; i < 10; i++ {
		tx := putTx(key(i%3), uint64(i/3+1), strings.Repeat("k", 1+i))
		mustAdd(t, m, tx)
		all = append(all, tx)
	}
	sameOrder(t, "no limits", m.Reap(-1, -1), all)
	sameOrder(t, "max 4 txs", m.Reap(4, -1), all[:4])
	if got := m.Reap(0, -1); len(got) != 0 {
		t.Fatalf("maxTxs 0 reaped %d", len(got))
	}
	budget := all[0].Size() + all[1].Size() + all[2].Size()
	sameOrder(t, "exact bytes", m.Reap(-1, budget), all[:3])
	sameOrder(t, "one byte short", m.Reap(-1, budget-1), all[:2])
	sameOrder(t, "both", m.Reap(2, budget), all[:2])
	if got := m.Reap(-1, 0); len(got) != 0 {
		t.Fatalf("maxBytes 0 reaped %d", len(got))
	}
}

func TestGossipHandOff(t *testing.T) {
	st := newMapState()
	m := newPool(t, st, func(c *Config) { c.GossipQueue = 2 })
	txs := []*types.Tx{putTx(key(1), 1, "a"), putTx(key(2), 1, "b"), putTx(key(3), 1, "c")}
	held := putTx(key(1), 9, "x") // admitted but held: not gossiped until ready
	dup := txs[0]
	errs := m.AddBatch(append(append([]*types.Tx{}, txs...), held, dup))
	if errs[3] != nil || errs[4] == nil {
		t.Fatalf("held tx: %v; duplicate in batch: %v", errs[3], errs[4])
	}
	b := <-m.Gossip()
	sameOrder(t, "batch gossip", b, txs)

	// From peers: admitted, not gossiped again.
	fromPeer := putTx(key(4), 1, "p")
	if errs := m.AddFromPeer([]*types.Tx{fromPeer}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if !m.Has(fromPeer.Hash()) {
		t.Fatal("peer tx not pending")
	}
	select {
	case <-m.Gossip():
		t.Fatal("peer tx gossiped again")
	default:
	}

	// Queue full: the batch is dropped, the tx is kept.
	mustAdd(t, m, putTx(key(5), 1, "q"), putTx(key(6), 1, "r"))
	last := putTx(key(7), 1, "s")
	mustAdd(t, m, last)
	if !m.Has(last.Hash()) {
		t.Fatal("tx lost when its gossip was dropped")
	}
	if s := m.Stats(); s.GossipDropped != 1 {
		t.Fatalf("gossip dropped %d, want 1", s.GossipDropped)
	}
	if len(m.Gossip()) != 2 {
		t.Fatalf("gossip queue holds %d batches, want 2", len(m.Gossip()))
	}
}

func TestBatchSignatureFallback(t *testing.T) {
	st := newMapState()
	m := newPool(t, st, nil)
	var txs []*types.Tx
	for i := 0; i < 10; i++ {
		tx := putTx(key(i), 1, "k")
		if i == 2 || i == 7 {
			b := append([]byte(nil), tx.Bytes()...)
			b[len(b)-10] ^= 0x40
			var err error
			if tx, err = types.DecodeTx(b); err != nil {
				t.Fatal(err)
			}
		}
		txs = append(txs, tx)
	}
	errs := m.AddBatch(txs)
	for i, err := range errs {
		if i == 2 || i == 7 {
			wantCode(t, err, types.ErrBadSignature)
			if m.Has(txs[i].Hash()) {
				t.Fatalf("tx %d with a bad signature is pending", i)
			}
			continue
		}
		if err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
	}
	if s := m.Stats(); s.Txs != 8 {
		t.Fatalf("%d pending, want 8", s.Txs)
	}
}

func TestTxsAvailableCoalesces(t *testing.T) {
	st := newMapState()
	m := newPool(t, st, nil)
	mustAdd(t, m, putTx(key(1), 1, "a"), putTx(key(2), 1, "b"))
	<-m.TxsAvailable()
	select {
	case <-m.TxsAvailable():
		t.Fatal("two signals queued for one wake-up")
	default:
	}
	mustAdd(t, m, putTx(key(3), 1, "c"))
	select {
	case <-m.TxsAvailable():
	default:
		t.Fatal("no signal when the pool grew")
	}
}

func TestConfigChecked(t *testing.T) {
	st := newMapState()
	for name, mod := range map[string]func(*Config){
		"no chain":        func(c *Config) { c.ChainID = "" },
		"zero txs":        func(c *Config) { c.MaxTxs = 0 },
		"zero bytes":      func(c *Config) { c.MaxBytes = 0 },
		"negative window": func(c *Config) { c.MaxFutureNonces = -1 },
		"zero sender txs": func(c *Config) { c.MaxSenderTxs = 0 },
		"sender bytes":    func(c *Config) { c.MaxSenderBytes = c.Params.MaxTxBytes - 1 },
		"negative held":   func(c *Config) { c.MaxHeldBytes = -1 },
		"zero held ttl":   func(c *Config) { c.HeldTTL = 0 },
		"bad params":      func(c *Config) { c.Params.MaxTxBytes = 0 },
	} {
		c := testConfig()
		mod(&c)
		if _, err := New(c, st); err == nil {
			t.Errorf("%s: New accepted %+v", name, c)
		}
	}
	if _, err := New(testConfig(), nil); err == nil {
		t.Error("New accepted a nil state reader")
	}
	// A zero window admits only the next nonce.
	m := newPool(t, st, func(c *Config) { c.MaxFutureNonces = 0 })
	wantCode(t, m.Add(putTx(key(1), 2, "a")), types.ErrBadNonce)
	mustAdd(t, m, putTx(key(1), 1, "a"), putTx(key(1), 2, "a"))
}

// Many goroutines add (singly and in batches, some duplicates) while the
// consensus side reaps and commits. Run with -race.
func TestConcurrentAddReapUpdate(t *testing.T) {
	st := newMapState()
	m := newPool(t, st, func(c *Config) { c.MaxTxs = 100_000; c.MaxBytes = 64 << 20 })
	const workers, sendersPer, perSender = 8, 3, 20
	txs := make([][]*types.Tx, workers)
	for w := range txs {
		for s := 0; s < sendersPer; s++ {
			k := key(w*sendersPer + s)
			for n := 1; n <= perSender; n++ {
				txs[w] = append(txs[w], putTx(k, uint64(n), "k"))
			}
		}
	}
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			mine := txs[w]
			for i := 0; i < len(mine); {
				if w%2 == 0 {
					if err := m.Add(mine[i]); err != nil {
						errc <- fmt.Errorf("worker %d tx %d: %w", w, i, err)
						return
					}
					m.Has(mine[i].Hash())
					i++
					continue
				}
				j := min(i+7, len(mine))
				for k, err := range m.AddBatch(mine[i:j]) {
					if err != nil {
						errc <- fmt.Errorf("worker %d tx %d: %w", w, i+k, err)
						return
					}
				}
				// A duplicate of the last batch is refused, never doubled.
				if err := m.Add(mine[i]); !errors.Is(err, ErrDuplicate) {
					errc <- fmt.Errorf("worker %d: duplicate gave %v", w, err)
					return
				}
				i = j
			}
		}(w)
	}
	done := make(chan struct{})
	committed := map[crypto.Hash]bool{}
	var height uint64
	go func() {
		defer close(done)
		for i := 0; i < 10_000; i++ {
			select {
			case <-m.Gossip():
			default:
			}
			block := m.Reap(1+i%40, -1)
			height++
			st.apply(block)
			if err := m.Update(height, block); err != nil {
				t.Errorf("Update: %v", err)
				return
			}
			for _, tx := range block {
				if committed[tx.Hash()] {
					t.Errorf("tx committed twice")
				}
				committed[tx.Hash()] = true
			}
			if len(committed) == workers*sendersPer*perSender {
				return
			}
			if len(block) == 0 {
				select {
				case <-m.TxsAvailable():
				case <-time.After(10 * time.Second):
					t.Errorf("no txs became available for 10s with %d committed", len(committed))
					return
				}
			}
		}
	}()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	<-done
	if len(committed) != workers*sendersPer*perSender {
		t.Fatalf("%d committed, want %d", len(committed), workers*sendersPer*perSender)
	}
	for w := 0; w < workers*sendersPer; w++ {
		if n := st.get(addr(key(w))).Nonce; n != perSender {
			t.Fatalf("sender %d at nonce %d", w, n)
		}
	}
	if s := m.Stats(); s.Txs != 0 || s.Bytes != 0 {
		t.Fatalf("left over: %+v", s)
	}
	checkInvariants(t, m)
}
