// Package search is a node's full-text and field index over its committed
// chain: one Bleve (scorch) document per transaction and per block, fed
// from the ledger, queried with the language of docs/search.md.
//
// Invariants:
//   - Only committed data is indexed: the indexer reads blocks from the
//     ledger by height, up to the ledger's head, never from the mempool.
//   - Indexing never slows consensus: it runs on its own goroutine (Run),
//     and the committer's only call, Notify, never blocks.
//   - The indexed height is stored in the index in the same Bleve batch as
//     the documents of the blocks up to it, so after a crash or restart the
//     index resumes from a height whose documents are all present. Documents
//     have deterministic ids, so re-indexing a height replaces, never
//     duplicates.
//   - The index is derived data: an index of another chain, of an older
//     schema, or ahead of the ledger is deleted and rebuilt from height 1.
//   - A query is bounded in size (bytes, terms, nesting), in results per
//     page, in concurrency and in time, and a bad one is a *QueryError.
package search

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

// schemaVersion changes whenever documents change shape; an index of
// another version is rebuilt.
const schemaVersion = "cairn-search-4"

// Internal (non-document) keys of the index.
var (
	keyHeight = []byte("cairn.height")
	keyChain  = []byte("cairn.chain")
	keySchema = []byte("cairn.schema")
)

// Errors of Search besides *QueryError.
var (
	// ErrClosed: the index was closed (the node is stopping).
	ErrClosed = errors.New("search: index closed")
	// ErrBusy: too many queries are running; try again.
	ErrBusy = errors.New("search: too many concurrent queries")
	// ErrTimeout: the query ran longer than the query timeout.
	ErrTimeout = errors.New("search: query timed out")
)

// Options configure an Index. Zero values take the defaults shown.
type Options struct {
	// Logger receives indexing errors and rebuild notices (nil: discard).
	Logger *slog.Logger
	// BatchBlocks is the most blocks written in one index batch (1,000).
	BatchBlocks int
	// BatchDocs closes a batch once it holds this many documents (20,000).
	BatchDocs int
	// PollInterval is how often Run looks for new blocks without a
	// Notify, and how long it waits after an error (1 s).
	PollInterval time.Duration
	// MinBatchInterval and MaxBatchInterval space Run's batches when it
	// keeps up: blocks committed meanwhile are indexed together, which
	// costs less per transaction than a batch per block (fewer, larger
	// segments to build and merge: a batch of 500 transfers costs about a
	// third more per transaction than one of 2,000). Run waits long enough
	// for about TargetBatchDocs documents at the rate it last saw, within
	// these bounds (200 ms, 1 s); the upper one bounds the added lag.
	MinBatchInterval, MaxBatchInterval time.Duration
	// TargetBatchDocs is the batch size Run aims for when it keeps up
	// (4,000).
	TargetBatchDocs int
	// Parallel is how many segments one write builds at once, and
	// MinParallelDocs the fewest documents worth a segment of their own
	// (GOMAXPROCS, 2,000): a write of 10,000 documents on two cores is
	// two segments of 5,000 built side by side, which halves the time a
	// large block waits to become searchable when the cores are free, and
	// gives indexing its share of them when they are not.
	Parallel, MinParallelDocs int

	// QueryTimeout bounds one query (5 s).
	QueryTimeout time.Duration
	// MaxConcurrent bounds queries running at once; others wait for a slot
	// within their timeout (max(2, GOMAXPROCS)).
	MaxConcurrent int
	// MaxQueryBytes bounds a query string (4,096).
	MaxQueryBytes int
	// MaxClauses bounds the terms in a query (64).
	MaxClauses int
	// MaxDepth bounds nesting of parentheses and NOT (16).
	MaxDepth int
	// DefaultLimit and MaxLimit: hits per page (20, 1,000).
	DefaultLimit, MaxLimit int
	// MinPrefix is the shortest prefix before a '*' (3), and MaxPrefixTerms
	// the most index terms a prefix may expand to (10,000).
	MinPrefix, MaxPrefixTerms int

	// MaxTextBytes bounds one indexed text value (4,096 bytes; longer
	// values are indexed truncated).
	MaxTextBytes int
	// MaxRecordTextBytes bounds the record text indexed per transaction
	// (65,536 bytes), MaxRecordFields its leaves (512), MaxRecordDepth its
	// nesting (32).
	MaxRecordTextBytes, MaxRecordFields, MaxRecordDepth int
}

func (o *Options) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.BatchBlocks, 1000)
	def(&o.BatchDocs, 20_000)
	def(&o.MaxConcurrent, max(2, runtime.GOMAXPROCS(0)))
	def(&o.MaxQueryBytes, 4096)
	def(&o.MaxClauses, 64)
	def(&o.MaxDepth, 16)
	def(&o.DefaultLimit, 20)
	def(&o.MaxLimit, 1000)
	def(&o.MinPrefix, 3)
	def(&o.MaxPrefixTerms, 10_000)
	def(&o.MaxTextBytes, 4096)
	def(&o.MaxRecordTextBytes, 64<<10)
	def(&o.MaxRecordFields, 512)
	def(&o.MaxRecordDepth, 32)
	if o.DefaultLimit > o.MaxLimit {
		o.DefaultLimit = o.MaxLimit
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.MinBatchInterval <= 0 {
		o.MinBatchInterval = 200 * time.Millisecond
	}
	if o.MaxBatchInterval < o.MinBatchInterval {
		o.MaxBatchInterval = max(o.MinBatchInterval, time.Second)
	}
	def(&o.TargetBatchDocs, 4000)
	def(&o.Parallel, runtime.GOMAXPROCS(0))
	def(&o.MinParallelDocs, 2000)
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Dir is the index directory of a node whose data directory is dataDir.
func Dir(dataDir string) string { return filepath.Join(dataDir, "search") }

// Index is a node's search index. Methods are safe for concurrent use.
type Index struct {
	opts Options
	dir  string
	l    *ledger.Ledger
	log  *slog.Logger
	b    builder

	// mu guards idx against Close: readers and the indexer hold it shared.
	mu     sync.RWMutex
	idx    bleve.Index
	closed bool

	// writeMu makes one goroutine at a time the writer (Run or CatchUp).
	writeMu sync.Mutex
	indexed atomic.Uint64
	// advanced is closed and replaced whenever indexed moves.
	advMu    sync.Mutex
	advanced chan struct{}

	notify chan struct{}
	quit   chan struct{}
	sem    chan struct{}

	blocks, txs atomic.Uint64 // indexed since Open
	// stateGoneLogged: blocks whose state is pruned were met (chainSteps).
	stateGoneLogged atomic.Bool
	lastErr         atomic.Pointer[string]

	// blockTime returns the time (Unix ms) of a committed block; time
	// queries binary-search it (block time never decreases with height).
	blockTime func(height uint64) (int64, error)
}

// Open opens the index in dir for ledger l, creating it (empty, at height
// 0) if needed. An index of another chain or schema, or ahead of the
// ledger, is deleted and recreated. It does not index anything: call Run
// (or CatchUp).
func Open(dir string, l *ledger.Ledger, opts Options) (*Index, error) {
	gh, err := ledger.GenesisHash(l.Genesis())
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return open(dir, l, gh, l.Head().Height, opts)
}

// open opens the index of chain gh whose ledger is at head. l may be nil
// for an index that is only queried (benchmarks).
func open(dir string, l *ledger.Ledger, gh crypto.Hash, head uint64, opts Options) (*Index, error) {
	opts.setDefaults()
	ix := &Index{opts: opts, dir: dir, l: l, log: opts.Logger,
		advanced: make(chan struct{}), notify: make(chan struct{}, 1), quit: make(chan struct{}),
		sem: make(chan struct{}, opts.MaxConcurrent)}
	idx, height, err := openOrCreate(dir, gh, head, opts.Logger)
	if err != nil {
		return nil, err
	}
	ix.idx = idx
	ix.indexed.Store(height)
	if l != nil {
		ix.blockTime = func(h uint64) (int64, error) {
			hdr, err := l.Store().Header(h)
			if err != nil {
				return 0, err
			}
			return hdr.Time, nil
		}
	}
	an := idx.Mapping().AnalyzerNamed(standard.Name)
	if an == nil {
		_ = idx.Close()
		return nil, errors.New("search: standard analyzer missing")
	}
	ix.b = builder{std: an, lim: limits{maxText: opts.MaxTextBytes, maxDocText: opts.MaxRecordTextBytes,
		maxLeaves: opts.MaxRecordFields, maxDepth: opts.MaxRecordDepth}}
	return ix, nil
}

// runtimeConfig is scorch's configuration. unsafe_batch: a batch returns
// once searchable, without waiting for fsync; a crash loses the tail of the
// index, and since the indexed height is in the same batch as its
// documents, the index then resumes from an earlier, consistent height.
// bolt_timeout: fail instead of hanging when another process holds the
// index open.
func runtimeConfig() map[string]any {
	return map[string]any{"unsafe_batch": true, "bolt_timeout": "2s"}
}

func newMapping() mapping.IndexMapping {
	m := bleve.NewIndexMapping()
	m.DefaultAnalyzer = standard.Name
	m.DefaultField = fAll
	// Documents are built field by field (document.go); the mapping only
	// names the analyser queries use.
	m.DefaultMapping = bleve.NewDocumentStaticMapping()
	m.IndexDynamic, m.StoreDynamic, m.DocValuesDynamic = false, false, false
	return m
}

func openOrCreate(dir string, gh crypto.Hash, head uint64, log *slog.Logger) (bleve.Index, uint64, error) {
	if _, err := os.Stat(filepath.Join(dir, "index_meta.json")); err == nil {
		idx, err := bleve.OpenUsing(dir, runtimeConfig())
		if err != nil {
			return nil, 0, fmt.Errorf("search: open index %s: %w (is another process using it? if it is damaged, run cairn reindex)", dir, err)
		}
		why, height, err := checkIndex(idx, gh, head)
		if err != nil {
			_ = idx.Close()
			return nil, 0, err
		}
		if why == "" {
			return idx, height, nil
		}
		log.Warn("search index will be rebuilt", "dir", dir, "reason", why)
		if err := idx.Close(); err != nil {
			return nil, 0, fmt.Errorf("search: close index %s: %w", dir, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("search: %w", err)
	}
	// A directory without index metadata is a creation that did not
	// finish, or an index being replaced: it is ours to remove.
	if err := os.RemoveAll(dir); err != nil {
		return nil, 0, fmt.Errorf("search: remove old index: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, 0, fmt.Errorf("search: %w", err)
	}
	idx, err := bleve.NewUsing(dir, newMapping(), scorch.Name, scorch.Name, runtimeConfig())
	if err != nil {
		return nil, 0, fmt.Errorf("search: create index %s: %w", dir, err)
	}
	b := idx.NewBatch()
	b.SetInternal(keySchema, []byte(schemaVersion))
	b.SetInternal(keyChain, gh[:])
	b.SetInternal(keyHeight, binary.BigEndian.AppendUint64(nil, 0))
	if err := idx.Batch(b); err != nil {
		_ = idx.Close()
		return nil, 0, fmt.Errorf("search: create index %s: %w", dir, err)
	}
	return idx, 0, nil
}

// checkIndex returns why an existing index must be rebuilt ("" if it can
// be used) and its indexed height.
func checkIndex(idx bleve.Index, gh crypto.Hash, head uint64) (string, uint64, error) {
	schema, err := idx.GetInternal(keySchema)
	if err != nil {
		return "", 0, fmt.Errorf("search: read index schema: %w", err)
	}
	if string(schema) != schemaVersion {
		return fmt.Sprintf("schema %q, want %q", schema, schemaVersion), 0, nil
	}
	chain, err := idx.GetInternal(keyChain)
	if err != nil {
		return "", 0, fmt.Errorf("search: read index chain: %w", err)
	}
	if string(chain) != string(gh[:]) {
		return "index belongs to another genesis", 0, nil
	}
	hb, err := idx.GetInternal(keyHeight)
	if err != nil {
		return "", 0, fmt.Errorf("search: read indexed height: %w", err)
	}
	if len(hb) != 8 {
		return "indexed height missing", 0, nil
	}
	h := binary.BigEndian.Uint64(hb)
	if h > head {
		return fmt.Sprintf("index at height %d is ahead of the ledger at %d", h, head), 0, nil
	}
	return "", h, nil
}

// IndexedHeight is the last height whose block and transactions are
// searchable.
func (ix *Index) IndexedHeight() uint64 { return ix.indexed.Load() }

// Notify tells the indexer that height is committed. It never blocks;
// notifications coalesce.
func (ix *Index) Notify(height uint64) {
	if height <= ix.indexed.Load() {
		return
	}
	select {
	case ix.notify <- struct{}{}:
	default:
	}
}

// Status describes the index.
type Status struct {
	IndexedHeight uint64 `json:"indexed_height"`
	// BlocksIndexed and TxsIndexed count what this process has indexed.
	BlocksIndexed uint64 `json:"blocks_indexed"`
	TxsIndexed    uint64 `json:"txs_indexed"`
	// LastError is the last indexing error, cleared by the next success.
	LastError string `json:"last_error,omitempty"`
}

// Status returns the index's progress.
func (ix *Index) Status() Status {
	s := Status{IndexedHeight: ix.indexed.Load(), BlocksIndexed: ix.blocks.Load(), TxsIndexed: ix.txs.Load()}
	if e := ix.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s
}

// Run indexes committed blocks until ctx ends or the index is closed: it
// catches up in batches, then waits for Notify (or polls). Errors are
// logged and retried after PollInterval; Run returns nil when stopped.
func (ix *Index) Run(ctx context.Context) error {
	tick := time.NewTicker(ix.opts.PollInterval)
	defer tick.Stop()
	linger := time.NewTimer(0)
	defer linger.Stop()
	prev := time.Now()
	for {
		start := time.Now()
		n, docs, full, err := ix.step(ctx, ix.l.Head().Height)
		switch {
		case errors.Is(err, ErrClosed) || ctx.Err() != nil:
			return nil
		case err != nil:
			msg := err.Error()
			ix.lastErr.Store(&msg)
			ix.log.Error("search indexing failed; will retry", "height", ix.indexed.Load()+1, "err", err)
		case n > 0:
			ix.lastErr.Store(nil)
			if !full {
				// Keeping up: let the next blocks gather.
				linger.Reset(time.Until(start.Add(ix.lingerFor(docs, start.Sub(prev)))))
				prev = start
				select {
				case <-ctx.Done():
					return nil
				case <-ix.quit:
					return nil
				case <-linger.C:
				}
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ix.quit:
			return nil
		case <-ix.notify:
		case <-tick.C:
		}
	}
}

// lingerFor is how long after a batch of docs documents, which gathered
// over since, Run waits before the next one: long enough for
// TargetBatchDocs at that rate, within [MinBatchInterval,
// MaxBatchInterval]. A trickle (under a twentieth of the target) costs
// little however it is batched, so it waits the least.
func (ix *Index) lingerFor(docs int, since time.Duration) time.Duration {
	o := ix.opts
	if docs < o.TargetBatchDocs/20 || since <= 0 {
		return o.MinBatchInterval
	}
	want := time.Duration(float64(since) * float64(o.TargetBatchDocs) / float64(docs))
	return min(max(want, o.MinBatchInterval), o.MaxBatchInterval)
}

// Progress is reported by CatchUp after each batch.
type Progress struct {
	IndexedHeight uint64
	Target        uint64
	Txs           uint64 // txs indexed by this call so far
	Elapsed       time.Duration
}

// CatchUp indexes synchronously up to the ledger's head as of the call,
// calling progress (if not nil) after each batch. It is for rebuilds and
// tests; a node uses Run.
func (ix *Index) CatchUp(ctx context.Context, progress func(Progress)) error {
	target := ix.l.Head().Height
	start, txs0 := time.Now(), ix.txs.Load()
	for ix.indexed.Load() < target {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, _, _, err := ix.step(ctx, target); err != nil {
			return err
		}
		if progress != nil {
			progress(Progress{IndexedHeight: ix.indexed.Load(), Target: target, Txs: ix.txs.Load() - txs0, Elapsed: time.Since(start)})
		}
	}
	return nil
}

// WaitIndexed waits until the indexed height is at least height.
func (ix *Index) WaitIndexed(ctx context.Context, height uint64) error {
	for {
		ix.advMu.Lock()
		ch := ix.advanced
		ix.advMu.Unlock()
		if ix.indexed.Load() >= height {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("search: waiting for height %d (indexed %d): %w", height, ix.indexed.Load(), ctx.Err())
		case <-ix.quit:
			return ErrClosed
		case <-ch:
		}
	}
}

// step indexes one batch of blocks after the indexed height, up to target.
// It returns how many blocks and documents it indexed and whether the
// batch was full (more blocks were ready than one batch takes).
func (ix *Index) step(ctx context.Context, target uint64) (int, int, bool, error) {
	ix.writeMu.Lock()
	defer ix.writeMu.Unlock()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return 0, 0, false, ErrClosed
	}
	if head := ix.l.Head().Height; target > head {
		target = head
	}
	from := ix.indexed.Load() + 1
	if from > target {
		return 0, 0, false, nil
	}
	var blks []*types.Block
	var rcpts [][]*types.Receipt
	docs := 0
	h := from
	for ; h <= target && h-from < uint64(ix.opts.BatchBlocks) && docs < ix.opts.BatchDocs; h++ {
		if err := ctx.Err(); err != nil {
			return 0, 0, false, err
		}
		blk, _, receipts, err := ix.l.Block(h)
		if oldest, pruned := ledger.HeightPruned(err); pruned && h == from && oldest > h {
			// A pruned ledger (docs/operations.md): the index starts at the
			// oldest block body it can still read.
			if err := ix.skipTo(oldest - 1); err != nil {
				return 0, 0, false, err
			}
			ix.log.Warn("search: block bodies below the oldest kept height are pruned; indexing from there", "from", oldest)
			return 0, 0, true, nil
		}
		if err != nil {
			return 0, 0, false, fmt.Errorf("search: read block %d: %w", h, err)
		}
		blks, rcpts = append(blks, blk), append(rcpts, receipts)
		docs += 1 + len(blk.Txs)
	}
	if err := ix.writeBlocks(blks, rcpts); err != nil {
		return 0, 0, false, err
	}
	return len(blks), docs, h <= target, nil
}

// writeBlocks indexes consecutive blocks following the indexed height in
// one batch, with the new indexed height. The caller holds writeMu and mu.
func (ix *Index) writeBlocks(blks []*types.Block, rcpts [][]*types.Receipt) error {
	if len(blks) == 0 {
		return nil
	}
	from, last := blks[0].Header.Height, blks[len(blks)-1].Header.Height
	if from != ix.indexed.Load()+1 || last != from+uint64(len(blks))-1 {
		return fmt.Errorf("search: blocks %d..%d do not follow indexed height %d", from, last, ix.indexed.Load())
	}
	// Documents first, in up to Parallel batches built at once (Bleve
	// builds one segment per batch on the calling goroutine); then the new
	// indexed height alone, once all of them are in. Scorch persists
	// snapshots in order, so a persisted height always has its documents.
	total := ix.docsIn(blks)
	parts := max(1, min(ix.opts.Parallel, total/ix.opts.MinParallelDocs))
	batches := make([]*bleve.Batch, parts)
	for p := range batches {
		batches[p] = ix.idx.NewBatch()
	}
	per := (total + parts - 1) / parts
	txs, n := 0, 0
	add := func(d *document.Document) error {
		n++
		return batches[(n-1)/per].IndexAdvanced(d)
	}
	for i, blk := range blks {
		if err := ix.addBlock(add, blk, rcpts[i]); err != nil {
			return err
		}
		txs += len(blk.Txs)
	}
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p, b := range batches {
		if b.Size() == 0 {
			continue // fewer documents than parts
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = ix.idx.Batch(b)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("search: index heights %d..%d: %w", from, last, err)
	}
	mark := ix.idx.NewBatch()
	mark.SetInternal(keyHeight, binary.BigEndian.AppendUint64(nil, last))
	if err := ix.idx.Batch(mark); err != nil {
		return fmt.Errorf("search: index heights %d..%d: %w", from, last, err)
	}
	ix.indexed.Store(last)
	ix.blocks.Add(uint64(len(blks)))
	ix.txs.Add(uint64(txs))
	ix.advMu.Lock()
	close(ix.advanced)
	ix.advanced = make(chan struct{})
	ix.advMu.Unlock()
	return nil
}

// skipTo records height as indexed without documents: the blocks up to it
// are pruned from the ledger. The caller holds writeMu and mu.
func (ix *Index) skipTo(height uint64) error {
	mark := ix.idx.NewBatch()
	mark.SetInternal(keyHeight, binary.BigEndian.AppendUint64(nil, height))
	if err := ix.idx.Batch(mark); err != nil {
		return fmt.Errorf("search: skip to height %d: %w", height, err)
	}
	ix.indexed.Store(height)
	return nil
}

// docsIn counts the documents of blks.
func (ix *Index) docsIn(blks []*types.Block) int {
	n := 0
	for _, b := range blks {
		n += 1 + len(b.Txs)
	}
	return n
}

// chainSteps reads what the chain did by itself at height h (payment-field
// steps, the block reward, stake paid back), which lives in the state at
// that height. A ledger that keeps block bodies longer than state
// (pruning.state_heights < body_heights) no longer has it for its older
// blocks: those are indexed without it rather than not at all.
func (ix *Index) chainSteps(h uint64) (steps []ledger.FieldStep, cb *types.Coinbase, released []types.Payment, err error) {
	if steps, err = ix.l.FieldSteps(h); err == nil {
		if cb, err = ix.l.Coinbase(h); err == nil {
			released, err = ix.l.Unbonded(h)
		}
	}
	if oldest, pruned := ledger.HeightPruned(err); pruned {
		if !ix.stateGoneLogged.Swap(true) {
			ix.log.Warn("search: the state of older blocks is pruned; they are indexed without the chain's own steps (field steps, rewards, stake paid back)", "from", h, "state_from", oldest)
		}
		return nil, nil, nil, nil
	}
	return steps, cb, released, err
}

// addBlock passes the documents of one block to add.
func (ix *Index) addBlock(add func(*document.Document) error, blk *types.Block, receipts []*types.Receipt) error {
	h := blk.Header.Height
	if len(receipts) != len(blk.Txs) {
		return fmt.Errorf("search: block %d has %d txs and %d receipts", h, len(blk.Txs), len(receipts))
	}
	var steps []ledger.FieldStep
	var cb *types.Coinbase
	var released []types.Payment
	// Without a ledger (the indexing benchmarks), blocks have no steps of
	// their own.
	if ix.l != nil {
		var err error
		if steps, cb, released, err = ix.chainSteps(h); err != nil {
			return fmt.Errorf("search: block %d: %w", h, err)
		}
	}
	d := ix.b.blockDoc(&blk.Header, steps)
	ix.b.coinbase(d, cb)
	ix.b.paid(d, released)
	if err := add(d); err != nil {
		return fmt.Errorf("search: block %d: %w", h, err)
	}
	for i, tx := range blk.Txs {
		if err := add(ix.b.txDoc(h, uint32(i), tx, receipts[i])); err != nil {
			return fmt.Errorf("search: block %d tx %d: %w", h, i, err)
		}
	}
	return nil
}

// Close stops Run and closes the index; queries then fail with ErrClosed.
// It waits for a running batch and running queries.
func (ix *Index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return nil
	}
	ix.closed = true
	close(ix.quit)
	ferr := ix.flush(time.Minute)
	if err := ix.idx.Close(); err != nil {
		return fmt.Errorf("search: close index: %w", err)
	}
	return ferr
}

// flush waits until everything indexed is on disk. Batches return before
// they are persisted (unsafe_batch), and scorch's Close does not persist
// what is pending, so without this a clean stop would lose the tail of the
// index (to be re-indexed at the next start).
func (ix *Index) flush(timeout time.Duration) error {
	done := make(chan error, 1)
	b := ix.idx.NewBatch()
	b.SetInternal(keyHeight, binary.BigEndian.AppendUint64(nil, ix.indexed.Load()))
	b.SetPersistedCallback(func(err error) {
		select {
		case done <- err:
		default:
		}
	})
	if err := ix.idx.Batch(b); err != nil {
		return fmt.Errorf("search: flush: %w", err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("search: flush: %w", err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("search: flush: not persisted within %s", timeout)
	}
}

// Summary describes a finished rebuild.
type Summary struct {
	Dir          string  `json:"dir"`
	Height       uint64  `json:"height"`
	Blocks       uint64  `json:"blocks"`
	Txs          uint64  `json:"txs"`
	Seconds      float64 `json:"seconds"`
	TxsPerSecond float64 `json:"txs_per_second"`
	Bytes        int64   `json:"bytes"`
	BytesPerTx   float64 `json:"bytes_per_tx,omitempty"`
}

// Rebuild deletes the index in dir and indexes l from height 1, reporting
// progress after each batch. The node must be stopped.
func Rebuild(ctx context.Context, dir string, l *ledger.Ledger, opts Options, progress func(Progress)) (*Summary, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("search: remove index: %w", err)
	}
	start := time.Now()
	ix, err := Open(dir, l, opts)
	if err != nil {
		return nil, err
	}
	err = ix.CatchUp(ctx, progress)
	st := ix.Status()
	if cerr := ix.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	s := &Summary{Dir: dir, Height: st.IndexedHeight, Blocks: st.BlocksIndexed, Txs: st.TxsIndexed, Seconds: time.Since(start).Seconds()}
	if s.Seconds > 0 {
		s.TxsPerSecond = float64(s.Txs) / s.Seconds
	}
	if s.Bytes, err = DiskSize(dir); err != nil {
		return nil, err
	}
	if s.Txs > 0 {
		s.BytesPerTx = float64(s.Bytes) / float64(s.Txs)
	}
	return s, nil
}

// DiskSize is the total size of the files under dir.
func DiskSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("search: size of %s: %w", dir, err)
	}
	return n, nil
}
