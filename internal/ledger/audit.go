package ledger

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/types"
)

// AuditOptions select how deep an audit goes.
type AuditOptions struct {
	// Replay re-executes every block from genesis in a scratch ledger and
	// compares receipts and state roots height by height.
	Replay bool
	// ScratchDir holds the replay's scratch ledger (default: a temp dir).
	ScratchDir string
	// Progress, if set, is called after each audited height.
	Progress func(height uint64)
}

// AuditReport is the outcome of an audit.
type AuditReport struct {
	Height   uint64 `json:"height"` // highest height audited
	Blocks   uint64 `json:"blocks_checked"`
	Txs      uint64 `json:"txs_checked"`
	OK       bool   `json:"ok"`
	BadAt    uint64 `json:"first_bad_height,omitempty"`
	Problem  string `json:"problem,omitempty"`
	Replayed bool   `json:"replayed"`
	// What a pruned ledger still holds, and so what was checked: headers
	// and certificates from 1, bodies (transactions, receipts, tx and
	// results roots) from BodiesFrom, state roots from StateFrom. Both are
	// 0 (everything) on an archive ledger.
	BodiesFrom uint64 `json:"bodies_from"`
	StateFrom  uint64 `json:"state_from"`
}

// Audit re-derives from disk every block hash, parent link, tx root, results
// root, certificate and state root, and reports the first height that does
// not match. An error means the audit itself could not run. A receipt's
// reason text is outside the results root, so no audit vouches for it.
func (l *Ledger) Audit(ctx context.Context, opt AuditOptions) (*AuditReport, error) {
	head := l.Head()
	kept := l.Retained()
	rep := &AuditReport{OK: true, BodiesFrom: kept.BodiesFrom, StateFrom: kept.StateFrom}
	base, _ := l.SyncBase()
	if opt.Replay && base > 0 {
		return nil, fmt.Errorf("audit: a replay needs the chain from genesis; this ledger joined from a snapshot at height %d", base)
	}
	if opt.Replay && (kept.BodiesFrom > 1 || kept.StateFrom > 0) {
		return nil, fmt.Errorf("audit: a replay re-executes every block from genesis, and this ledger is pruned (bodies from height %d, state from %d)", kept.BodiesFrom, kept.StateFrom)
	}
	fail := func(h uint64, format string, args ...any) (*AuditReport, error) {
		rep.OK, rep.BadAt, rep.Problem = false, h, fmt.Sprintf(format, args...)
		return rep, nil
	}
	var replay *Ledger
	if opt.Replay {
		dir := opt.ScratchDir
		if dir == "" {
			d, err := os.MkdirTemp("", "cairn-audit-")
			if err != nil {
				return nil, fmt.Errorf("audit: %w", err)
			}
			defer os.RemoveAll(d)
			dir = d
		}
		var err error
		if replay, err = Open(Options{Dir: dir, CacheBytes: 32 << 20}, l.genesis); err != nil {
			return nil, fmt.Errorf("audit: scratch ledger: %w", err)
		}
		defer replay.Close()
		rep.Replayed = true
		if replay.Head().StateRoot != mustRoot(l, 0) {
			return fail(0, "genesis state root %s does not match a fresh genesis %s", mustRoot(l, 0), replay.Head().StateRoot)
		}
	}
	var parent crypto.Hash
	var parentTime int64
	for h := uint64(1); h <= head.Height; h++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("audit stopped at height %d: %w", h, err)
		}
		raw, err := l.store.HeaderBytes(h)
		if err != nil {
			return fail(h, "header unreadable: %v", err)
		}
		hdr, err := types.DecodeHeader(raw)
		if err != nil {
			return fail(h, "header does not decode: %v", err)
		}
		hash := crypto.Sum(raw)
		switch {
		case hdr.Height != h:
			return fail(h, "header says height %d", hdr.Height)
		case hdr.ChainID != l.genesis.ChainID:
			return fail(h, "header chain id %q", hdr.ChainID)
		case hdr.ParentHash != parent:
			return fail(h, "parent hash %s, previous block is %s", hdr.ParentHash, parent)
		case hdr.Time < parentTime:
			return fail(h, "time %d before parent's %d", hdr.Time, parentTime)
		}
		vs, err := l.lookupValidators(h)
		if err != nil {
			return fail(h, "%v", err)
		}
		if hdr.ValidatorsHash != vs.Hash() {
			return fail(h, "validators hash %s, want %s", hdr.ValidatorsHash, vs.Hash())
		}
		if next, err := l.lookupValidators(h + 1); err == nil && hdr.NextValidatorsHash != next.Hash() {
			return fail(h, "next validators hash %s, want %s", hdr.NextValidatorsHash, next.Hash())
		}
		if at, err := l.store.HeightOf(hash); err != nil || at != h {
			return fail(h, "block hash index does not point here (%v)", err)
		}
		if h < base {
			// Joined from a snapshot: below it, headers and tx hashes only.
			if bad := l.auditSyncedTxs(h, hdr); bad != "" {
				return fail(h, "%s", bad)
			}
			parent, parentTime = hash, hdr.Time
			rep.Height, rep.Blocks = h, rep.Blocks+1
			continue
		}
		cert, err := l.store.Certificate(h)
		if err != nil {
			return fail(h, "certificate unreadable: %v", err)
		}
		if cert.BlockHash != hash || cert.Height != h {
			return fail(h, "certificate is for block %s at %d, header hashes to %s", cert.BlockHash, cert.Height, hash)
		}
		if err := cert.Verify(l.genesis.ChainID, vs); err != nil {
			return fail(h, "%v", err)
		}
		if h == base {
			// The snapshot height: its certificate above, its tx hashes and
			// state root here, no block body; the tree is checked below.
			if bad := l.auditSyncedTxs(h, hdr); bad != "" {
				return fail(h, "%s", bad)
			}
			if bad := l.auditStateRoot(h, hdr); bad != "" {
				return fail(h, "%s", bad)
			}
			parent, parentTime = hash, hdr.Time
			rep.Height, rep.Blocks = h, rep.Blocks+1
			continue
		}
		parent, parentTime = hash, hdr.Time
		if h < kept.BodiesFrom {
			// Pruned body: the header and certificate are all there is.
			if h >= kept.StateFrom {
				if bad := l.auditStateRoot(h, hdr); bad != "" {
					return fail(h, "%s", bad)
				}
			}
			rep.Height, rep.Blocks = h, rep.Blocks+1
			if opt.Progress != nil {
				opt.Progress(h)
			}
			continue
		}
		blk, bad := l.auditTxs(h, hdr)
		if bad != "" {
			return fail(h, "%s", bad)
		}
		rs, err := l.store.Receipts(h)
		if err != nil {
			return fail(h, "receipts unreadable: %v", err)
		}
		if len(rs) != len(blk.Txs) {
			return fail(h, "%d receipts for %d txs", len(rs), len(blk.Txs))
		}
		for i, r := range rs {
			if r.TxHash != blk.Txs[i].Hash() {
				return fail(h, "receipt %d is for tx %s, not %s", i, r.TxHash, blk.Txs[i].Hash())
			}
		}
		if root := types.ResultsRoot(rs); root != hdr.ResultsRoot {
			return fail(h, "results root %s, receipts give %s", hdr.ResultsRoot, root)
		}
		if h >= kept.StateFrom {
			if bad := l.auditStateRoot(h, hdr); bad != "" {
				return fail(h, "%s", bad)
			}
		}
		if replay != nil {
			p, err := replay.Validate(blk, execute.Options{})
			if err != nil {
				return fail(h, "replay: %v", err)
			}
			// Compare outcomes, not reason texts: those are outside the
			// results root and may be worded differently by this binary
			// than by the one that stored them.
			for i, r := range p.Result.Receipts {
				if !bytes.Equal(r.ResultBytes(), rs[i].ResultBytes()) {
					return fail(h, "replay: receipt %d differs", i)
				}
			}
			if err := replay.Commit(blk, cert, p); err != nil {
				return fail(h, "replay: %v", err)
			}
		}
		rep.Height, rep.Blocks, rep.Txs = h, rep.Blocks+1, rep.Txs+uint64(len(blk.Txs))
		if opt.Progress != nil {
			opt.Progress(h)
		}
	}
	// The whole tree at the head: every stored node hashes to what its
	// parent says, up to the root in the last header.
	if err := l.state.CheckTree(head.Height); err != nil {
		return fail(head.Height, "state tree: %v", err)
	}
	if replay != nil {
		// Execution is deterministic, so the replayed state records (tree
		// nodes, roots, latest values, every history version) must equal
		// ours byte for byte. A ledger that keeps pruning records has more
		// than a replay writes; then the latest values are compared.
		lo, hi := stateLo, stateHi
		if l.state.Tracking() {
			lo, hi = latestLo, latestHi
		}
		if bad, err := sameKeyspace(l.db, replay.db, lo, hi); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		} else if bad != "" {
			return fail(head.Height, "state records differ from replay: %s", bad)
		}
	}
	return rep, nil
}

// The state package keeps all its records under the prefix 's'.
var stateLo, stateHi = []byte{'s'}, []byte{'t'}

// Its latest values are under 's' 'l'.
var latestLo, latestHi = []byte{'s', 'l'}, []byte{'s', 'm'}

// auditStateRoot checks the stored state root at h against the header's.
func (l *Ledger) auditStateRoot(h uint64, hdr *types.Header) string {
	root, err := l.state.RootAt(h)
	if err != nil {
		return fmt.Sprintf("state root unreadable: %v", err)
	}
	if root != hdr.StateRoot {
		return fmt.Sprintf("state root %s, state has %s", hdr.StateRoot, root)
	}
	return ""
}

// sameKeyspace compares two databases over [lo, hi) and describes the first
// difference ("" when equal).
func sameKeyspace(a, b *pebble.DB, lo, hi []byte) (string, error) {
	ia, err := a.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return "", err
	}
	defer ia.Close()
	ib, err := b.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return "", err
	}
	defer ib.Close()
	va, vb := ia.First(), ib.First()
	for ; va && vb; va, vb = ia.Next(), ib.Next() {
		if !bytes.Equal(ia.Key(), ib.Key()) {
			return fmt.Sprintf("stored key %x, replay has %x", ia.Key(), ib.Key()), nil
		}
		if !bytes.Equal(ia.Value(), ib.Value()) {
			return fmt.Sprintf("value of key %x", ia.Key()), nil
		}
	}
	if va != vb {
		return "different number of records", nil
	}
	if err := ia.Error(); err != nil {
		return "", err
	}
	return "", ib.Error()
}

func mustRoot(l *Ledger, h uint64) crypto.Hash {
	r, err := l.state.RootAt(h)
	if err != nil {
		return crypto.Hash{}
	}
	return r
}

// auditTxs re-reads the block's transactions and checks each hash, the tx
// root and the account index. It returns the problem found, if any.
func (l *Ledger) auditTxs(h uint64, hdr *types.Header) (*types.Block, string) {
	hs, err := l.store.TxHashes(h)
	if err != nil {
		return nil, fmt.Sprintf("tx list unreadable: %v", err)
	}
	if len(hs) != int(hdr.TxCount) {
		return nil, fmt.Sprintf("%d txs stored, header says %d", len(hs), hdr.TxCount)
	}
	blk := &types.Block{Header: *hdr, Txs: make([]*types.Tx, len(hs))}
	if !hdr.LastCommitHash.IsZero() {
		if blk.LastCommit, err = l.store.LastCommit(h); err != nil {
			return nil, err.Error()
		}
		if types.LastCommitHash(blk.LastCommit) != hdr.LastCommitHash {
			return nil, "stored last commit does not match the header's last_commit_hash"
		}
	}
	for i, th := range hs {
		tx, loc, err := l.store.BlockTx(h, uint32(i), th)
		if err != nil {
			return nil, fmt.Sprintf("tx %d (%s): %v", i, th, err)
		}
		if loc.Height != h || loc.Index != uint32(i) {
			// Only a replayed copy points elsewhere: to its first inclusion,
			// earlier in the chain, whose tx list must name this hash.
			if loc.Height > h || (loc.Height == h && loc.Index >= uint32(i)) {
				return nil, fmt.Sprintf("tx %d: index says it is at %d/%d", i, loc.Height, loc.Index)
			}
			first, err := l.store.TxHashes(loc.Height)
			if _, pruned := HeightPruned(err); pruned {
				// The first inclusion's body is pruned; its hash index
				// still names a height below this one, as it must.
			} else if err != nil || int(loc.Index) >= len(first) || first[loc.Index] != th {
				return nil, fmt.Sprintf("tx %d: index points to %d/%d, which holds another tx", i, loc.Height, loc.Index)
			}
		}
		if tx.Hash() != th {
			return nil, fmt.Sprintf("tx %d: stored bytes hash to %s, not %s", i, tx.Hash(), th)
		}
		blk.Txs[i] = tx
	}
	if root := blk.ComputeTxRoot(); root != hdr.TxRoot {
		return nil, fmt.Sprintf("tx root %s, transactions give %s", hdr.TxRoot, root)
	}
	return blk, ""
}
