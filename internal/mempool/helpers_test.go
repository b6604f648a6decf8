package mempool

import (
	"encoding/binary"
	"errors"
	"sync"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

const testChain = "cairn-test"

// mapState is a StateReader backed by a map: the interface's whole contract
// (latest committed account per address, safe for concurrent use).
type mapState struct {
	mu   sync.Mutex
	m    map[crypto.Address]types.Account
	kv   map[string][]byte // other state keys (roles)
	fail error             // when set, every read fails with it
}

func newMapState() *mapState { return &mapState{m: map[crypto.Address]types.Account{}} }

func (s *mapState) Account(a crypto.Address) (types.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return types.Account{}, s.fail
	}
	return s.m[a], nil
}

// Get serves role membership from roles (role -> members).
func (s *mapState) Get(key []byte) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, false, s.fail
	}
	v, ok := s.kv[string(key)]
	return v, ok, nil
}

func (s *mapState) setKey(key, value []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kv == nil {
		s.kv = map[string][]byte{}
	}
	s.kv[string(key)] = value
}

func (s *mapState) set(a crypto.Address, acct types.Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[a] = acct
}

func (s *mapState) get(a crypto.Address) types.Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[a]
}

// apply executes txs on the map the way the ledger does for what the pool
// cares about: a tx with the next nonce that its sender can pay for bumps the
// nonce and moves the funds; any other tx fails and changes nothing.
func (s *mapState) apply(txs []*types.Tx) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tx := range txs {
		from := tx.Sender.Address()
		a := s.m[from]
		if tx.Nonce != a.Nonce+1 {
			continue
		}
		if t, ok := tx.Payload.(*types.Transfer); ok {
			if t.Amount > a.Balance {
				continue
			}
			a.Balance -= t.Amount
			a.Nonce++
			s.m[from] = a
			to := s.m[t.To]
			to.Balance += t.Amount
			s.m[t.To] = to
			continue
		}
		a.Nonce++
		s.m[from] = a
	}
}

func key(i int) *crypto.PrivateKey {
	var seed [crypto.SeedSize]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i)+1)
	return crypto.MustKeyFromSeed(seed)
}

func addr(k *crypto.PrivateKey) crypto.Address { return k.Public().Address() }

func putTx(k *crypto.PrivateKey, nonce uint64, kv string) *types.Tx {
	tx := &types.Tx{ChainID: testChain, Nonce: nonce, Timestamp: 1, Payload: &types.KVPut{Key: kv, Value: "v"}}
	tx.Sign(k)
	return tx
}

func transferTx(k *crypto.PrivateKey, nonce, amount uint64) *types.Tx {
	tx := &types.Tx{ChainID: testChain, Nonce: nonce, Timestamp: 1, Payload: &types.Transfer{To: crypto.Address{0xee}, Amount: amount}}
	tx.Sign(k)
	return tx
}

func testConfig() Config {
	c := DefaultConfig(testChain, types.DefaultParams())
	c.MaxTxs, c.MaxBytes = 1000, 1<<20
	return c
}

func newPool(t testing.TB, st StateReader, mod func(*Config)) *Mempool {
	t.Helper()
	c := testConfig()
	if mod != nil {
		mod(&c)
	}
	m, err := New(c, st)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func mustAdd(t testing.TB, m *Mempool, txs ...*types.Tx) {
	t.Helper()
	for i, tx := range txs {
		if err := m.Add(tx); err != nil {
			t.Fatalf("Add tx %d (nonce %d): %v", i, tx.Nonce, err)
		}
	}
}

// commit applies a block to the state, then tells the pool.
func commit(t testing.TB, m *Mempool, st *mapState, height uint64, txs ...*types.Tx) {
	t.Helper()
	st.apply(txs)
	if err := m.Update(height, txs); err != nil {
		t.Fatalf("Update(%d): %v", height, err)
	}
}

func hashes(txs []*types.Tx) []crypto.Hash {
	out := make([]crypto.Hash, len(txs))
	for i, tx := range txs {
		out[i] = tx.Hash()
	}
	return out
}

func sameOrder(t testing.TB, what string, got, want []*types.Tx) {
	t.Helper()
	g, w := hashes(got), hashes(want)
	if len(g) != len(w) {
		t.Fatalf("%s: got %d txs, want %d", what, len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("%s: position %d: got nonce %d of %s, want nonce %d of %s", what, i,
				got[i].Nonce, got[i].Sender.Address(), want[i].Nonce, want[i].Sender.Address())
		}
	}
}

func wantCode(t testing.TB, err error, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
	var te *types.TxError
	if _, isTx := target.(*types.TxError); isTx && !errors.As(err, &te) {
		t.Fatalf("error %v is not a *types.TxError", err)
	}
}

// checkInvariants verifies the pool's internal structure: the ready and
// held lists are consistent with the per-sender runs and with the counters.
func checkInvariants(t testing.TB, m *Mempool) {
	t.Helper()
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, bytes := 0, 0
	lastNonce := map[*sender]uint64{}
	var prev *entry
	for e := m.ready.head; e != nil; e = e.next {
		if e.where != inReady || e.prev != prev {
			t.Fatalf("ready list broken at nonce %d", e.tx.Nonce)
		}
		s := e.from
		want := s.base + 1
		if ln, ok := lastNonce[s]; ok {
			want = ln + 1
		}
		if e.tx.Nonce != want {
			t.Fatalf("ready list: sender %s nonce %d follows %d", s.addr, e.tx.Nonce, want-1)
		}
		lastNonce[s] = e.tx.Nonce
		prev = e
		n++
		bytes += e.size
	}
	if prev != m.ready.tail || n != m.ready.n || bytes != m.ready.bytes {
		t.Fatalf("ready list: %d entries (%d bytes), counted %d (%d), tail ok %v", n, bytes, m.ready.n, m.ready.bytes, prev == m.ready.tail)
	}
	n, bytes, prev = 0, 0, nil
	for e := m.held.head; e != nil; e = e.next {
		if e.where != inHeld || e.prev != prev || m.byHash[e.hash] != e {
			t.Fatalf("held list broken at nonce %d", e.tx.Nonce)
		}
		if prev != nil && e.heldAt.Before(prev.heldAt) {
			t.Fatalf("held list out of time order at nonce %d", e.tx.Nonce)
		}
		prev = e
		n++
		bytes += e.size
	}
	if prev != m.held.tail || n != m.held.n || bytes != m.held.bytes {
		t.Fatalf("held list: %d entries (%d bytes), counted %d (%d), tail ok %v", n, bytes, m.held.n, m.held.bytes, prev == m.held.tail)
	}
	count, bytes := 0, 0
	for a, s := range m.senders {
		if s.addr != a || len(s.byNonce) == 0 {
			t.Fatalf("sender %s: bad record", a)
		}
		var spend uint64
		ready, held, heldBytes, sBytes := 0, 0, 0, 0
		for nonce, e := range s.byNonce {
			if nonce <= s.base || e.tx.Nonce != nonce || e.from != s || m.byHash[e.hash] != e {
				t.Fatalf("sender %s nonce %d: misplaced", a, nonce)
			}
			if (e.where == inReady) != (nonce <= s.tip) || (e.where != inReady && e.where != inHeld) {
				t.Fatalf("sender %s nonce %d: listed %d with run (%d,%d]", a, nonce, e.where, s.base, s.tip)
			}
			if e.where == inReady {
				ready++
			} else {
				held++
				heldBytes += e.size
			}
			spend += e.spend
			sBytes += e.size
			count++
		}
		bytes += sBytes
		if ready != s.nReady || uint64(ready) != s.tip-s.base || spend != s.spend {
			t.Fatalf("sender %s: ready %d nReady %d run %d spend %d/%d", a, ready, s.nReady, s.tip-s.base, spend, s.spend)
		}
		if held != s.nHeld || heldBytes != s.heldBytes || sBytes != s.bytes {
			t.Fatalf("sender %s: held %d/%d, held bytes %d/%d, bytes %d/%d", a, held, s.nHeld, heldBytes, s.heldBytes, sBytes, s.bytes)
		}
		if lastNonce[s] != s.tip && s.tip != s.base {
			t.Fatalf("sender %s: run ends at %d, list at %d", a, s.tip, lastNonce[s])
		}
	}
	if count != len(m.byHash) || bytes != m.bytes {
		t.Fatalf("counters: %d txs by sender, %d by hash; bytes %d vs %d", count, len(m.byHash), bytes, m.bytes)
	}
}
