// Package mempool is a validator's pool of pending transactions: what it
// admits from clients and peers, in what order the proposer takes them for a
// block, and what it forgets when a block commits.
//
// # Admission
//
// Add, AddBatch and AddFromPeer apply, in this order (cheapest first, so a
// flood of duplicates or a full pool costs no signature checks):
//
//  1. chain id and size limits (types.ValidateTxStateless without the
//     signature): *types.TxError wrong_chain_id / oversized (malformed for a
//     nil tx);
//  2. dedup by hash: a tx already pending, or committed recently (a bounded
//     set of the last Config.RecentCommitted committed hashes), is refused
//     with ErrDuplicate (ErrCommitted for the committed case; it wraps
//     ErrDuplicate); a tx repeated within one batch is a duplicate too;
//  3. room: a pool at Config.MaxTxs or Config.MaxBytes refuses with ErrFull;
//  4. signature (batch-verified for AddBatch/AddFromPeer, with per-tx results
//     when the batch fails): *types.TxError bad_signature;
//  5. nonce against the committed account nonce and the sender's pending
//     txs (*types.TxError bad_nonce): a nonce at or below the committed one is
//     a replay; a nonce already pending in another tx is a conflict (no
//     replacement: there are no fees to outbid); a nonce more than
//     Config.MaxFutureNonces beyond the next expected one is too far ahead;
//  6. balance: a transfer's amount plus every other pending transfer amount of
//     the same sender must be covered by the committed balance, so two pending
//     txs cannot spend the same funds (*types.TxError insufficient_balance);
//     other types move no funds (see debit, which lists every type);
//  7. room again, exactly, under the lock (ErrFull).
//
// Every pending tx has passed its signature check, and a hash fixes the
// signed bytes, so Verified (= Has) can tell block execution which
// signatures it need not check again.
//
// # Ordering
//
// A sender's pending txs are either ready (nonces committed+1 .. k, with no
// gap) or held (a future nonce past a gap, waiting for the missing ones; at
// most MaxFutureNonces past the ready run). Ready txs sit in one FIFO list in
// the order they became ready: on arrival, or when the tx filling a gap
// arrives, which makes the held run behind it ready in nonce order. So the
// list is FIFO across senders and strictly by nonce within a sender, and
// every prefix of it is a valid block order with no nonce gap. Reap returns
// such a prefix; it removes nothing (the block may not commit). A held tx
// whose gap never fills stays held (it counts against the pool's bounds)
// until a committed tx uses its nonce.
//
// # Commit
//
// Update removes the block's txs by hash (failed ones too: their hash is in
// the chain, so the same bytes can never execute again), remembers their
// hashes, re-reads the committed account of every sender in the block, drops
// that sender's pending txs whose nonce is now at or below the committed one,
// and recomputes its ready run: held txs that became contiguous join the
// ready list; ready txs behind a new gap (a failed tx does not consume its
// nonce, see internal/execute) go back to held. Those are the only ways a tx
// a client was told was accepted leaves the pool: the pool never evicts to
// make room; when full it refuses new txs.
//
// # Bounds
//
// Pending txs are bounded by count and by encoded bytes (Config.MaxTxs,
// MaxBytes); the committed-hash memory by RecentCommitted; the gossip queue by
// GossipQueue batches (a batch that does not fit is dropped, never the tx:
// it is still pending here and will be proposed by this validator).
//
// The pool is safe for concurrent use: API and peer goroutines add while the
// consensus goroutine reaps and updates (Reap and Update are meant for that
// one goroutine; calling them from several is safe but their interleaving is
// the caller's business). Signature checks and state reads run outside the
// pool's lock.
package mempool

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// Errors that are not about the transaction itself. Tx problems are
// *types.TxError values (compare with errors.Is against types.Err*).
var (
	// ErrFull means the pool is at its tx count or byte limit (API: 503).
	ErrFull = errors.New("mempool full")
	// ErrDuplicate means the same transaction (same hash) is already pending
	// or was committed recently (API: 409).
	ErrDuplicate = errors.New("duplicate transaction")
	// ErrCommitted is the ErrDuplicate for a tx that is already committed.
	ErrCommitted = fmt.Errorf("%w: already committed", ErrDuplicate)
)

// StateReader is the committed state the pool checks nonces and balances
// against; the node passes its ledger. It must be safe for concurrent use
// and, when Update is called for a height, already reflect that height.
type StateReader interface {
	// Account returns an account's committed state (the zero Account when
	// it does not exist).
	Account(a crypto.Address) (types.Account, error)
}

// Config sizes the pool. Start from DefaultConfig.
type Config struct {
	ChainID string
	Params  types.Params
	// MaxTxs and MaxBytes bound the pending txs (bytes = canonical encoded
	// size; the in-memory cost is a small multiple of it).
	MaxTxs   int
	MaxBytes int
	// MaxFutureNonces is how far past the next expected nonce of a sender a
	// tx may be and still be held until the gap fills. It absorbs reordering
	// between a client sending to several validators and gossip; 0 admits
	// only the next nonce.
	MaxFutureNonces int
	// RecentCommitted is how many committed tx hashes are remembered for
	// fast replay refusal (about 100 bytes of memory each).
	RecentCommitted int
	// GossipQueue is the capacity, in batches, of the Gossip channel.
	GossipQueue int
}

// DefaultConfig returns the defaults: 100,000 txs or 128 MiB pending, 64
// future nonces per sender, 200,000 committed hashes, 1,024 gossip batches.
func DefaultConfig(chainID string, p types.Params) Config {
	return Config{
		ChainID: chainID, Params: p,
		MaxTxs: 100_000, MaxBytes: 128 << 20,
		MaxFutureNonces: 64, RecentCommitted: 200_000, GossipQueue: 1024,
	}
}

func (c Config) check() error {
	switch {
	case c.ChainID == "":
		return errors.New("mempool config: chain id is empty")
	case c.MaxTxs <= 0 || c.MaxBytes <= 0:
		return fmt.Errorf("mempool config: max txs (%d) and max bytes (%d) must be positive", c.MaxTxs, c.MaxBytes)
	case c.MaxFutureNonces < 0:
		return fmt.Errorf("mempool config: max future nonces (%d) must not be negative", c.MaxFutureNonces)
	case c.RecentCommitted < 0 || c.GossipQueue < 0:
		return fmt.Errorf("mempool config: recent committed (%d) and gossip queue (%d) must not be negative", c.RecentCommitted, c.GossipQueue)
	}
	if err := c.Params.Check(); err != nil {
		return fmt.Errorf("mempool config: %w", err)
	}
	return nil
}

// entry is one pending tx.
type entry struct {
	tx    *types.Tx
	hash  crypto.Hash
	size  int
	spend uint64 // transfer amount, 0 for other types
	from  *sender
	ready bool
	// prev and next link the ready list (only while ready).
	prev, next *entry
}

// sender is the pending state of one account. Invariants: every tx in
// byNonce has nonce > base; nonces base+1..tip are all present and ready;
// every other tx is held; nReady = tip-base between operations.
type sender struct {
	addr    crypto.Address
	base    uint64 // committed nonce, as of creation or the last Update
	tip     uint64 // end of the ready run (base when nothing is ready)
	byNonce map[uint64]*entry
	spend   uint64 // sum of pending transfer amounts
	nReady  int
}

// Stats is a snapshot of the pool's size.
type Stats struct {
	Txs             int    `json:"txs"`   // pending, ready and held
	Bytes           int    `json:"bytes"` // encoded bytes of pending txs
	Ready           int    `json:"ready"`
	Held            int    `json:"held"`
	Senders         int    `json:"senders"`
	RecentCommitted int    `json:"recent_committed"`
	Height          uint64 `json:"height"` // of the last Update
	GossipDropped   uint64 `json:"gossip_dropped"`
}

// Mempool is the pending-transaction pool. Create it with New.
type Mempool struct {
	cfg   Config
	state StateReader

	mu         sync.RWMutex
	byHash     map[crypto.Hash]*entry
	senders    map[crypto.Address]*sender
	head, tail *entry // the ready list, oldest first
	nReady     int
	bytes      int
	committed  *recentSet
	height     uint64
	// epoch counts Updates. Admission reads accounts outside the lock and
	// re-reads them under it if an Update ran in between.
	epoch atomic.Uint64

	gossip        chan []*types.Tx
	avail         chan struct{}
	gossipDropped atomic.Uint64
}

// New returns an empty pool checking against state.
func New(cfg Config, state StateReader) (*Mempool, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if state == nil {
		return nil, errors.New("mempool: nil state reader")
	}
	return &Mempool{
		cfg: cfg, state: state,
		byHash:    make(map[crypto.Hash]*entry),
		senders:   make(map[crypto.Address]*sender),
		committed: newRecentSet(cfg.RecentCommitted),
		gossip:    make(chan []*types.Tx, cfg.GossipQueue),
		avail:     make(chan struct{}, 1),
	}, nil
}

// Add admits one tx from a client and queues it for gossip. The error is a
// *types.TxError, ErrDuplicate (or ErrCommitted), ErrFull, or a state read
// failure (none of those: the node's fault, not the client's).
func (m *Mempool) Add(tx *types.Tx) error { return m.add([]*types.Tx{tx}, true)[0] }

// AddBatch admits txs from a client, verifying their signatures as one
// batch, and queues the admitted ones for gossip as one batch. errs[i] is
// tx i's result, as for Add. Txs of one sender are best given in nonce order
// (out of order ones within MaxFutureNonces are held, not refused).
func (m *Mempool) AddBatch(txs []*types.Tx) (errs []error) { return m.add(txs, true) }

// AddFromPeer admits txs gossiped by another validator, as AddBatch, but
// does not gossip them again (validators are fully connected).
func (m *Mempool) AddFromPeer(txs []*types.Tx) (errs []error) { return m.add(txs, false) }

// candidate is a tx that passed the checks before the lock.
type candidate struct {
	i    int
	tx   *types.Tx
	hash crypto.Hash
	addr crypto.Address
}

func (m *Mempool) add(txs []*types.Tx, gossip bool) []error {
	errs := make([]error, len(txs))
	cands := make([]candidate, 0, len(txs))

	// Stateless checks and dedup. Hashing happens here, outside the lock
	// (it is cached in each tx).
	for i, tx := range txs {
		if tx == nil {
			errs[i] = types.Errf(types.CodeMalformed, "nil transaction")
			continue
		}
		if err := types.ValidateTxStateless(tx, m.cfg.ChainID, m.cfg.Params, false); err != nil {
			errs[i] = err
			continue
		}
		cands = append(cands, candidate{i: i, tx: tx, hash: tx.Hash()})
	}
	var inBatch map[crypto.Hash]struct{}
	if len(cands) > 1 {
		inBatch = make(map[crypto.Hash]struct{}, len(cands))
	}
	m.mu.RLock()
	count, bytes := len(m.byHash), m.bytes
	kept := cands[:0]
	for _, c := range cands {
		if err := m.dupLocked(c.hash); err != nil {
			errs[c.i] = err
			continue
		}
		if inBatch != nil {
			if _, ok := inBatch[c.hash]; ok {
				errs[c.i] = fmt.Errorf("%w: repeated in the same batch", ErrDuplicate)
				continue
			}
			inBatch[c.hash] = struct{}{}
		}
		// A cheap early refusal; the exact check is at insertion.
		if count+1 > m.cfg.MaxTxs || bytes+c.tx.Size() > m.cfg.MaxBytes {
			errs[c.i] = ErrFull
			continue
		}
		kept = append(kept, c)
	}
	m.mu.RUnlock()
	cands = kept

	cands = verifySignatures(cands, errs)
	if len(cands) == 0 {
		return errs
	}

	// Committed accounts of the distinct senders, read outside the lock.
	for k := range cands {
		cands[k].addr = cands[k].tx.Sender.Address()
	}
	epoch := m.epoch.Load()
	accts, readErrs := m.readAccounts(cands)

	var admitted []*types.Tx
	if gossip {
		admitted = make([]*types.Tx, 0, len(cands))
	}
	grew := false
	m.mu.Lock()
	if m.epoch.Load() != epoch {
		// An Update committed a block since the reads; use the new state.
		accts, readErrs = m.readAccounts(cands)
	}
	for _, c := range cands {
		if err := readErrs[c.addr]; err != nil {
			errs[c.i] = err
			continue
		}
		promoted, err := m.insertLocked(c, accts[c.addr])
		if err != nil {
			errs[c.i] = err
			continue
		}
		grew = grew || promoted
		if gossip {
			admitted = append(admitted, c.tx)
		}
	}
	m.mu.Unlock()

	if len(admitted) > 0 {
		select {
		case m.gossip <- admitted:
		default:
			m.gossipDropped.Add(1)
		}
	}
	if grew {
		m.notify()
	}
	return errs
}

// verifySignatures checks the candidates' signatures, records failures in
// errs and returns the candidates that passed.
func verifySignatures(cands []candidate, errs []error) []candidate {
	switch len(cands) {
	case 0:
		return cands
	case 1:
		if err := cands[0].tx.VerifySignature(); err != nil {
			errs[cands[0].i] = err
			return cands[:0]
		}
		return cands
	}
	bv := crypto.NewBatchVerifier(len(cands))
	for _, c := range cands {
		c.tx.AddToBatch(bv)
	}
	ok, valid := bv.Verify()
	if ok {
		return cands
	}
	// The batch failed. On failure the verifier checks each signature on its
	// own to fill valid, so these are the per-tx results.
	kept := cands[:0]
	for k, c := range cands {
		if k < len(valid) && valid[k] {
			kept = append(kept, c)
			continue
		}
		errs[c.i] = types.Errf(types.CodeBadSignature, "signature does not verify for sender %s", c.tx.Sender)
	}
	return kept
}

// readAccounts reads the committed account of every distinct sender.
func (m *Mempool) readAccounts(cands []candidate) (map[crypto.Address]types.Account, map[crypto.Address]error) {
	accts := make(map[crypto.Address]types.Account, len(cands))
	var errs map[crypto.Address]error
	for _, c := range cands {
		if _, ok := accts[c.addr]; ok {
			continue
		}
		if _, ok := errs[c.addr]; ok {
			continue
		}
		a, err := m.state.Account(c.addr)
		if err != nil {
			if errs == nil {
				errs = make(map[crypto.Address]error)
			}
			errs[c.addr] = fmt.Errorf("mempool: read account %s: %w", c.addr, err)
			continue
		}
		accts[c.addr] = a
	}
	return accts, errs
}

func (m *Mempool) dupLocked(h crypto.Hash) error {
	if _, ok := m.byHash[h]; ok {
		return fmt.Errorf("%w: %s is already pending", ErrDuplicate, h)
	}
	if m.committed.has(h) {
		return fmt.Errorf("%w: %s", ErrCommitted, h)
	}
	return nil
}

// insertLocked applies the stateful rules (nonce, balance, room) and adds
// the tx. promoted reports whether the ready list grew.
func (m *Mempool) insertLocked(c candidate, acct types.Account) (promoted bool, err error) {
	if err := m.dupLocked(c.hash); err != nil {
		return false, err // the same tx won a race with this one
	}
	tx := c.tx
	s := m.senders[c.addr]
	committed, front, pendingSpend := acct.Nonce, acct.Nonce, uint64(0)
	if s != nil {
		// The state may be ahead of s.base when a block committed and its
		// Update has not run yet; the larger is the true committed nonce.
		committed = max(committed, s.base)
		front = max(committed, s.tip)
		pendingSpend = s.spend
	}
	n := tx.Nonce
	switch {
	case n <= committed:
		return false, types.Errf(types.CodeBadNonce, "nonce %d already used: account nonce is %d (replay)", n, committed)
	case s != nil && s.byNonce[n] != nil:
		return false, types.Errf(types.CodeBadNonce, "nonce %d is already pending in transaction %s", n, s.byNonce[n].hash)
	case n > front && n-front-1 > uint64(m.cfg.MaxFutureNonces):
		return false, types.Errf(types.CodeBadNonce, "nonce %d is too far ahead: next expected is %d and at most %d future nonces are held", n, front+1, m.cfg.MaxFutureNonces)
	}
	spend, err := debit(tx.Payload)
	if err != nil {
		return false, err
	}
	if spend > 0 {
		need, carry := bits.Add64(pendingSpend, spend, 0)
		if carry != 0 || need > acct.Balance {
			return false, types.Errf(types.CodeInsufficientBalance, "balance %d does not cover %d plus %d in pending transfers", acct.Balance, spend, pendingSpend)
		}
	}
	size := tx.Size()
	if len(m.byHash)+1 > m.cfg.MaxTxs || m.bytes+size > m.cfg.MaxBytes {
		return false, ErrFull
	}

	if s == nil {
		s = &sender{addr: c.addr, base: acct.Nonce, tip: acct.Nonce, byNonce: make(map[uint64]*entry, 1)}
		m.senders[c.addr] = s
	}
	e := &entry{tx: tx, hash: c.hash, size: size, spend: spend, from: s}
	s.byNonce[n] = e
	s.spend += spend
	m.byHash[c.hash] = e
	m.bytes += size
	return m.extendLocked(s), nil
}

// debit is what a tx takes from its sender's balance if it succeeds, for
// the balance pre-check (rule 6). Every registered type is listed, so that a
// new type is a decision made here rather than a silent zero: a type with
// no case is refused (and TestEveryTypeAdmitted fails).
func debit(p types.Payload) (uint64, error) {
	switch p := p.(type) {
	case *types.Transfer:
		return p.Amount, nil
	case *types.KVPut, *types.KVDelete, *types.Record:
		return 0, nil // they move no funds
	case nil:
		return 0, types.Errf(types.CodeMalformed, "missing payload")
	default:
		return 0, types.Errf(types.CodeUnknownType, "no balance rule for %s transactions", p.TxType())
	}
}

// extendLocked moves the txs continuing s's ready run onto the ready list,
// in nonce order, and reports whether any moved.
func (m *Mempool) extendLocked(s *sender) bool {
	grew := false
	for {
		e := s.byNonce[s.tip+1]
		if e == nil {
			return grew
		}
		s.tip++
		m.pushBack(e)
		grew = true
	}
}

// removeLocked forgets a pending tx.
func (m *Mempool) removeLocked(e *entry) {
	if e.ready {
		m.unlink(e)
	}
	s := e.from
	delete(s.byNonce, e.tx.Nonce)
	s.spend -= e.spend
	delete(m.byHash, e.hash)
	m.bytes -= e.size
	if len(s.byNonce) == 0 {
		delete(m.senders, s.addr)
	}
}

func (m *Mempool) pushBack(e *entry) {
	e.ready = true
	e.prev, e.next = m.tail, nil
	if m.tail != nil {
		m.tail.next = e
	} else {
		m.head = e
	}
	m.tail = e
	m.nReady++
	e.from.nReady++
}

func (m *Mempool) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		m.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		m.tail = e.prev
	}
	e.prev, e.next, e.ready = nil, nil, false
	m.nReady--
	e.from.nReady--
}

func (m *Mempool) notify() {
	select {
	case m.avail <- struct{}{}:
	default: // a signal is already waiting
	}
}

// Reap returns the oldest ready txs, in order, as many as fit in maxTxs
// txs and maxBytes encoded bytes (a negative limit means none). The result
// is a prefix of the ready list, so it never skips a sender's nonce. Nothing
// is removed: that is Update's job once a block commits.
func (m *Mempool) Reap(maxTxs, maxBytes int) []*types.Tx {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := m.nReady
	if maxTxs >= 0 && maxTxs < n {
		n = maxTxs
	}
	out := make([]*types.Tx, 0, n)
	total := 0
	for e := m.head; e != nil && len(out) < n; e = e.next {
		if maxBytes >= 0 && total+e.size > maxBytes {
			break
		}
		total += e.size
		out = append(out, e.tx)
	}
	return out
}

// Update tells the pool that the block at height committed with txs (all
// of them, failed ones included) and that the StateReader now reflects it.
// It removes those txs, remembers their hashes, drops pending txs whose
// nonce the block used up, and re-forms each affected sender's ready run
// (see the package doc). The block may hold txs this pool never saw. An
// error means some accounts could not be read; the update is still done, and
// for those senders the block's txs are assumed to have succeeded (if one
// did not, a later tx of that sender just fails in execution and the next
// Update that reads the account corrects the pool).
func (m *Mempool) Update(height uint64, committed []*types.Tx) error {
	// The block's senders, in block order so the ready list's order is
	// reproducible, and their new committed accounts, read outside the lock.
	type touched struct {
		addr crypto.Address
		acct types.Account
		ok   bool
		// nonces in the block, kept only when the account read failed
		nonces map[uint64]bool
	}
	var order []touched
	idx := make(map[crypto.Address]int, len(committed))
	hashes := make([]crypto.Hash, len(committed))
	var errs []error
	for i, tx := range committed {
		hashes[i] = tx.Hash()
		a := tx.Sender.Address()
		j, seen := idx[a]
		if !seen {
			j = len(order)
			idx[a] = j
			acct, err := m.state.Account(a)
			t := touched{addr: a, acct: acct, ok: err == nil}
			if err != nil {
				errs = append(errs, fmt.Errorf("read account %s: %w", a, err))
				t.nonces = map[uint64]bool{}
			}
			order = append(order, t)
		}
		if !order[j].ok {
			order[j].nonces[tx.Nonce] = true
		}
	}

	grew := false
	m.mu.Lock()
	m.height = height
	m.epoch.Add(1)
	for _, h := range hashes {
		m.committed.add(h)
		if e := m.byHash[h]; e != nil {
			m.removeLocked(e)
		}
	}
	for _, t := range order {
		s := m.senders[t.addr]
		if s == nil {
			continue
		}
		base := s.base
		if t.ok {
			base = max(base, t.acct.Nonce)
		} else {
			for t.nonces[base+1] {
				base++
			}
		}
		if m.resyncLocked(s, base) {
			grew = true
		}
	}
	m.mu.Unlock()

	if grew {
		m.notify()
	}
	if len(errs) > 0 {
		return fmt.Errorf("mempool update at height %d: %w", height, errors.Join(errs...))
	}
	return nil
}

// resyncLocked moves s to committed nonce base: drops txs at or below it,
// re-forms the ready run (demoting txs behind a gap, promoting held txs that
// became contiguous) and reports whether the ready list grew.
func (m *Mempool) resyncLocked(s *sender, base uint64) bool {
	if base > s.base {
		// Every pending nonce is > s.base, so the used-up ones are in
		// (s.base, base]; walk whichever of that range and the map is smaller.
		if base-s.base <= uint64(len(s.byNonce)) {
			for n := s.base + 1; n <= base; n++ {
				if e := s.byNonce[n]; e != nil {
					m.removeLocked(e)
				}
			}
		} else {
			for n, e := range s.byNonce {
				if n <= base {
					m.removeLocked(e)
				}
			}
		}
		s.base = base
	}
	oldTip := s.tip
	if oldTip <= s.base {
		s.tip = s.base
		return m.extendLocked(s)
	}
	// Ready nonces were (old base, oldTip]; those at or below base are gone.
	// If every slot of (base, oldTip] still holds a ready tx the run is
	// intact; otherwise a tx left by hash (a failed tx keeps its nonce
	// unused) and everything ready after the first gap goes back to held.
	if uint64(s.nReady) != oldTip-s.base {
		n := s.base + 1
		for s.byNonce[n] != nil {
			n++
		}
		s.tip = n - 1
		for k := n + 1; k <= oldTip; k++ {
			if e := s.byNonce[k]; e != nil && e.ready {
				m.unlink(e)
			}
		}
	}
	return m.extendLocked(s)
}

// Gossip delivers batches of txs admitted from clients, for the transport
// to send to peers. A batch that does not fit in the channel is dropped
// (counted in Stats.GossipDropped); the txs stay pending here.
func (m *Mempool) Gossip() <-chan []*types.Tx { return m.gossip }

// TxsAvailable receives a value (coalesced: capacity 1) whenever the ready
// list grows, so a proposer waiting for txs can wake up.
func (m *Mempool) TxsAvailable() <-chan struct{} { return m.avail }

// Get returns a pending tx by hash.
func (m *Mempool) Get(h crypto.Hash) (*types.Tx, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if e := m.byHash[h]; e != nil {
		return e.tx, true
	}
	return nil, false
}

// Has reports whether a tx is pending.
func (m *Mempool) Has(h crypto.Hash) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.byHash[h]
	return ok
}

// Verified reports whether the tx with hash h had its signature verified
// here: it is pending (every pending tx passed its signature check, and the
// hash fixes the signed bytes). It fits execute.Options.Verified, so a
// block's txs are verified once per node, not again at execution.
func (m *Mempool) Verified(h crypto.Hash) bool { return m.Has(h) }

// Stats returns the pool's size.
func (m *Mempool) Stats() Stats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return Stats{
		Txs: len(m.byHash), Bytes: m.bytes, Ready: m.nReady, Held: len(m.byHash) - m.nReady,
		Senders: len(m.senders), RecentCommitted: m.committed.len(), Height: m.height,
		GossipDropped: m.gossipDropped.Load(),
	}
}
