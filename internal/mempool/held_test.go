package mempool

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// bigPut is a kv.put of about size encoded bytes.
func bigPut(k *crypto.PrivateKey, nonce uint64, size int) *types.Tx {
	tx := &types.Tx{ChainID: testChain, Nonce: nonce, Timestamp: 1, Payload: &types.KVPut{Key: "big", Value: strings.Repeat("x", size)}}
	tx.Sign(k)
	return tx
}

// drainGossip returns every tx queued for gossip so far.
func drainGossip(m *Mempool) []*types.Tx {
	var out []*types.Tx
	for {
		select {
		case b := <-m.Gossip():
			out = append(out, b...)
		default:
			return out
		}
	}
}

// The stall of the issue "no one can stall the chain", scaled to the test
// pool (1 MiB): two keys with no account at all send nonces 2..65 of large
// kv.puts, which can never execute while nonce 1 is missing. They must not
// take the room of an honest sender's executable tx, nor be gossiped.
func TestNonceGapFloodDoesNotRefuseReadyTx(t *testing.T) {
	st := newMapState()
	m := newPool(t, st, nil)
	const size = 16 << 10 // 64 txs x 2 keys x 16 KiB = 2 MiB, twice the pool
	for _, k := range []*crypto.PrivateKey{key(100), key(101)} {
		var flood []*types.Tx
		for n := uint64(2); n <= 65; n++ {
			flood = append(flood, bigPut(k, n, size))
		}
		m.AddBatch(flood) // refusals are expected; what stays matters
		m.AddFromPeer(flood)
	}
	if got := drainGossip(m); len(got) != 0 {
		t.Errorf("%d txs behind a nonce gap were queued for gossip", len(got))
	}
	// Honest senders, small and large, still get in.
	for i := 0; i < 4; i++ {
		if err := m.Add(bigPut(key(i), 1, size)); err != nil {
			t.Fatalf("honest sender %d, nonce 1: %v", i, err)
		}
	}
	if err := m.Add(putTx(key(9), 1, "small")); err != nil {
		t.Fatalf("honest small tx: %v", err)
	}
	checkInvariants(t, m)
}

// clock is a settable Config.Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock { return &clock{t: time.Unix(1_700_000_000, 0)} }

func TestHeldTxsExpire(t *testing.T) {
	st := newMapState()
	clk := newClock()
	m := newPool(t, st, func(c *Config) { c.Now = clk.now; c.HeldTTL = time.Minute })
	k := key(1)
	t3, t5 := putTx(k, 3, "a"), putTx(k, 5, "b")
	mustAdd(t, m, t3)
	clk.advance(40 * time.Second)
	mustAdd(t, m, t5)
	ready := putTx(key(2), 1, "r")
	mustAdd(t, m, ready)

	// At exactly the TTL nothing has expired yet.
	clk.advance(20 * time.Second)
	commit(t, m, st, 1)
	if s := m.Stats(); s.Held != 2 || s.HeldExpired != 0 {
		t.Fatalf("at the TTL: %+v", s)
	}
	// Past it, t3 goes (at the next Update or admission); t5 stays.
	clk.advance(time.Second)
	commit(t, m, st, 2)
	if m.Has(t3.Hash()) || !m.Has(t5.Hash()) {
		t.Fatalf("after 61s: t3 pending %v, t5 pending %v", m.Has(t3.Hash()), m.Has(t5.Hash()))
	}
	clk.advance(40 * time.Second)
	if err := m.Add(putTx(key(3), 1, "c")); err != nil {
		t.Fatal(err)
	}
	if s := m.Stats(); s.Held != 0 || s.HeldExpired != 2 || s.Ready != 2 {
		t.Fatalf("after expiry: %+v", s)
	}
	// Ready txs never expire, and the expired nonces are free again.
	sameOrder(t, "reap", m.Reap(-1, -1)[:1], []*types.Tx{ready})
	mustAdd(t, m, t3)
	checkInvariants(t, m)
}

// A held tx from a client is gossiped when it becomes ready, whether the gap
// fills by admission (from a client or a peer) or by a commit; one from a
// peer is not gossiped again.
func TestHeldTxGossipedOnceReady(t *testing.T) {
	st := newMapState()
	m := newPool(t, st, nil)
	k := key(1)
	t1, t2, t3, t4, t5 := putTx(k, 1, "a"), putTx(k, 2, "b"), putTx(k, 3, "c"), putTx(k, 4, "d"), putTx(k, 5, "e")

	mustAdd(t, m, t3)
	m.AddFromPeer([]*types.Tx{t5})
	if got := drainGossip(m); len(got) != 0 {
		t.Fatalf("held txs gossiped: %d", len(got))
	}
	// A client fills part of the gap: t2 is still behind nonce 1.
	mustAdd(t, m, t2)
	if got := drainGossip(m); len(got) != 0 {
		t.Fatalf("held txs gossiped: %d", len(got))
	}
	// A peer's t1 fills it: this node's own t2 and t3 are gossiped, in nonce
	// order; t1 was the peer's to gossip.
	if errs := m.AddFromPeer([]*types.Tx{t1}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	sameOrder(t, "gossip after gap fill", drainGossip(m), []*types.Tx{t2, t3})

	// A gap filled by a block with a tx this pool never saw (the client
	// sent nonce 1 to another validator).
	j := key(2)
	j2, j3 := putTx(j, 2, "x"), putTx(j, 3, "y")
	mustAdd(t, m, j3, j2)
	if got := drainGossip(m); len(got) != 0 {
		t.Fatalf("held txs gossiped: %d", len(got))
	}
	commit(t, m, st, 1, putTx(j, 1, "elsewhere"))
	sameOrder(t, "gossip after commit", drainGossip(m), []*types.Tx{j2, j3})

	// t4 fills k's last gap; t5 came from a peer, so only t4 is gossiped.
	mustAdd(t, m, t4)
	sameOrder(t, "gossip t4", drainGossip(m), []*types.Tx{t4})
	sameOrder(t, "reap", m.Reap(-1, -1), []*types.Tx{t1, t2, t3, j2, j3, t4, t5})
	checkInvariants(t, m)
}

// A full pool makes room for a ready tx by evicting held ones, longest held
// first; a held tx evicts nothing; ready txs are never evicted.
func TestReadyTxEvictsHeldOldestFirst(t *testing.T) {
	st := newMapState()
	clk := newClock()
	m := newPool(t, st, func(c *Config) { c.MaxTxs = 6; c.Now = clk.now })
	r1, r2 := putTx(key(1), 1, "r"), putTx(key(2), 1, "r")
	h := []*types.Tx{putTx(key(3), 2, "h"), putTx(key(4), 5, "h"), putTx(key(3), 3, "h"), putTx(key(5), 2, "h")}
	mustAdd(t, m, r1)
	for _, tx := range h {
		clk.advance(time.Second)
		mustAdd(t, m, tx)
	}
	mustAdd(t, m, r2) // 6 of 6
	wantCode(t, m.Add(putTx(key(6), 2, "held")), ErrFull)

	r3, r4 := putTx(key(7), 1, "r"), putTx(key(8), 1, "r")
	errs := m.AddBatch([]*types.Tx{r3, r4})
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("ready txs refused: %v", errs)
	}
	for i, tx := range h {
		if want := i >= 2; m.Has(tx.Hash()) != want {
			t.Fatalf("held tx %d pending %v, want %v", i, !want, want)
		}
	}
	if s := m.Stats(); s.Txs != 6 || s.Held != 2 || s.HeldEvicted != 2 {
		t.Fatalf("stats %+v", s)
	}
	// A ready tx of a sender whose own held tx is the oldest: it may evict it.
	r5 := putTx(key(3), 1, "r")
	mustAdd(t, m, r5)
	if m.Has(h[2].Hash()) {
		t.Fatal("oldest held tx kept")
	}
	r6 := putTx(key(9), 1, "r")
	mustAdd(t, m, r6)
	// Only ready txs now: the pool refuses, and evicts nothing.
	wantCode(t, m.Add(putTx(key(10), 1, "r")), ErrFull)
	sameOrder(t, "reap", m.Reap(-1, -1), []*types.Tx{r1, r2, r3, r4, r5, r6})
	if s := m.Stats(); s.Ready != 6 || s.Held != 0 {
		t.Fatalf("stats %+v", s)
	}
	checkInvariants(t, m)
}

func TestHeldBudgets(t *testing.T) {
	st := newMapState()
	m := newPool(t, st, func(c *Config) {
		c.MaxHeldTxsPerSender, c.MaxHeldBytesPerSender = 3, 1<<20
		c.MaxHeldTxs, c.MaxHeldBytes = 5, 1<<20
	})
	k := key(1)
	mustAdd(t, m, putTx(k, 2, "a"), putTx(k, 3, "a"), putTx(k, 4, "a"))
	wantCode(t, m.Add(putTx(k, 5, "a")), ErrSenderLimit)
	// The ready run is not held: nonce 1 is taken and promotes the rest.
	mustAdd(t, m, putTx(k, 1, "a"))
	mustAdd(t, m, putTx(k, 6, "a"))

	// The pool's held budget: 5 in all.
	mustAdd(t, m, putTx(key(2), 2, "b"), putTx(key(2), 3, "b"), putTx(key(3), 2, "c"), putTx(key(3), 3, "c"))
	err := m.Add(putTx(key(4), 2, "d"))
	wantCode(t, err, ErrHeldFull)
	wantCode(t, err, ErrFull)
	mustAdd(t, m, putTx(key(4), 1, "d")) // ready: fine

	// Bytes, per sender.
	m = newPool(t, st, func(c *Config) { c.MaxHeldBytesPerSender = 40 << 10 })
	mustAdd(t, m, bigPut(k, 2, 16<<10), bigPut(k, 3, 16<<10))
	wantCode(t, m.Add(bigPut(k, 4, 16<<10)), ErrSenderLimit)
	mustAdd(t, m, bigPut(key(2), 2, 16<<10))
	// A held budget of 0 holds nothing.
	m = newPool(t, st, func(c *Config) { c.MaxHeldTxs = 0 })
	wantCode(t, m.Add(putTx(k, 2, "a")), ErrHeldFull)
	mustAdd(t, m, putTx(k, 1, "a"), putTx(k, 2, "a"))
	checkInvariants(t, m)
}

// One sender's run of consecutive nonces is bounded, by count and by bytes,
// so it cannot take the pool; other senders still get in.
func TestSenderLimit(t *testing.T) {
	st := newMapState()
	m := newPool(t, st, func(c *Config) { c.MaxSenderTxs = 5 })
	k := key(1)
	var run []*types.Tx
	for n := uint64(1); n <= 5; n++ {
		run = append(run, putTx(k, n, "a"))
	}
	mustAdd(t, m, run...)
	wantCode(t, m.Add(putTx(k, 6, "a")), ErrSenderLimit)
	wantCode(t, m.Add(putTx(k, 7, "a")), ErrSenderLimit) // held counts too
	mustAdd(t, m, putTx(key(2), 1, "b"))
	// Commits make room again.
	commit(t, m, st, 1, run[:2]...)
	mustAdd(t, m, putTx(k, 6, "a"), putTx(k, 7, "a"))
	wantCode(t, m.Add(putTx(k, 8, "a")), ErrSenderLimit)

	params := types.DefaultParams()
	params.MaxTxBytes, params.MaxRecordBytes = 64<<10, 32<<10
	m = newPool(t, st, func(c *Config) { c.Params = params; c.MaxSenderBytes = 64 << 10 })
	j := key(3)
	mustAdd(t, m, bigPut(j, 1, 30<<10), bigPut(j, 2, 30<<10))
	err := m.Add(bigPut(j, 3, 30<<10))
	wantCode(t, err, ErrSenderLimit)
	if errors.Is(err, ErrFull) {
		t.Fatal("sender limit reported as a full pool")
	}
	checkInvariants(t, m)
}

// The honest burst of the issue, scaled down: many senders each send a run
// of nonces; some sends are lost (refused), leaving their later nonces held
// behind gaps forever. The pool must keep taking ready txs and proposing.
func TestLostNoncesDoNotStallPool(t *testing.T) {
	st := newMapState()
	clk := newClock()
	m := newPool(t, st, func(c *Config) { c.MaxTxs = 200; c.MaxHeldTxs = 40; c.Now = clk.now })
	height := uint64(0)
	for round := 0; round < 20; round++ {
		for s := 0; s < 20; s++ {
			k := key(s)
			base := st.get(addr(k)).Nonce
			// nonce base+1 is "lost" every third round: the rest is held.
			from := base + 1
			if (round+s)%3 == 0 {
				from = base + 2
			}
			for n := from; n <= base+5; n++ {
				err := m.Add(putTx(k, n, fmt.Sprint(round)))
				switch {
				case err == nil, errors.Is(err, types.ErrBadNonce), errors.Is(err, ErrFull), errors.Is(err, ErrSenderLimit):
				default:
					t.Fatalf("round %d sender %d nonce %d: %v", round, s, n, err)
				}
			}
		}
		// An honest newcomer's ready tx is always admitted.
		if err := m.Add(putTx(key(1000+round), 1, "new")); err != nil {
			t.Fatalf("round %d: ready tx refused: %v", round, err)
		}
		height++
		block := m.Reap(50, -1)
		if len(block) == 0 {
			t.Fatalf("round %d: nothing to propose", round)
		}
		commit(t, m, st, height, block...)
		clk.advance(10 * time.Second)
		checkInvariants(t, m)
	}
	if s := m.Stats(); s.Held > 40 {
		t.Fatalf("held %d over the budget", s.Held)
	}
}
