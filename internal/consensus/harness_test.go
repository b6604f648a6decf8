package consensus

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/types"
)

// This file is a small deterministic driver for unit tests: fixed latency,
// an event queue in virtual time, a filter to drop messages, an in-memory
// WAL and block store per validator. The simulator (package sim) is the
// full-featured version with faults and invariants.

const testChain = "test-chain"

func testKey(i int) *crypto.PrivateKey {
	var seed [32]byte
	seed[0], seed[1] = byte(i), 0x5a
	return crypto.MustKeyFromSeed(seed)
}

func testValidators(t testing.TB, n int) (*types.ValidatorSet, []*crypto.PrivateKey) {
	t.Helper()
	keys := make([]*crypto.PrivateKey, n)
	vals := make([]types.Validator, n)
	for i := range keys {
		keys[i] = testKey(i)
		vals[i] = types.Validator{Name: fmt.Sprintf("v%d", i), PublicKey: keys[i].Public(), Power: 1}
	}
	vs, err := types.NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	return vs, keys
}

func testTx(t testing.TB, nonce uint64) *types.Tx {
	t.Helper()
	tx := &types.Tx{ChainID: testChain, Nonce: nonce, Timestamp: 1, Payload: &types.Record{Document: json.RawMessage(fmt.Sprintf(`{"n":%d}`, nonce))}}
	tx.Sign(testKey(200))
	return tx
}

func testCut() CutPolicy {
	return CutPolicy{MaxTxs: 10, MaxBytes: 1 << 20, MaxDelay: 20}
}

func testTimeouts() Timeouts {
	return Timeouts{Propose: 100, ProposeDelta: 50, Prevote: 50, PrevoteDelta: 25, Precommit: 50, PrecommitDelta: 25, Tick: 100}
}

// buildBlock makes the block a BuildRequest asks for, with txs.
func buildBlock(req *BuildRequest, txs []*types.Tx) *types.Block {
	if len(txs) > req.MaxTxs {
		txs = txs[:req.MaxTxs]
	}
	txs = append([]*types.Tx(nil), txs...) // blocks are immutable; the mempool slice is not
	b := &types.Block{Header: types.Header{
		ChainID: testChain, Height: req.Height, Round: req.Round, Time: req.Time, Proposer: req.Proposer,
		ParentHash: req.ParentHash, TxCount: uint32(len(txs)), ValidatorsHash: req.ValidatorsHash,
	}, Txs: txs}
	b.Header.TxRoot = merkle.RootOfHashes(b.TxHashes())
	return b
}

type testApp struct {
	reject map[crypto.Hash]bool
	calls  int
}

func (a *testApp) ValidateBlock(b *types.Block) error {
	a.calls++
	if a.reject[b.Hash()] {
		return fmt.Errorf("test app rejects block %d", b.Header.Height)
	}
	return nil
}

type hEvent struct {
	at   int64
	seq  int
	node int
	ev   Event
}

type eventQueue []*hEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*hEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

type harness struct {
	t       testing.TB
	vs      *types.ValidatorSet
	keys    []*crypto.PrivateKey
	cut     CutPolicy
	engines []*Engine
	apps    []*testApp
	down    []bool
	chains  [][]Commit
	wals    [][]WALRecord
	pending [][]*types.Tx // per node, txs not yet committed there
	since   []int64
	q       eventQueue
	seq     int
	now     int64
	latency int64
	// drop, when set, decides whether a message is lost.
	drop     func(from, to int, m Message) bool
	sent     int
	timers   int
	evidence []Evidence
	builds   int
}

func newHarness(t testing.TB, n int, cut CutPolicy) *harness {
	vs, keys := testValidators(t, n)
	h := &harness{t: t, vs: vs, keys: keys, cut: cut, latency: 5,
		engines: make([]*Engine, n), apps: make([]*testApp, n), down: make([]bool, n),
		chains: make([][]Commit, n), wals: make([][]WALRecord, n), pending: make([][]*types.Tx, n), since: make([]int64, n)}
	for i := range h.engines {
		h.apps[i] = &testApp{reject: map[crypto.Hash]bool{}}
		h.start(i)
	}
	return h
}

func (h *harness) config(i int) Config {
	return Config{ChainID: testChain, Validators: h.vs, Key: h.keys[i], App: h.apps[i], Cut: h.cut, Timeouts: testTimeouts()}
}

// start (re)creates node i's engine from its store and WAL.
func (h *harness) start(i int) {
	st := StartPoint{Height: uint64(len(h.chains[i])), WAL: h.wals[i]}
	if n := len(h.chains[i]); n > 0 {
		st.BlockHash = h.chains[i][n-1].Block.Hash()
	}
	e, err := New(h.config(i), st)
	if err != nil {
		h.t.Fatal(err)
	}
	h.engines[i] = e
	h.down[i] = false
	h.apply(i, e.Start(h.now))
	h.reportTxs(i)
}

func (h *harness) push(at int64, node int, ev Event) {
	h.seq++
	heap.Push(&h.q, &hEvent{at: at, seq: h.seq, node: node, ev: ev})
}

func (h *harness) apply(i int, rd Ready) {
	for _, c := range rd.Commits {
		if err := c.Cert.Verify(testChain, h.vs); err != nil {
			h.t.Fatalf("node %d: commit %d: certificate does not verify: %v", i, c.Block.Header.Height, err)
		}
		if c.Cert.BlockHash != c.Block.Hash() || c.Block.Header.Height != uint64(len(h.chains[i])+1) {
			h.t.Fatalf("node %d: commit of height %d out of order or mismatched", i, c.Block.Header.Height)
		}
		h.chains[i] = append(h.chains[i], c)
		done := map[crypto.Hash]bool{}
		for _, tx := range c.Block.Txs {
			done[tx.Hash()] = true
		}
		kept := h.pending[i][:0]
		for _, tx := range h.pending[i] {
			if !done[tx.Hash()] {
				kept = append(kept, tx)
			}
		}
		h.pending[i] = kept
	}
	for _, r := range rd.WAL {
		if len(h.wals[i]) > 0 && r.Height > h.wals[i][0].Height {
			h.wals[i] = nil
		}
		h.wals[i] = append(h.wals[i], r)
	}
	for _, m := range rd.Messages {
		for to := range h.engines {
			if to == i || (m.To != Broadcast && m.To != to) {
				continue
			}
			h.sent++
			if h.drop != nil && h.drop(i, to, m.Msg) {
				continue
			}
			h.push(h.now+h.latency, to, Receive{From: i, Msg: m.Msg})
		}
	}
	for _, tm := range rd.Timers {
		h.timers++
		h.push(tm.At, i, Timeout{Timer: tm})
	}
	if b := rd.Build; b != nil {
		h.builds++
		h.push(h.now, i, BlockBuilt{Height: b.Height, Round: b.Round, Block: buildBlock(b, h.pending[i])})
	}
	for _, s := range rd.Serve {
		c := h.chains[i][s.Height-1]
		h.push(h.now+h.latency, s.To, Receive{From: i, Msg: &BlockResponse{Block: c.Block, Cert: c.Cert}})
	}
	h.evidence = append(h.evidence, rd.Evidence...)
	if len(rd.Commits) > 0 {
		h.reportTxs(i)
	}
}

func (h *harness) reportTxs(i int) {
	bytes := 0
	for _, tx := range h.pending[i] {
		bytes += tx.Size()
	}
	h.push(h.now, i, TxsAvailable{Count: len(h.pending[i]), Bytes: bytes, Since: h.since[i]})
}

// submit gives tx to every validator's mempool.
func (h *harness) submit(txs ...*types.Tx) {
	for i := range h.engines {
		if len(h.pending[i]) == 0 {
			h.since[i] = h.now
		}
		h.pending[i] = append(h.pending[i], txs...)
		h.reportTxs(i)
	}
}

// run processes events until the queue is empty, time passes limit, or
// stop returns true.
func (h *harness) run(limit int64, stop func() bool) {
	for steps := 0; h.q.Len() > 0 && steps < 1_000_000; steps++ {
		if stop != nil && stop() {
			return
		}
		ev := heap.Pop(&h.q).(*hEvent)
		if ev.at > limit {
			heap.Push(&h.q, ev)
			h.now = limit
			return
		}
		h.now = ev.at
		if h.down[ev.node] {
			continue
		}
		h.apply(ev.node, h.engines[ev.node].Step(h.now, ev.ev))
	}
}

func (h *harness) minHeight() int {
	m := -1
	for i, c := range h.chains {
		if h.down[i] {
			continue
		}
		if m < 0 || len(c) < m {
			m = len(c)
		}
	}
	return m
}

// checkAgreement fails if two nodes committed different blocks at a height.
func (h *harness) checkAgreement() {
	h.t.Helper()
	for i := range h.chains {
		for j := range h.chains {
			for k := 0; k < len(h.chains[i]) && k < len(h.chains[j]); k++ {
				if h.chains[i][k].Block.Hash() != h.chains[j][k].Block.Hash() {
					h.t.Fatalf("nodes %d and %d disagree at height %d", i, j, k+1)
				}
			}
		}
	}
}
