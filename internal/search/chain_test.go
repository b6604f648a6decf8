package search

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/txfixtures"
	"github.com/cairn-db/cairn/types"
)

// chain is a one-validator chain on a real ledger, for tests.
type chain struct {
	t     testing.TB
	g     *types.Genesis
	vkey  *crypto.PrivateKey
	users []*crypto.PrivateKey
	nonce map[crypto.PublicKey]uint64
	dir   string
	l     *ledger.Ledger
	// prunable opens the ledger keeping the records state pruning needs.
	prunable bool
}

func testKey(tag byte, i int) *crypto.PrivateKey {
	var seed [32]byte
	seed[0], seed[1], seed[2] = tag, byte(i), byte(i>>8)
	return crypto.MustKeyFromSeed(seed)
}

var genesisTime = time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)

func newChain(t testing.TB, users int, balance uint64) *chain {
	t.Helper()
	return newChainID(t, "search-test", users, balance)
}

func newChainID(t testing.TB, chainID string, users int, balance uint64, opts ...func(*chain)) *chain {
	t.Helper()
	c := &chain{t: t, vkey: testKey('v', 0), nonce: map[crypto.PublicKey]uint64{}, dir: t.TempDir()}
	for _, o := range opts {
		o(c)
	}
	g := &types.Genesis{ChainID: chainID, GenesisTime: genesisTime.UnixMilli(), Params: types.DefaultParams()}
	g.Validators = []types.Validator{{Name: "v0", PublicKey: c.vkey.Public(), Power: 1}}
	for i := 0; i < users; i++ {
		k := testKey('u', i)
		c.users = append(c.users, k)
		g.Balances = append(g.Balances, types.Balance{Address: k.Public().Address(), Amount: balance})
	}
	if users > 0 {
		// User 0 governs, so the governance samples (txfixtures) commit.
		g.Params.GovernanceThreshold = 1
		g.Roles = txfixtures.Roles(c.users[0])
	}
	c.g = g
	c.open()
	return c
}

func (c *chain) open() {
	c.t.Helper()
	l, err := ledger.Open(ledger.Options{Dir: filepath.Join(c.dir, "ledger"), CacheBytes: 8 << 20, Prunable: c.prunable}, c.g)
	if err != nil {
		c.t.Fatalf("open ledger: %v", err)
	}
	c.l = l
	c.t.Cleanup(func() { _ = l.Close() })
}

func (c *chain) addr(i int) crypto.Address { return c.users[i].Public().Address() }

// tx signs a transaction with the sender's next nonce and counts it used.
func (c *chain) tx(i int, p types.Payload) *types.Tx {
	k := c.users[i]
	c.nonce[k.Public()]++
	return c.signed(k, c.nonce[k.Public()], p)
}

// failing signs a transaction expected to fail: it uses the next nonce
// without consuming it (a failed tx changes nothing but its receipt).
func (c *chain) failing(i int, p types.Payload) *types.Tx {
	k := c.users[i]
	return c.signed(k, c.nonce[k.Public()]+1, p)
}

func (c *chain) signed(k *crypto.PrivateKey, nonce uint64, p types.Payload) *types.Tx {
	tx := &types.Tx{ChainID: c.g.ChainID, Nonce: nonce, Timestamp: genesisTime.UnixMilli(), Payload: p}
	tx.Sign(k)
	return tx
}

// commitAt commits a block of txs with block time at (or the parent's
// time plus 1 ms when at is zero or earlier).
func (c *chain) commitAt(at time.Time, txs ...*types.Tx) []*types.Receipt {
	c.t.Helper()
	head := c.l.Head()
	ms := at.UnixMilli()
	if at.IsZero() || ms <= head.Time {
		ms = head.Time + 1
	}
	blk, p, err := c.l.Propose(txs, 0, ms, c.vkey.Public(), execute.Options{})
	if err != nil {
		c.t.Fatalf("propose %d: %v", head.Height+1, err)
	}
	v := types.SignVote(c.vkey, c.g.ChainID, types.Precommit, blk.Header.Height, 0, blk.Hash(), 0)
	cert := types.NewCertificate(blk.Header.Height, 0, blk.Hash(), []types.Vote{v})
	if err := c.l.Commit(blk, cert, p); err != nil {
		c.t.Fatalf("commit %d: %v", blk.Header.Height, err)
	}
	return p.Result.Receipts
}

func (c *chain) commit(txs ...*types.Tx) []*types.Receipt { return c.commitAt(time.Time{}, txs...) }

func u64(v uint64) *uint64 { return &v }

// fixture is the known chain most tests query.
type fixture struct {
	*chain
	// Named transactions.
	t0to1, t1to2, put, rec1, over, t0to3, putBob, conflict, rec2, del, replay *types.Tx
	blockTimes                                                                []time.Time
}

func newFixture(t testing.TB) *fixture {
	f := &fixture{chain: newChain(t, 5, 1000)}
	c := f.chain
	h1 := time.Date(2025, 12, 31, 12, 0, 0, 0, time.UTC)
	h2 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h3 := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	h4 := time.Date(2026, 2, 1, 8, 30, 0, 0, time.UTC)
	f.blockTimes = []time.Time{h1, h2, h3, h4}

	f.t0to1 = c.tx(0, &types.Transfer{To: c.addr(1), Amount: 100})
	f.t1to2 = c.tx(1, &types.Transfer{To: c.addr(2), Amount: 5})
	f.put = c.tx(0, &types.KVPut{Key: "user/alice", Value: "Alice likes green apples"})
	mustOK(t, c.commitAt(h1, f.t0to1, f.t1to2, f.put), 3)

	f.rec1 = c.tx(2, &types.Record{Document: []byte(`{"note":"merry christmas and happy new year","voucher":{"amount":250,"tags":["gift","holiday"],"to":"Bob Smith"}}`)})
	f.over = c.failing(3, &types.Transfer{To: c.addr(4), Amount: 5000})
	f.t0to3 = c.tx(0, &types.Transfer{To: c.addr(3), Amount: 7})
	rs := c.commitAt(h2, f.rec1, f.over, f.t0to3)
	if rs[1].OK || rs[1].Code != types.CodeInsufficientBalance {
		t.Fatalf("over-spend receipt: %+v", rs[1])
	}

	f.putBob = c.tx(1, &types.KVPut{Key: "user/bob", Value: "Bob prefers red apples"})
	f.conflict = c.failing(4, &types.KVPut{Key: "config/x", Value: "on", ExpectVersion: u64(5)})
	f.rec2 = c.tx(3, &types.Record{Document: []byte(`{"note":"thanks for the apples","voucher":{"amount":50,"paid":true,"to":"Alice Jones"}}`)})
	f.del = c.tx(1, &types.KVDelete{Key: "user/alice"})
	rs = c.commitAt(h3, f.putBob, f.conflict, f.rec2, f.del)
	if rs[1].OK || rs[1].Code != types.CodeVersionConflict {
		t.Fatalf("conflict receipt: %+v", rs[1])
	}

	f.replay = f.t0to1
	rs = c.commitAt(h4, f.replay)
	if rs[0].OK || rs[0].Code != types.CodeReplay {
		t.Fatalf("replay receipt: %+v", rs[0])
	}
	return f
}

func mustOK(t testing.TB, rs []*types.Receipt, n int) {
	t.Helper()
	if len(rs) != n {
		t.Fatalf("%d receipts, want %d", len(rs), n)
	}
	for i, r := range rs {
		if !r.OK {
			t.Fatalf("tx %d failed: %s %s", i, r.Code, r.Reason)
		}
	}
}

// openIndex opens an index over c's ledger and indexes up to the head.
func openIndex(t testing.TB, c *chain, dir string, opts Options) *Index {
	t.Helper()
	ix, err := Open(dir, c.l, opts)
	if err != nil {
		t.Fatalf("open index: %v", err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ix.CatchUp(ctx, nil); err != nil {
		t.Fatalf("catch up: %v", err)
	}
	return ix
}
