package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// ChainID is the chain every simulated validator runs.
const ChainID = "cairn-sim"

// Workload is a pool of client transactions signed once and shared,
// read-only, by every run (signing and verifying dominate a run's CPU
// otherwise). A run that needs more signs extra ones itself.
type Workload struct {
	txs   []*types.Tx
	index map[crypto.Hash]int
	// ledger: every transaction has its own sender (nonce 1), so that
	// none fails on its nonce whatever order the mempools see, and a
	// third are kv.puts to a few shared keys (real state, versions).
	ledger bool
}

// clientKey derives the key of simulated client c.
func clientKey(c int) *crypto.PrivateKey {
	seed := sha256.Sum256([]byte(fmt.Sprintf("cairn-sim-client-%d", c)))
	return crypto.MustKeyFromSeed(seed)
}

const workloadClients = 16

// makeTx signs transaction i of the workload: a small record document from
// one of a few clients, with per-client increasing nonces.
func makeTx(i int) *types.Tx {
	c := i % workloadClients
	doc := fmt.Sprintf(`{"client":%d,"seq":%d,"reading":%d}`, c, i, (i*7919)%1000)
	tx := &types.Tx{ChainID: ChainID, Nonce: uint64(i/workloadClients + 1), Timestamp: int64(1_700_000_000_000 + i),
		Payload: &types.Record{Document: []byte(doc)}}
	tx.Sign(clientKey(c))
	return tx
}

// ledgerTx signs transaction i of a ledger workload.
func ledgerTx(i int) *types.Tx {
	var p types.Payload = &types.Record{Document: []byte(fmt.Sprintf(`{"seq":%d,"reading":%d}`, i, (i*7919)%1000))}
	if i%3 == 0 {
		p = &types.KVPut{Key: fmt.Sprintf("sim/k%d", i%50), Value: fmt.Sprintf("v%d", i)}
	}
	tx := &types.Tx{ChainID: ChainID, Nonce: 1, Timestamp: int64(1_700_000_000_000 + i), Payload: p}
	tx.Sign(clientKey(workloadClients + i))
	return tx
}

func (w *Workload) make(i int) *types.Tx {
	if w.ledger {
		return ledgerTx(i)
	}
	return makeTx(i)
}

// NewWorkload signs n transactions.
func NewWorkload(n int) *Workload { return newWorkload(n, false) }

// NewLedgerWorkload signs n transactions for runs with Config.Ledger.
func NewLedgerWorkload(n int) *Workload { return newWorkload(n, true) }

func newWorkload(n int, ledger bool) *Workload {
	w := &Workload{txs: make([]*types.Tx, n), index: make(map[crypto.Hash]int, n), ledger: ledger}
	for i := range w.txs {
		w.txs[i] = w.make(i)
		w.index[w.txs[i].Hash()] = i
	}
	return w
}

// txPool is one run's view of the workload: the shared prefix plus any
// transactions the run signed itself.
type txPool struct {
	w     *Workload
	extra []*types.Tx
	index map[crypto.Hash]int
}

func (p *txPool) get(i int) *types.Tx {
	for i >= len(p.w.txs)+len(p.extra) {
		j := len(p.w.txs) + len(p.extra)
		tx := p.w.make(j)
		p.extra = append(p.extra, tx)
		p.index[tx.Hash()] = j
	}
	if i < len(p.w.txs) {
		return p.w.txs[i]
	}
	return p.extra[i-len(p.w.txs)]
}

// lookup returns the index of a transaction the clients submitted.
func (p *txPool) lookup(h crypto.Hash) (int, bool) {
	if i, ok := p.w.index[h]; ok {
		return i, true
	}
	i, ok := p.index[h]
	return i, ok
}

// sigCache memoises signature checks for one run: every validator checks
// every vote, and a thousand runs would otherwise spend their time there.
// The key covers key, signature and message, so a replayed signature on
// another message is still checked for real.
type sigCache struct {
	m    map[[32]byte]bool
	hits uint64
	miss uint64
}

func (c *sigCache) verify(pub crypto.PublicKey, msg, sig []byte) bool {
	h := sha256.New()
	h.Write(pub[:])
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(sig)))
	h.Write(l[:])
	h.Write(sig)
	h.Write(msg)
	var k [32]byte
	h.Sum(k[:0])
	if v, ok := c.m[k]; ok {
		c.hits++
		return v
	}
	c.miss++
	v := crypto.VerifyRaw(pub, msg, sig)
	c.m[k] = v
	return v
}
