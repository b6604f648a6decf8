// The pool: admission, the ready and held lists, reaping and commit updates.
// The rules and their invariants are in the package doc (doc.go).

package mempool

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/types"
)

// Errors that are not about the transaction itself. Tx problems are
// *types.TxError values (compare with errors.Is against types.Err*).
var (
	// ErrFull means the pool is at its tx count or byte limit (API: 503).
	ErrFull = errors.New("mempool full")
	// ErrHeldFull means the pool's budget for txs held behind a nonce gap is
	// used up; the same tx is taken once the gap before it is filled. It
	// wraps ErrFull.
	ErrHeldFull = fmt.Errorf("%w: no room for transactions held behind a nonce gap", ErrFull)
	// ErrSenderLimit means the sender has as many pending txs (or bytes) as
	// one sender may have, in all or behind a nonce gap (API: 429). It
	// clears as the sender's txs commit or its held ones expire.
	ErrSenderLimit = errors.New("sender limit")
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
	// Get returns the latest committed value of a state key (role
	// membership, for execute.Authorize).
	Get(key []byte) (value []byte, found bool, err error)
}

// Config sizes the pool. Start from DefaultConfig.
type Config struct {
	ChainID string
	Params  types.Params
	// MaxTxs and MaxBytes bound the pending txs, ready and held (bytes =
	// canonical encoded size; the in-memory cost is a small multiple of it).
	MaxTxs   int
	MaxBytes int
	// MaxSenderTxs and MaxSenderBytes bound one sender's pending txs, ready
	// and held, so that one sender's run of consecutive nonces cannot take
	// the whole pool. MaxSenderBytes must be at least Params.MaxTxBytes.
	MaxSenderTxs   int
	MaxSenderBytes int
	// MaxFutureNonces is how far past the next expected nonce of a sender a
	// tx may be and still be held until the gap fills. It absorbs reordering
	// between a client sending to several validators and gossip; 0 admits
	// only the next nonce.
	MaxFutureNonces int
	// MaxHeldTxsPerSender and MaxHeldBytesPerSender bound one sender's held
	// txs; MaxHeldTxs and MaxHeldBytes bound all held txs. 0 holds none.
	MaxHeldTxsPerSender   int
	MaxHeldBytesPerSender int
	MaxHeldTxs            int
	MaxHeldBytes          int
	// HeldTTL is how long a tx may stay held before it is dropped.
	HeldTTL time.Duration
	// Now is the clock HeldTTL is measured with (nil: time.Now).
	Now func() time.Time
	// RecentCommitted is how many committed tx hashes are remembered for
	// fast replay refusal (about 100 bytes of memory each).
	RecentCommitted int
	// GossipQueue is the capacity, in batches, of the Gossip channel.
	GossipQueue int
	// Admit, when set, is a rule from outside the chain's state that every
	// signed, new transaction must pass (the node's: every blob a
	// blob.record references is in its blob store). Its error is the
	// transaction's result. It must be safe for concurrent use.
	Admit func(tx *types.Tx) error
}

// DefaultConfig returns the defaults: 100,000 txs or 128 MiB pending; per
// sender 1,000 txs or 16 MiB; 64 future nonces per sender, of which at most
// 32 txs or 4 MiB held per sender and 10,000 txs or 32 MiB held in all, each
// for at most a minute; 200,000 committed hashes, 1,024 gossip batches.
func DefaultConfig(chainID string, p types.Params) Config {
	return Config{
		ChainID: chainID, Params: p,
		MaxTxs: 100_000, MaxBytes: 128 << 20,
		MaxSenderTxs: 1_000, MaxSenderBytes: 16 << 20,
		MaxFutureNonces:     64,
		MaxHeldTxsPerSender: 32, MaxHeldBytesPerSender: 4 << 20,
		MaxHeldTxs: 10_000, MaxHeldBytes: 32 << 20,
		HeldTTL:         time.Minute,
		RecentCommitted: 200_000, GossipQueue: 1024,
	}
}

func (c Config) check() error {
	switch {
	case c.ChainID == "":
		return errors.New("mempool config: chain id is empty")
	case c.MaxTxs <= 0 || c.MaxBytes <= 0:
		return fmt.Errorf("mempool config: max txs (%d) and max bytes (%d) must be positive", c.MaxTxs, c.MaxBytes)
	case c.MaxSenderTxs <= 0:
		return fmt.Errorf("mempool config: max sender txs (%d) must be positive", c.MaxSenderTxs)
	case c.MaxSenderBytes < c.Params.MaxTxBytes:
		return fmt.Errorf("mempool config: max sender bytes (%d) must be at least the chain's max tx bytes (%d)", c.MaxSenderBytes, c.Params.MaxTxBytes)
	case c.MaxFutureNonces < 0:
		return fmt.Errorf("mempool config: max future nonces (%d) must not be negative", c.MaxFutureNonces)
	case c.MaxHeldTxsPerSender < 0 || c.MaxHeldBytesPerSender < 0 || c.MaxHeldTxs < 0 || c.MaxHeldBytes < 0:
		return errors.New("mempool config: held limits must not be negative")
	case c.HeldTTL <= 0:
		return fmt.Errorf("mempool config: held ttl (%v) must be positive", c.HeldTTL)
	case c.RecentCommitted < 0 || c.GossipQueue < 0:
		return fmt.Errorf("mempool config: recent committed (%d) and gossip queue (%d) must not be negative", c.RecentCommitted, c.GossipQueue)
	}
	if err := c.Params.Check(); err != nil {
		return fmt.Errorf("mempool config: %w", err)
	}
	return nil
}

// Where an entry is listed.
const (
	unlisted = iota // being inserted
	inReady
	inHeld
)

// entry is one pending tx.
type entry struct {
	tx    *types.Tx
	hash  crypto.Hash
	size  int
	spend uint64 // transfer amount, 0 for other types
	from  *sender
	where uint8
	// local: admitted from a client, so this node gossips it once ready;
	// gossiped: it has been queued for gossip.
	local, gossiped bool
	heldAt          time.Time // when it last became held
	// prev and next link the list named by where.
	prev, next *entry
}

// txList is a doubly linked list of entries with its count and bytes.
type txList struct {
	head, tail *entry
	n, bytes   int
}

func (l *txList) push(e *entry) {
	e.prev, e.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
	l.n++
	l.bytes += e.size
}

func (l *txList) remove(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
	l.n--
	l.bytes -= e.size
}

// sender is the pending state of one account. Invariants: every tx in
// byNonce has nonce > base; nonces base+1..tip are all present and ready;
// every other tx is held; nReady = tip-base between operations; nHeld,
// heldBytes and bytes sum the held and all pending txs.
type sender struct {
	addr      crypto.Address
	base      uint64 // committed nonce, as of creation or the last Update
	tip       uint64 // end of the ready run (base when nothing is ready)
	byNonce   map[uint64]*entry
	spend     uint64 // sum of pending transfer amounts
	bytes     int
	nReady    int
	nHeld     int
	heldBytes int
}

// Stats is a snapshot of the pool's size.
type Stats struct {
	Txs             int    `json:"txs"`   // pending, ready and held
	Bytes           int    `json:"bytes"` // encoded bytes of pending txs
	Ready           int    `json:"ready"`
	ReadyBytes      int    `json:"ready_bytes"`
	Held            int    `json:"held"`
	HeldBytes       int    `json:"held_bytes"`
	Senders         int    `json:"senders"`
	RecentCommitted int    `json:"recent_committed"`
	Height          uint64 `json:"height"` // of the last Update
	GossipDropped   uint64 `json:"gossip_dropped"`
	// HeldExpired and HeldEvicted count held txs dropped after HeldTTL and
	// evicted to make room for ready ones, since the pool was created.
	HeldExpired uint64 `json:"held_expired"`
	HeldEvicted uint64 `json:"held_evicted"`
}

// Mempool is the pending-transaction pool. Create it with New.
type Mempool struct {
	cfg   Config
	state StateReader

	mu          sync.RWMutex
	byHash      map[crypto.Hash]*entry
	senders     map[crypto.Address]*sender
	ready, held txList // ready: oldest first; held: longest held first
	bytes       int
	committed   *recentSet
	height      uint64
	heldExpired uint64
	heldEvicted uint64
	// toGossip collects, under the lock, local txs that became ready; the
	// operation that made them ready queues them after unlocking.
	toGossip []*types.Tx
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
	if cfg.Now == nil {
		cfg.Now = time.Now
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

// Add admits one tx from a client and, once it is ready, queues it for
// gossip. The error is a *types.TxError, ErrDuplicate (or ErrCommitted),
// ErrFull (or ErrHeldFull), ErrSenderLimit, or a state read failure (none of
// those: the node's fault, not the client's).
func (m *Mempool) Add(tx *types.Tx) error { return m.add([]*types.Tx{tx}, true)[0] }

// AddBatch admits txs from a client, verifying their signatures as one
// batch, and queues the admitted ready ones for gossip as one batch. errs[i]
// is tx i's result, as for Add. Txs of one sender are best given in nonce
// order (out of order ones within MaxFutureNonces are held, not refused, as
// far as the held budgets go).
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

func (m *Mempool) add(txs []*types.Tx, local bool) []error {
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
	// Held txs can be evicted for ready ones, so only the rest counts here.
	count, bytes := len(m.byHash)-m.held.n, m.bytes-m.held.bytes
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
	cands = m.authorize(cands, errs)
	if m.cfg.Admit != nil {
		// After the signatures: an outside rule may cost a round trip, so
		// only signed, new transactions get to ask for one.
		kept := cands[:0]
		for _, c := range cands {
			if err := m.cfg.Admit(c.tx); err != nil {
				errs[c.i] = err
				continue
			}
			kept = append(kept, c)
		}
		cands = kept
	}
	if len(cands) == 0 {
		return errs
	}

	// Committed accounts of the distinct senders, read outside the lock.
	for k := range cands {
		cands[k].addr = cands[k].tx.Sender.Address()
	}
	epoch := m.epoch.Load()
	accts, readErrs := m.readAccounts(cands)

	grew := false
	m.mu.Lock()
	if m.epoch.Load() != epoch {
		// An Update committed a block since the reads; use the new state.
		accts, readErrs = m.readAccounts(cands)
	}
	now := m.nowLocked()
	m.expireLocked(now)
	for _, c := range cands {
		if err := readErrs[c.addr]; err != nil {
			errs[c.i] = err
			continue
		}
		promoted, err := m.insertLocked(c, accts[c.addr], local, now)
		if err != nil {
			errs[c.i] = err
			continue
		}
		grew = grew || promoted
	}
	out := m.takeGossipLocked()
	m.mu.Unlock()

	m.queueGossip(out)
	if grew {
		m.notify()
	}
	return errs
}

// takeGossipLocked returns and forgets the txs collected for gossip.
func (m *Mempool) takeGossipLocked() []*types.Tx {
	out := m.toGossip
	m.toGossip = nil
	return out
}

// queueGossip hands a batch to the Gossip channel without waiting.
func (m *Mempool) queueGossip(batch []*types.Tx) {
	if len(batch) == 0 {
		return
	}
	select {
	case m.gossip <- batch:
	default:
		m.gossipDropped.Add(1)
	}
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

// authorize applies the chain's permission rules on committed state (the
// same rules block execution applies, so a refusal here is one a block
// would be refused for), records refusals in errs and returns the rest.
func (m *Mempool) authorize(cands []candidate, errs []error) []candidate {
	kept := cands[:0]
	for _, c := range cands {
		if err := execute.Authorize(m.state, m.cfg.ChainID, m.cfg.Params, c.tx); err != nil {
			var te *types.TxError
			if !errors.As(err, &te) {
				err = fmt.Errorf("mempool: %w", err)
			}
			errs[c.i] = err
			continue
		}
		kept = append(kept, c)
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

// insertLocked applies the stateful rules (nonce, balance, budgets, room)
// and adds the tx. promoted reports whether the ready list grew.
func (m *Mempool) insertLocked(c candidate, acct types.Account, local bool, now time.Time) (promoted bool, err error) {
	if err := m.dupLocked(c.hash); err != nil {
		return false, err // the same tx won a race with this one
	}
	tx := c.tx
	s := m.senders[c.addr]
	committed, front, next, pendingSpend := acct.Nonce, acct.Nonce, acct.Nonce+1, uint64(0)
	if s != nil {
		// The state may be ahead of s.base when a block committed and its
		// Update has not run yet; the larger is the true committed nonce.
		committed = max(committed, s.base)
		front = max(committed, s.tip)
		next = s.tip + 1 // until that Update, only the run can grow
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
	// The fee is part of what the tx takes (execution charges it first).
	fee := types.FeeOf(m.cfg.Params.Fees, tx)
	spend, carry := bits.Add64(spend, fee, 0)
	if carry != 0 {
		return false, types.Errf(types.CodeInsufficientBalance, "amount plus fee %d overflows", fee)
	}
	if spend > 0 {
		need, carry := bits.Add64(pendingSpend, spend, 0)
		if carry != 0 || need > acct.Balance {
			if fee == 0 {
				return false, types.Errf(types.CodeInsufficientBalance, "balance %d does not cover %d plus %d in pending transfers", acct.Balance, spend, pendingSpend)
			}
			return false, types.Errf(types.CodeInsufficientBalance, "balance %d does not cover %d (fee %d included) plus %d pending", acct.Balance, spend, fee, pendingSpend)
		}
	}
	size := tx.Size()
	if s != nil && (len(s.byNonce)+1 > m.cfg.MaxSenderTxs || s.bytes+size > m.cfg.MaxSenderBytes) {
		return false, fmt.Errorf("%w: sender %s has %d txs (%d bytes) pending, at most %d (%d bytes) allowed",
			ErrSenderLimit, c.addr, len(s.byNonce), s.bytes, m.cfg.MaxSenderTxs, m.cfg.MaxSenderBytes)
	}
	ready := n == next
	if ready {
		// Held txs never stand in the way of an executable one; evict only
		// if that makes room.
		if len(m.byHash)-m.held.n+1 > m.cfg.MaxTxs || m.bytes-m.held.bytes+size > m.cfg.MaxBytes {
			return false, ErrFull
		}
		for (len(m.byHash)+1 > m.cfg.MaxTxs || m.bytes+size > m.cfg.MaxBytes) && m.held.head != nil {
			m.removeLocked(m.held.head)
			m.heldEvicted++
		}
		if s != nil && m.senders[c.addr] == nil {
			s = nil // its held txs were all evicted; start afresh
		}
	} else {
		nHeld, heldBytes := 0, 0
		if s != nil {
			nHeld, heldBytes = s.nHeld, s.heldBytes
		}
		if nHeld+1 > m.cfg.MaxHeldTxsPerSender || heldBytes+size > m.cfg.MaxHeldBytesPerSender {
			return false, fmt.Errorf("%w: sender %s has %d txs (%d bytes) held behind nonce gap %d, at most %d (%d bytes) allowed",
				ErrSenderLimit, c.addr, nHeld, heldBytes, next, m.cfg.MaxHeldTxsPerSender, m.cfg.MaxHeldBytesPerSender)
		}
		if m.held.n+1 > m.cfg.MaxHeldTxs || m.held.bytes+size > m.cfg.MaxHeldBytes {
			return false, ErrHeldFull
		}
	}
	if len(m.byHash)+1 > m.cfg.MaxTxs || m.bytes+size > m.cfg.MaxBytes {
		return false, ErrFull
	}

	if s == nil {
		s = &sender{addr: c.addr, base: acct.Nonce, tip: acct.Nonce, byNonce: make(map[uint64]*entry, 1)}
		m.senders[c.addr] = s
	}
	e := &entry{tx: tx, hash: c.hash, size: size, spend: spend, from: s, local: local}
	s.byNonce[n] = e
	s.spend += spend
	s.bytes += size
	m.byHash[c.hash] = e
	m.bytes += size
	if !ready {
		m.holdLocked(e, now)
		return false, nil
	}
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
	case *types.KVPut, *types.KVDelete, *types.Record, *types.BlobRecord:
		return 0, nil // they move no funds
	case *types.FieldOpen:
		// The leader's own deposit; the other members' deposits come from
		// their accounts, checked at execution.
		for _, m := range p.Members {
			if m.Key == p.Leader {
				return m.Deposit, nil
			}
		}
		return 0, nil
	case *types.FieldClose, *types.FieldCloseUnilateral, *types.FieldChallenge, *types.FieldDispute:
		return 0, nil // they take nothing from the sender; settlement pays out later
	case *types.RoleGrant, *types.RoleRevoke, *types.ValidatorUpdate:
		return 0, nil // governance moves no funds
	case *types.ContractInvoke:
		// Its funds; what the contract itself pays the sender back is
		// known only when it runs.
		return p.Funds, nil
	case *types.ContractDeploy, *types.ContractInstantiate, *types.ContractUpgrade:
		return 0, nil // they move no funds
	case *types.StakeDelegate:
		return p.Amount, nil // bonded from the balance
	case *types.ValidatorRegister, *types.StakeUndelegate, *types.StakeVote, *types.ValidatorUnjail, *types.EvidenceSubmit:
		return 0, nil // undelegated stake returns to the balance later; the rest move no funds
	case nil:
		return 0, types.Errf(types.CodeMalformed, "missing payload")
	default:
		return 0, types.Errf(types.CodeUnknownType, "no balance rule for %s transactions", p.TxType())
	}
}

// extendLocked moves the txs continuing s's ready run onto the ready list,
// in nonce order, collects the local ones not yet gossiped for gossip, and
// reports whether any moved.
func (m *Mempool) extendLocked(s *sender) bool {
	grew := false
	for {
		e := s.byNonce[s.tip+1]
		if e == nil {
			return grew
		}
		if e.where == inHeld {
			m.unholdLocked(e)
		}
		s.tip++
		e.where = inReady
		m.ready.push(e)
		s.nReady++
		if e.local && !e.gossiped {
			e.gossiped = true
			m.toGossip = append(m.toGossip, e.tx)
		}
		grew = true
	}
}

// holdLocked puts an unlisted entry at the end of the held list.
func (m *Mempool) holdLocked(e *entry, now time.Time) {
	e.where = inHeld
	e.heldAt = now
	m.held.push(e)
	e.from.nHeld++
	e.from.heldBytes += e.size
}

// unholdLocked takes an entry off the held list.
func (m *Mempool) unholdLocked(e *entry) {
	m.held.remove(e)
	e.where = unlisted
	e.from.nHeld--
	e.from.heldBytes -= e.size
}

// unreadyLocked takes an entry off the ready list.
func (m *Mempool) unreadyLocked(e *entry) {
	m.ready.remove(e)
	e.where = unlisted
	e.from.nReady--
}

// nowLocked reads the clock under the lock, so that txs join the held list
// in the order of their heldAt times even when admissions race.
func (m *Mempool) nowLocked() time.Time { return m.cfg.Now() }

// expireLocked drops the txs held for longer than HeldTTL. The held list is
// in the order txs became held, so they are at its front.
func (m *Mempool) expireLocked(now time.Time) {
	for e := m.held.head; e != nil && now.Sub(e.heldAt) > m.cfg.HeldTTL; e = m.held.head {
		m.removeLocked(e)
		m.heldExpired++
	}
}

// removeLocked forgets a pending tx.
func (m *Mempool) removeLocked(e *entry) {
	switch e.where {
	case inReady:
		m.unreadyLocked(e)
	case inHeld:
		m.unholdLocked(e)
	}
	s := e.from
	delete(s.byNonce, e.tx.Nonce)
	s.spend -= e.spend
	s.bytes -= e.size
	delete(m.byHash, e.hash)
	m.bytes -= e.size
	if len(s.byNonce) == 0 {
		delete(m.senders, s.addr)
	}
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
	n := m.ready.n
	if maxTxs >= 0 && maxTxs < n {
		n = maxTxs
	}
	out := make([]*types.Tx, 0, n)
	total := 0
	for e := m.ready.head; e != nil && len(out) < n; e = e.next {
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
// nonce the block used up, re-forms each affected sender's ready run (see
// the package doc), queues the local txs that became ready for gossip and
// drops expired held txs. The block may hold txs this pool never saw. An
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
	var revoked []crypto.Address // accounts a role.revoke in the block named
	for i, tx := range committed {
		hashes[i] = tx.Hash()
		if r, ok := tx.Payload.(*types.RoleRevoke); ok {
			revoked = append(revoked, r.Address)
		}
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
	now := m.nowLocked()
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
		if m.resyncLocked(s, base, now) {
			grew = true
		}
	}
	// An account that lost a role may hold pending txs it may no longer
	// submit: no block can carry them, so they go now rather than be reaped
	// and left out of every proposal.
	for _, a := range revoked {
		s := m.senders[a]
		if s == nil {
			continue
		}
		for _, e := range s.byNonce {
			if err := execute.Authorize(m.state, m.cfg.ChainID, m.cfg.Params, e.tx); errors.Is(err, types.ErrUnauthorized) {
				m.removeLocked(e)
			}
		}
		if m.senders[a] != nil && m.resyncLocked(s, s.base, now) {
			grew = true
		}
	}
	m.expireLocked(now)
	out := m.takeGossipLocked()
	m.mu.Unlock()

	m.queueGossip(out)
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
func (m *Mempool) resyncLocked(s *sender, base uint64, now time.Time) bool {
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
			if e := s.byNonce[k]; e != nil && e.where == inReady {
				m.unreadyLocked(e)
				m.holdLocked(e, now)
			}
		}
	}
	return m.extendLocked(s)
}

// Gossip delivers batches of txs to send to peers: those admitted from
// clients, each once it is ready (on admission, or later when the gap before
// it fills). A batch that does not fit in the channel is dropped (counted in
// Stats.GossipDropped); the txs stay pending here.
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
		Txs: len(m.byHash), Bytes: m.bytes,
		Ready: m.ready.n, ReadyBytes: m.ready.bytes, Held: m.held.n, HeldBytes: m.held.bytes,
		Senders: len(m.senders), RecentCommitted: m.committed.len(), Height: m.height,
		GossipDropped: m.gossipDropped.Load(), HeldExpired: m.heldExpired, HeldEvicted: m.heldEvicted,
	}
}
