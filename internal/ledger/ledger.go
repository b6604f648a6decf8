// Package ledger is a validator's chain on disk: the block store and the
// authenticated state in one Pebble database, with the rules that connect
// them. It executes proposed blocks, checks received ones, commits certified
// blocks atomically, serves reads and audits everything on disk.
//
// Invariants:
//   - A block is committed only with a certificate that verifies against the
//     validator set, on top of the current head, with header roots equal to
//     what executing it yields.
//   - Block, certificate, receipts, indexes and state changes of one height
//     are one synced Pebble batch: after a crash the ledger reopens at the
//     last height whose batch was synced, with its state root.
//   - Reads never observe a half-committed height: the head advances only
//     after the batch is durable and the state's in-memory view is updated.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/state"
	"github.com/cairn-db/cairn/internal/store"
	"github.com/cairn-db/cairn/internal/vm"
	"github.com/cairn-db/cairn/types"
)

// Options configure a ledger.
type Options struct {
	// Dir is the data directory.
	Dir string
	// FS overrides the filesystem (tests use a crashable in-memory FS).
	FS vfs.FS
	// CacheBytes is Pebble's block cache size (default 256 MiB).
	CacheBytes int64
	// NodeCacheSize bounds the state tree's in-memory node cache.
	NodeCacheSize int
	// Prunable keeps the records pruning needs (see Prune) from the next
	// height on; once a ledger has kept them it keeps them.
	Prunable bool
	// Logger receives Pebble's errors (its routine info lines are dropped).
	// Nil discards everything.
	Logger *slog.Logger
	// ContractCacheDir, if set, keeps contracts' compiled code on disk, so
	// a restarted node need not compile its chain's code again.
	ContractCacheDir string
	// AccountIndex says whether the ledger keeps the per-account
	// transaction index (accounts.go); the zero value keeps what the store
	// did.
	AccountIndex AccountIndexMode

	// tunePebble, if set, adjusts the Pebble options before the database
	// opens (benchmarks scale the LSM down with it).
	tunePebble func(*pebble.Options)
	// historyEpochBytes, if set, is the state's HistoryEpochBytes (for
	// benchmarks that scale the node's sizes down).
	historyEpochBytes int
	// stepBackfill leaves the account index's backfill to the caller
	// (tests step it with backfillAccounts).
	stepBackfill bool
}

// pebbleLogger adapts slog to Pebble's logger. Fatalf must not return, as
// Pebble relies on it to stop on unrecoverable corruption.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(string, ...any) {}
func (p pebbleLogger) Errorf(format string, args ...any) {
	if p.l != nil {
		p.l.Error("pebble: " + fmt.Sprintf(format, args...))
	}
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := "pebble: " + fmt.Sprintf(format, args...)
	if p.l != nil {
		p.l.Error(msg)
	}
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(70)
}

// Head describes the last committed block.
type Head struct {
	Height    uint64
	Hash      crypto.Hash // zero at height 0
	Time      int64
	StateRoot crypto.Hash
}

// Ledger is one validator's chain. Methods are safe for concurrent use;
// Commit calls must come from one goroutine at a time.
type Ledger struct {
	db      *pebble.DB
	store   *store.Store
	state   *state.Tree
	genesis *types.Genesis
	vals    *types.ValidatorSet
	cache   *pebble.Cache
	// contracts runs contract code for every execution of this ledger; it
	// has compiled the chain's code since Open (warmContracts).
	contracts *vm.Engine

	commitMu sync.Mutex
	head     atomic.Pointer[Head]
	// writeMu orders a commit's batch against a prune step's, so a
	// commit waits for one prune batch write at most.
	writeMu sync.Mutex
	// base is the snapshot height a state-synced ledger joined from (0:
	// it holds the chain from genesis); statesync.go.
	base atomic.Uint64

	// valsets indexes the validator set of every height (valsets.go).
	valMu   sync.RWMutex
	valsets []setChange
	// synced are the sets a state-synced ledger learned for heights below
	// its snapshot's (statesync.go).
	synced []setChange

	// stopFilter ends the ledger's background work: the tx filter's load
	// (internal/store txfilter.go) and the account index's backfill
	// (accounts.go). filterDone and acctDone close when each has returned.
	stopFilter chan struct{}
	filterDone chan struct{}
	acctDone   chan struct{}
	stopOnce   sync.Once
	// acctBuilding is set while the account index lacks entries below its
	// mark that its backfill is to write (accounts.go).
	acctBuilding atomic.Bool
}

// Open opens (or creates) the ledger in opts.Dir for genesis g. A ledger
// created for another genesis is refused.
func Open(opts Options, g *types.Genesis) (*Ledger, error) {
	if err := g.Check(); err != nil {
		return nil, err
	}
	vals, err := g.ValidatorSet()
	if err != nil {
		return nil, err
	}
	gh, err := GenesisHash(g)
	if err != nil {
		return nil, err
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = 256 << 20
	}
	cache := pebble.NewCache(opts.CacheBytes)
	// Some of what a block writes is keyed at random (the hash index, the
	// latest state values, the history within its epoch), so each
	// compaction out of L0 rewrites about all of those families' base
	// level tables: a 128 MiB memtable, flushed half as often as 64 MiB,
	// cut the bytes compacted per transfer by about 30% and the read
	// amplification by one in BenchmarkLedgerWriteAmp (docs/operations.md,
	// "Pebble options"). It costs memory: Pebble holds up to two.
	// Compacting L0 later (at 16 sublevels) saved nothing more there, so
	// Pebble's thresholds stay.
	po := &pebble.Options{Cache: cache, FS: opts.FS, Logger: pebbleLogger{opts.Logger}, MemTableSize: 128 << 20}
	// Many lookups are for keys that are not there (new accounts, replay
	// checks the in-memory tx filter passes on): without filters each one
	// searches every level.
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	// Almost everything stored is hashes, keys and signatures, which do not
	// compress: compressing them only costs compaction CPU.
	po.Levels[0].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	// Pebble writes each data block with its own write call and a
	// compaction reads each with its own read: at the default 4 KiB those
	// system calls were most of a compaction's CPU. 32 KiB blocks cut the
	// compaction CPU per byte by about 40% (BenchmarkLedgerWriteAmp with
	// block=32, docs/operations.md "Pebble options"); the reads they cost
	// more are the few that miss the latest-value cache, the replay filter
	// and the block cache. Later levels take L0's options.
	po.Levels[0].BlockSize = 32 << 10
	po.Experimental.SpanPolicyFunc = splitByFamily
	if opts.tunePebble != nil {
		opts.tunePebble(po)
	}
	db, err := pebble.Open(opts.Dir, po)
	if err != nil {
		cache.Unref()
		return nil, fmt.Errorf("open ledger %s: %w", opts.Dir, err)
	}
	eng, err := vm.New(context.Background(), vm.Config{CacheDir: opts.ContractCacheDir})
	if err != nil {
		_ = db.Close()
		cache.Unref()
		return nil, fmt.Errorf("open ledger: contract engine: %w", err)
	}
	l := &Ledger{db: db, store: store.New(db), genesis: g, vals: vals, cache: cache, contracts: eng}
	err = l.init(gh, opts)
	if err == nil {
		err = l.warmContracts()
	}
	if err != nil {
		_ = eng.Close(context.Background())
		_ = db.Close()
		cache.Unref()
		return nil, err
	}
	// Replay checks read Pebble until the tx index is in memory; loading
	// it reads every committed hash, so it runs beside whatever comes next.
	l.stopFilter, l.filterDone = make(chan struct{}), make(chan struct{})
	if err := l.openAccountIndex(opts.AccountIndex, opts.stepBackfill, opts.Logger); err != nil {
		_ = eng.Close(context.Background())
		_ = db.Close()
		cache.Unref()
		return nil, err
	}
	go func() {
		defer close(l.filterDone)
		if err := l.store.LoadTxFilter(l.stopFilter); err != nil && opts.Logger != nil {
			opts.Logger.Error("replay checks keep reading the tx index from disk", "err", err)
		}
	}()
	return l, nil
}

// splitByFamily ends every table a flush or compaction writes where a key
// family ends: the first byte of a key names its family ('Y' tx records,
// 'T' the hash index, ...), and the first two name the state's ('s' 'n'
// tree nodes, 's' 'h' history, ...). Most of the bytes a block writes go to
// families keyed by height or version (tree nodes, tx records, headers),
// which land after everything older; the rest (hash index, history, latest
// values) are spread over their families. A table that held both would
// overlap every older table of the spread families below it, so each
// compaction out of L0 merged, and rewrote, the height-ordered bytes along
// with them. Cut at the families, a height-ordered table overlaps nothing
// older and compactions move it down a level instead of rewriting it
// (BenchmarkLedgerWriteAmp: about half the bytes compacted per transfer,
// docs/operations.md "Pebble options").
func splitByFamily(start []byte) (pebble.SpanPolicy, []byte, error) {
	switch {
	case len(start) == 0:
		return pebble.SpanPolicy{}, []byte{0}, nil
	case start[0] == 's' && len(start) > 1 && start[1] < 0xff:
		return pebble.SpanPolicy{}, []byte{'s', start[1] + 1}, nil
	case start[0] == 0xff:
		return pebble.SpanPolicy{}, nil, nil
	}
	return pebble.SpanPolicy{}, []byte{start[0] + 1}, nil
}

// warmContracts compiles every deployed code (and runs its start-up) now,
// so that the first block calling a contract after a restart costs what it
// cost before: results never depend on it, only time.
func (l *Ledger) warmContracts() error {
	start, end := types.ContractCodeRange()
	return l.state.Scan(start, end, func(k, code []byte) (bool, error) {
		if err := l.contracts.Warm(context.Background(), code); err != nil {
			return false, fmt.Errorf("open ledger: contract code %x: %w", k[1:], err)
		}
		return true, nil
	})
}

// Contracts returns the engine that runs this ledger's contracts (for
// read-only queries).
func (l *Ledger) Contracts() *vm.Engine { return l.contracts }

func (l *Ledger) init(gh crypto.Hash, opts Options) error {
	// Contracts read their keys' history during execution, so every node
	// keeps all of it, pruned or not.
	st, err := state.Open(l.db, state.Options{NodeCacheSize: opts.NodeCacheSize, Track: opts.Prunable, KeepHistory: keepHistory, HistoryEpochBytes: opts.historyEpochBytes})
	if err != nil {
		return fmt.Errorf("open state: %w", err)
	}
	l.state = st
	if err := l.store.LoadRetention(); err != nil {
		return fmt.Errorf("open ledger: %w", err)
	}
	stored, err := l.store.GenesisHash()
	switch {
	case errors.Is(err, store.ErrNotFound):
		if st.Initialized() {
			return errors.New("open ledger: state exists but genesis record is missing")
		}
		if err := l.writeGenesis(gh); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("open ledger: %w", err)
	case stored != gh:
		return fmt.Errorf("open ledger: data directory belongs to genesis %s, not %s", stored, gh)
	}
	height, err := l.store.Height()
	if err != nil {
		return err
	}
	if err := l.loadSyncBase(); err != nil {
		return err
	}
	if st.Height() != height {
		return fmt.Errorf("open ledger: store at height %d but state at %d", height, st.Height())
	}
	head := &Head{Height: height, StateRoot: st.Root(), Time: l.genesis.GenesisTime}
	if height > 0 {
		hdr, err := l.store.Header(height)
		if err != nil {
			return fmt.Errorf("open ledger: %w", err)
		}
		head.Hash, head.Time = hdr.Hash(), hdr.Time
		if hdr.StateRoot != head.StateRoot {
			return fmt.Errorf("open ledger: header %d state root %s, state has %s", height, hdr.StateRoot, head.StateRoot)
		}
	}
	l.head.Store(head)
	return l.loadValidators()
}

func (l *Ledger) writeGenesis(gh crypto.Hash) error {
	ws := execute.Genesis(l.genesis)
	up, err := l.state.Prepare(0, toStateWrites(ws))
	if err != nil {
		return fmt.Errorf("genesis state: %w", err)
	}
	b := l.db.NewBatch()
	defer b.Close()
	if err := l.state.Stage(b, up); err != nil {
		return fmt.Errorf("genesis state: %w", err)
	}
	if err := store.StageGenesis(b, gh); err != nil {
		return fmt.Errorf("genesis: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("commit genesis: %w", err)
	}
	l.state.Committed(up)
	return nil
}

func toStateWrites(ws []execute.Write) []state.Write {
	out := make([]state.Write, len(ws))
	for i, w := range ws {
		out[i] = state.Write{Key: w.Key, Value: w.Value}
	}
	return out
}

// Close closes the database.
func (l *Ledger) Close() error {
	l.stopOnce.Do(func() { close(l.stopFilter) })
	<-l.filterDone
	<-l.acctDone
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	err := l.db.Close()
	l.cache.Unref()
	_ = l.contracts.Close(context.Background())
	if err != nil {
		return fmt.Errorf("close ledger: %w", err)
	}
	return nil
}

// Genesis returns the chain's genesis.
func (l *Ledger) Genesis() *types.Genesis { return l.genesis }

// Validators returns the validator set of the next height (head+1): the
// one deciding it. ValidatorsAt gives any height's; GenesisValidators the
// genesis set.
func (l *Ledger) Validators() *types.ValidatorSet {
	vs, err := l.ValidatorsAt(l.head.Load().Height + 1)
	if err != nil {
		return l.vals // unreachable: head+1 is always known
	}
	return vs
}

// GenesisValidators returns the genesis validator set.
func (l *Ledger) GenesisValidators() *types.ValidatorSet { return l.vals }

// Head returns the last committed block's summary.
func (l *Ledger) Head() Head { return *l.head.Load() }

// Store returns the block store for reads.
func (l *Ledger) Store() *store.Store { return l.store }

// State returns the authenticated state for reads.
func (l *Ledger) State() *state.Tree { return l.state }

// Get implements execute.Reader.
func (l *Ledger) Get(key []byte) ([]byte, bool, error) { return l.state.Get(key) }

// TxCommitted implements execute.Reader.
func (l *Ledger) TxCommitted(h crypto.Hash) (bool, error) { return l.store.HasTx(h) }

// Scan calls fn for the latest committed value of every state key k with
// start <= k < end, in key order, until fn returns false (state.Tree.Scan).
// With Get and HistoryNewest it makes the ledger an execute.ContractReader.
func (l *Ledger) Scan(start, end []byte, fn func(key, value []byte) (bool, error)) error {
	return l.state.Scan(start, end, fn)
}

// HistoryNewest returns up to limit committed versions of a state key,
// newest first.
func (l *Ledger) HistoryNewest(key []byte, limit int) ([]state.Version, error) {
	return l.state.HistoryNewest(key, limit)
}

var _ execute.ContractReader = (*Ledger)(nil)

// Prepared is an executed block not yet committed.
type Prepared struct {
	height      uint64
	parent      crypto.Hash
	Result      *execute.Result
	ResultsRoot crypto.Hash
	StateRoot   crypto.Hash
	// Dropped lists the txs Propose left out because no valid block may
	// carry them (see internal/execute); the caller decides their fate.
	Dropped []execute.Dropped
	update  *state.Update
}

// execute runs txs as the next block. A proposer's run (propose) leaves out
// the txs no valid block may carry and returns the ones it kept; a received
// block's run fails on the first of them.
func (l *Ledger) execute(env execute.Env, txs []*types.Tx, opt execute.Options, propose bool) (*Prepared, []*types.Tx, error) {
	head := l.head.Load()
	height := env.Height
	if height != head.Height+1 {
		return nil, nil, fmt.Errorf("execute height %d: head is at %d", height, head.Height)
	}
	var res *execute.Result
	var dropped []execute.Dropped
	var err error
	if opt.Contracts == nil {
		opt.Contracts = l.contracts
	}
	r := l.withReplays(txs)
	if propose {
		txs, dropped, res, err = execute.Select(r, l.genesis.ChainID, l.genesis.Params, env, txs, opt)
	} else {
		res, err = execute.Block(r, l.genesis.ChainID, l.genesis.Params, env, txs, opt)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("block %d: %w", height, err)
	}
	up, err := l.state.Prepare(height, toStateWrites(res.Writes))
	if err != nil {
		return nil, nil, fmt.Errorf("execute height %d: state: %w", height, err)
	}
	return &Prepared{height: height, parent: head.Hash, Result: res, ResultsRoot: types.ResultsRoot(res.Receipts), StateRoot: up.Root(), Dropped: dropped, update: up}, txs, nil
}

// Propose builds and executes the next block from txs (already in the order
// the proposer wants). A tx no valid block may carry (stateless-invalid, or
// not the sender's next nonce after the txs kept before it) is left out and
// listed in Prepared.Dropped, so an honest proposal is never invalid.
func (l *Ledger) Propose(txs []*types.Tx, round uint32, timeMs int64, proposer crypto.PublicKey, opt execute.Options) (*types.Block, *Prepared, error) {
	head := l.head.Load()
	if timeMs < head.Time {
		timeMs = head.Time // block time never goes backwards
	}
	h := head.Height + 1
	vs, err := l.validatorsAt(h)
	if err != nil {
		return nil, nil, err
	}
	next, err := l.validatorsAt(h + 1)
	if err != nil {
		return nil, nil, err
	}
	var last *types.Certificate
	if head.Height > 0 {
		if last, err = l.store.Certificate(head.Height); err != nil {
			return nil, nil, fmt.Errorf("propose %d: last commit: %w", h, err)
		}
	}
	env, err := l.env(h, timeMs, proposer, last)
	if err != nil {
		return nil, nil, err
	}
	p, txs, err := l.execute(env, txs, opt, true)
	if err != nil {
		return nil, nil, err
	}
	blk := &types.Block{Txs: txs, LastCommit: last, Header: types.Header{
		ChainID: l.genesis.ChainID, Height: h, Round: round, Time: timeMs,
		Proposer: proposer, ParentHash: head.Hash, TxCount: uint32(len(txs)),
		ResultsRoot: p.ResultsRoot, StateRoot: p.StateRoot, ValidatorsHash: vs.Hash(),
		NextValidatorsHash: next.Hash(), LastCommitHash: types.LastCommitHash(last),
	}}
	blk.Header.TxRoot = blk.ComputeTxRoot()
	return blk, p, nil
}

// CheckHeader applies the rules a block header must meet on top of the
// current head, without executing it.
func (l *Ledger) CheckHeader(b *types.Block) error {
	head := l.head.Load()
	h := &b.Header
	vs, err := l.validatorsAt(head.Height + 1)
	if err != nil {
		return err
	}
	next, err := l.validatorsAt(head.Height + 2)
	if err != nil {
		return err
	}
	switch {
	case h.ChainID != l.genesis.ChainID:
		return fmt.Errorf("block %d: chain %q, want %q", h.Height, h.ChainID, l.genesis.ChainID)
	case h.Height != head.Height+1:
		return fmt.Errorf("block %d: head is at %d", h.Height, head.Height)
	case h.ParentHash != head.Hash:
		return fmt.Errorf("block %d: parent %s, head is %s", h.Height, h.ParentHash, head.Hash)
	case h.ValidatorsHash != vs.Hash():
		return fmt.Errorf("block %d: validators hash %s, want %s", h.Height, h.ValidatorsHash, vs.Hash())
	case h.NextValidatorsHash != next.Hash():
		return fmt.Errorf("block %d: next validators hash %s, want %s", h.Height, h.NextValidatorsHash, next.Hash())
	case h.Time < head.Time:
		return fmt.Errorf("block %d: time %d before parent's %d", h.Height, h.Time, head.Time)
	case len(b.Txs) > l.genesis.Params.MaxBlockTxs:
		return fmt.Errorf("block %d: %d txs, limit %d", h.Height, len(b.Txs), l.genesis.Params.MaxBlockTxs)
	}
	if p := vs.Proposer(h.Height, h.Round); vs.Validators[p].PublicKey != h.Proposer {
		return fmt.Errorf("block %d round %d: proposer %s is not the scheduled proposer", h.Height, h.Round, h.Proposer)
	}
	size := 0
	for _, tx := range b.Txs {
		size += tx.Size()
	}
	if size > l.genesis.Params.MaxBlockBytes {
		return fmt.Errorf("block %d: %d bytes of txs, limit %d", h.Height, size, l.genesis.Params.MaxBlockBytes)
	}
	if err := b.CheckTxs(); err != nil {
		return err
	}
	return l.checkLastCommit(b)
}

// Validate checks a received block fully: header rules, then execution,
// which must find no tx a valid block may not carry (an error wrapping
// *execute.InvalidTxError), and whose results and state roots must equal the
// header's.
func (l *Ledger) Validate(b *types.Block, opt execute.Options) (*Prepared, error) {
	if err := l.CheckHeader(b); err != nil {
		return nil, err
	}
	env, err := l.env(b.Header.Height, b.Header.Time, b.Header.Proposer, b.LastCommit)
	if err != nil {
		return nil, err
	}
	p, _, err := l.execute(env, b.Txs, opt, false)
	if err != nil {
		return nil, err
	}
	if p.ResultsRoot != b.Header.ResultsRoot {
		return nil, fmt.Errorf("block %d: results root %s, execution gives %s", b.Header.Height, b.Header.ResultsRoot, p.ResultsRoot)
	}
	if p.StateRoot != b.Header.StateRoot {
		return nil, fmt.Errorf("block %d: state root %s, execution gives %s", b.Header.Height, b.Header.StateRoot, p.StateRoot)
	}
	return p, nil
}

// Commit makes a certified block durable. p may be the result of Propose or
// Validate for this block (it is re-derived when nil or stale).
func (l *Ledger) Commit(b *types.Block, cert *types.Certificate, p *Prepared) error {
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	h := b.Header.Height
	hash := b.Hash()
	if cert == nil || cert.BlockHash != hash || cert.Height != h {
		return fmt.Errorf("commit block %d: certificate does not name this block", h)
	}
	vs, err := l.validatorsAt(h)
	if err != nil {
		return fmt.Errorf("commit block %d: %w", h, err)
	}
	if err := cert.Verify(l.genesis.ChainID, vs); err != nil {
		return fmt.Errorf("commit block %d: %w", h, err)
	}
	head := l.head.Load()
	if p == nil || p.height != h || p.parent != head.Hash || p.StateRoot != b.Header.StateRoot || p.ResultsRoot != b.Header.ResultsRoot {
		var err error
		if p, err = l.Validate(b, execute.Options{}); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	} else if err := l.CheckHeader(b); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	batch := l.db.NewBatch()
	defer batch.Close()
	var accounts [][]crypto.Address // nil: the account index is not kept
	if l.store.AccountIndexFrom() != store.AccountIndexOff {
		accounts = involvedAccounts(b.Txs)
	}
	if err := l.store.StageBlock(batch, b, cert, p.Result.Receipts, accounts); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := l.stageReplayLocations(batch, b, p.Result.Receipts); err != nil {
		return fmt.Errorf("commit block %d: %w", h, err)
	}
	if err := l.state.Stage(batch, p.update); err != nil {
		return fmt.Errorf("commit block %d: state: %w", h, err)
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("commit block %d: %w", h, err)
	}
	l.state.Committed(p.update)
	l.noteValidators(h, p.Result.Writes)
	l.head.Store(&Head{Height: h, Hash: hash, Time: b.Header.Time, StateRoot: b.Header.StateRoot})
	return nil
}

// RecordEvidence stores misbehaviour evidence under k (synced).
func (l *Ledger) RecordEvidence(k store.EvidenceKey, ev []byte) error {
	b := l.db.NewBatch()
	defer b.Close()
	if err := store.StageEvidence(b, k, ev); err != nil {
		return fmt.Errorf("record evidence: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("record evidence: %w", err)
	}
	return nil
}

// MaxClockDrift is how far ahead of a validator's own clock a proposed
// block's time may be. Block time never goes backwards (Propose clamps to
// the parent's), so without a bound one proposer could stamp a block far
// in the future and freeze chain time there. The bound covers ordinary
// clock skew between validators (NTP keeps it to milliseconds); a
// validator whose clock lags by more rejects such proposals and falls back
// to catching up on the certified blocks, which are never time-checked.
const MaxClockDrift = 5 * time.Second

// CheckTime reports whether header h's time is at most MaxClockDrift after
// now. It applies to proposals only: certified blocks (catch-up, commit,
// audit) carry a quorum's judgement and are not checked against a clock.
func CheckTime(h *types.Header, now time.Time) error {
	if limit := now.Add(MaxClockDrift).UnixMilli(); h.Time > limit {
		return fmt.Errorf("block %d: time %d is %d ms ahead of this validator's clock, more than the %v drift allowed",
			h.Height, h.Time, h.Time-now.UnixMilli(), MaxClockDrift)
	}
	return nil
}
