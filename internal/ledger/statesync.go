package ledger

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/state"
	"github.com/cairn-db/cairn/internal/store"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/types"
)

// UnavailableError is a read of a height this ledger does not hold: it
// joined the chain from a snapshot (state sync), so it has the state from
// the snapshot height on and block bodies from the height after it. The
// API answers it 410 height_pruned, naming Oldest.
type UnavailableError struct {
	What   string // "state", "block" or "transaction"
	Height uint64
	Oldest uint64 // the oldest height of that kind this ledger holds
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("%s at height %d is not stored on this node: the oldest height it holds is %d (it joined the chain from a snapshot)",
		e.What, e.Height, e.Oldest)
}

// ErrRestoreUnfinished is the refusal to open a ledger a state sync began
// filling and did not finish.
var ErrRestoreUnfinished = errors.New("a state sync into this ledger did not finish")

// SyncBase returns the height of the snapshot this ledger joined from, and
// false for a ledger that holds the chain from genesis.
func (l *Ledger) SyncBase() (uint64, bool) {
	b := l.base.Load()
	return b, b > 0
}

// loadSyncBase reads the sync base at open, and refuses a ledger a state
// sync began filling and did not finish: its records are partial.
func (l *Ledger) loadSyncBase() error {
	if r, err := l.store.Restoring(); err != nil {
		return fmt.Errorf("open ledger: %w", err)
	} else if r {
		return fmt.Errorf("open ledger: %w; delete its directory, or run the node with --state-sync again (which does)", ErrRestoreUnfinished)
	}
	h, ok, err := l.store.SyncBase()
	if err != nil {
		return fmt.Errorf("open ledger: %w", err)
	}
	if ok {
		l.base.Store(h)
	}
	return nil
}

// checkState refuses a state read at a height before the sync base (the
// state's own retention record says the same: state.StageOldest).
func (l *Ledger) checkState(height uint64) error {
	if b := l.base.Load(); b > 0 && height < b {
		return &UnavailableError{What: "state", Height: height, Oldest: b}
	}
	return nil
}

// checkBlock refuses a block read at or before the sync base (the base's
// own header and certificate are stored, its transactions are not).
func (l *Ledger) checkBlock(height uint64) error {
	if b := l.base.Load(); b > 0 && height <= b {
		return &UnavailableError{What: "block", Height: height, Oldest: b + 1}
	}
	return nil
}

// Pin is a consistent read-only view of the ledger at one committed
// height, for taking a snapshot while later blocks commit. Close it
// promptly: it holds back the deletion of files Pebble has compacted.
type Pin struct {
	snap   *pebble.Snapshot
	Height uint64
	Base   uint64 // the ledger's sync base (0: it holds the chain from genesis)
}

// Pin returns a view of the ledger at its current head.
func (l *Ledger) Pin() *Pin {
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	return &Pin{snap: l.db.NewSnapshot(), Height: l.head.Load().Height, Base: l.base.Load()}
}

// Close releases the view.
func (p *Pin) Close() error { return p.snap.Close() }

// HeaderBytes returns the header bytes at height.
func (p *Pin) HeaderBytes(height uint64) ([]byte, error) { return store.HeaderBytesIn(p.snap, height) }

// Certificate returns the certificate at height.
func (p *Pin) Certificate(height uint64) (*types.Certificate, error) {
	return store.CertificateIn(p.snap, height)
}

// TxHashes returns the tx hashes of the block at height (height > Base).
func (p *Pin) TxHashes(height uint64) ([]crypto.Hash, error) {
	return store.TxHashesIn(p.snap, height)
}

// ExportState calls fn with every (state key, value) after Height, in
// ascending key order.
func (p *Pin) ExportState(fn func(key, value []byte) error) error {
	return state.ExportLatest(p.snap, fn)
}

// Restorer fills an empty ledger with a chain's state at one certified
// height and the history continuing from it needs (every header and every
// committed tx hash up to that height), checking each piece as it arrives:
// the certificate against the genesis validator set, each header's parent
// link, height and tx root against the hashes given, the last header
// against the certificate, and the state's root against the certified
// header. Nothing becomes visible until Finish succeeds; after an error the
// caller discards the ledger's directory.
type Restorer struct {
	l      *Ledger
	target *types.Header
	cert   *types.Certificate
	loader *state.BulkLoader
	b      *pebble.Batch
	next   uint64      // the next height AddHeight expects
	prev   crypto.Hash // hash of the header at next-1
	txs    uint64
	done   bool
}

// Restore starts filling l, which must be new (at genesis, never
// restored), with the chain up to the certified header hdr.
func (l *Ledger) Restore(hdr *types.Header, cert *types.Certificate) (*Restorer, error) {
	if head := l.Head(); head.Height != 0 {
		return nil, fmt.Errorf("restore: ledger is at height %d, not new", head.Height)
	}
	if _, ok := l.SyncBase(); ok {
		return nil, errors.New("restore: ledger was already restored")
	}
	if err := l.CheckCertified(hdr, cert); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if err := l.store.MarkRestoring(); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	return &Restorer{l: l, target: hdr, cert: cert, loader: state.NewBulkLoader(l.db, hdr.Height), b: l.db.NewBatch(), next: 1}, nil
}

// CheckCertified verifies that cert, a certificate of the validator set of
// hdr's height (for a snapshot beyond the sets this ledger knows: the ones
// given to SetSyncedValidators), certifies hdr.
func (l *Ledger) CheckCertified(hdr *types.Header, cert *types.Certificate) error {
	switch {
	case hdr == nil || cert == nil:
		return errors.New("missing header or certificate")
	case hdr.ChainID != l.genesis.ChainID:
		return fmt.Errorf("header of chain %q, want %q", hdr.ChainID, l.genesis.ChainID)
	case hdr.Height == 0:
		return errors.New("header at height 0")
	}
	vs, err := l.lookupValidators(hdr.Height)
	if err != nil {
		return err
	}
	switch {
	case hdr.ValidatorsHash != vs.Hash():
		return fmt.Errorf("header %d: validators hash %s, want %s", hdr.Height, hdr.ValidatorsHash, vs.Hash())
	case cert.Height != hdr.Height || cert.BlockHash != hdr.Hash():
		return fmt.Errorf("certificate (height %d, block %s) does not name header %d (%s)", cert.Height, cert.BlockHash, hdr.Height, hdr.Hash())
	}
	if err := cert.Verify(l.genesis.ChainID, vs); err != nil {
		return fmt.Errorf("header %d: %w", hdr.Height, err)
	}
	return nil
}

// AddHeight adds the header of the next height (1, 2, ... up to the target)
// and its block's tx hashes in order.
func (r *Restorer) AddHeight(headerBytes []byte, txs []crypto.Hash) error {
	hdr, err := types.DecodeHeader(headerBytes)
	if err != nil {
		return fmt.Errorf("restore: header %d: %w", r.next, err)
	}
	if !bytes.Equal(hdr.Encode(), headerBytes) {
		return fmt.Errorf("restore: header %d: not in canonical form", r.next)
	}
	hash := hdr.Hash()
	switch {
	case r.next > r.target.Height:
		return fmt.Errorf("restore: header %d beyond the target height %d", hdr.Height, r.target.Height)
	case hdr.Height != r.next:
		return fmt.Errorf("restore: header at height %d, want %d", hdr.Height, r.next)
	case hdr.ChainID != r.l.genesis.ChainID:
		return fmt.Errorf("restore: header %d of chain %q", hdr.Height, hdr.ChainID)
	case hdr.ParentHash != r.prev:
		return fmt.Errorf("restore: header %d: parent %s, previous header is %s", hdr.Height, hdr.ParentHash, r.prev)
	case int(hdr.TxCount) != len(txs):
		return fmt.Errorf("restore: header %d: %d txs, %d hashes given", hdr.Height, hdr.TxCount, len(txs))
	case merkle.RootOfHashes(txs) != hdr.TxRoot:
		return fmt.Errorf("restore: header %d: tx hashes do not match the tx root", hdr.Height)
	case hdr.Height == r.target.Height && hash != r.cert.BlockHash:
		return fmt.Errorf("restore: header %d is not the certified one (%s, certified %s)", hdr.Height, hash, r.cert.BlockHash)
	}
	if err := store.StageSyncedHeader(r.b, hdr.Height, headerBytes, hash); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for i, h := range txs {
		if err := r.l.store.StageSyncedTx(r.b, h, hdr.Height, uint32(i)); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	r.txs += uint64(len(txs))
	r.prev, r.next = hash, r.next+1
	return r.flushIfFull()
}

// AddState adds one state pair; keys in strictly ascending order.
func (r *Restorer) AddState(key, value []byte) error { return r.loader.Add(key, value) }

// Keys and Txs count what was added so far.
func (r *Restorer) Keys() uint64 { return r.loader.Keys() }

// Txs is the number of tx hashes added so far.
func (r *Restorer) Txs() uint64 { return r.txs }

func (r *Restorer) flushIfFull() error {
	// Small batches go into the memtable; large ones would stay in
	// memory as batches until flushed (see state.BulkLoader).
	if r.b.Len() < 4<<20 {
		return nil
	}
	if err := r.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	r.b.Reset()
	return nil
}

// Finish builds the state tree, checks its root against the certified
// header and that every height up to it was given, and makes the ledger's
// head the target height (one synced batch). The ledger must then be
// closed and opened again.
func (r *Restorer) Finish() error {
	defer r.b.Close()
	if r.done {
		return errors.New("restore: already finished")
	}
	r.done = true
	if r.next != r.target.Height+1 {
		return fmt.Errorf("restore: headers given up to %d, the target is %d", r.next-1, r.target.Height)
	}
	root, err := r.loader.Finish()
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if root != r.target.StateRoot {
		return fmt.Errorf("restore: state root %s from %d keys, the certified header %d says %s",
			root, r.loader.Keys(), r.target.Height, r.target.StateRoot)
	}
	if err := state.StageOldest(r.b, r.target.Height); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := store.StageSyncHead(r.b, r.cert); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := r.b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// The loader wrote the latest values behind the tree's back.
	r.l.state.DropLatestCache()
	return nil
}

// Abort releases the restorer's batch without committing it.
func (r *Restorer) Abort() {
	if !r.done {
		r.done = true
		r.b.Close()
	}
}

// Next is the height the next AddHeight must carry.
func (r *Restorer) Next() uint64 { return r.next }

// stageReplayLocations, on a joined ledger, points the hash index of each
// replayed copy in blk of a tx committed before the snapshot (whose body
// the ledger lacks) at that copy, whose record StageBlock stores with its
// body: such a tx's lookup by hash then finds a body, with the copy's
// replay receipt.
func (l *Ledger) stageReplayLocations(b *pebble.Batch, blk *types.Block, receipts []*types.Receipt) error {
	if l.base.Load() == 0 {
		return nil
	}
	for i, rc := range receipts {
		if rc.Code != types.CodeReplay {
			continue
		}
		tx := blk.Txs[i]
		stored, err := l.store.BodyStored(tx.Hash())
		if err != nil {
			return err
		}
		if !stored {
			if err := l.store.StageTxLocation(b, tx, blk.Header.Height, uint32(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// auditSyncedTxs checks a height at or below the sync base, where the
// ledger holds the tx hashes but not the bodies: the hashes must give the
// header's tx root and count, and each must be in the replay index.
func (l *Ledger) auditSyncedTxs(h uint64, hdr *types.Header) string {
	// The tx lists below the snapshot are kept though the bodies are not
	// (the store's TxHashes answers them pruned).
	hs, err := store.TxHashesIn(l.db, h)
	if err != nil {
		return fmt.Sprintf("tx list unreadable: %v", err)
	}
	if len(hs) != int(hdr.TxCount) || merkle.RootOfHashes(hs) != hdr.TxRoot {
		return fmt.Sprintf("%d tx hashes do not give the header's tx root (%d txs)", len(hs), hdr.TxCount)
	}
	for _, th := range hs {
		if ok, err := l.store.HasTx(th); err != nil || !ok {
			return fmt.Sprintf("tx %s missing from the replay index (%v)", th, err)
		}
	}
	return ""
}
