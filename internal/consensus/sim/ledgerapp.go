package sim

// The real application: with Config.Ledger each replica runs an
// internal/ledger instance on an in-memory Pebble filesystem, and drives
// it as internal/node does. Proposals are built with Ledger.Propose (the
// header time is the engine's, that is the simulator's virtual clock),
// received blocks are executed by Ledger.Validate, and certified blocks
// are made durable by Ledger.Commit. The ledger is the replica's disk: a
// crash loses only what a node keeps in memory (the prepared executions),
// and a restarted replica resumes from the ledger's head. (Pebble's own
// crash recovery is internal/ledger's tests' business.)
//
// Checked at every commit, on top of the simulator's invariants: the
// ledger accepts the certified block; its head's state root is the
// header's and equals its state tree's root; and every replica derives,
// per height, the same state root, results root and receipts (compared by
// their encoding, reason text included, since all replicas run one
// binary).

import (
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

// ledgerGenesis is the genesis every replica of a run opens its ledger with.
func (s *sim) ledgerGenesis() *types.Genesis {
	g := &types.Genesis{ChainID: ChainID, Params: types.DefaultParams()}
	g.Validators = append(g.Validators, s.vs.Validators...)
	return g
}

// openLedger gives nd its ledger, once: it survives crashes.
func (nd *replica) openLedger() {
	if nd.led != nil {
		return
	}
	l, err := ledger.Open(ledger.Options{Dir: "ledger", FS: vfs.NewMem(), CacheBytes: 1 << 20, NodeCacheSize: 4096}, nd.s.genesis)
	if err != nil {
		nd.s.violate("ledger", nd.id, 0, "ledger does not open: %v", err)
		return
	}
	nd.led = l
}

func (nd *replica) closeLedger() {
	if nd.led != nil {
		_ = nd.led.Close()
		nd.led = nil
	}
}

// execOptions trusts the signatures of the clients' transactions (signed
// by the workload, known good) and checks any other for real.
func (nd *replica) execOptions() execute.Options {
	return execute.Options{Verified: func(h crypto.Hash) bool {
		_, ok := nd.s.pool.lookup(h)
		return ok
	}}
}

// ledgerBuild answers a BuildRequest with Ledger.Propose.
func (nd *replica) ledgerBuild(req *consensus.BuildRequest, txs []*types.Tx) *types.Block {
	blk, p, err := nd.led.Propose(txs, req.Round, req.Time, req.Proposer, nd.execOptions())
	if err != nil {
		if nd.role != byzantine {
			nd.s.violate("ledger", nd.id, req.Height, "propose: %v", err)
		}
		return nil
	}
	nd.prepared[blk.Hash()] = p
	return blk
}

// ledgerValidate is consensus.App's ValidateBlock on the ledger.
func (nd *replica) ledgerValidate(b *types.Block) error {
	if _, ok := nd.prepared[b.Hash()]; ok {
		return nil
	}
	p, err := nd.led.Validate(b, nd.execOptions())
	if err != nil {
		return err
	}
	nd.prepared[b.Hash()] = p
	return nil
}

// ledgerCommit commits a certified block to the ledger and checks that
// every replica derives the same roots and receipts at its height.
func (nd *replica) ledgerCommit(b *types.Block, cert *types.Certificate) {
	s := nd.s
	h := b.Header.Height
	err := nd.led.Commit(b, cert, nd.prepared[b.Hash()])
	clear(nd.prepared)
	if nd.role == byzantine {
		return // its engine is correct, but what it commits is not checked
	}
	if err != nil {
		s.violate("ledger", nd.id, h, "certified block does not commit: %v", err)
		return
	}
	head := nd.led.Head()
	if head.Height != h || head.StateRoot != b.Header.StateRoot || nd.led.State().Root() != head.StateRoot {
		s.violate("ledger", nd.id, h, "after commit: head %d, state root %s, tree root %s, header %s",
			head.Height, head.StateRoot, nd.led.State().Root(), b.Header.StateRoot)
		return
	}
	_, _, receipts, err := nd.led.Block(h)
	if err != nil {
		s.violate("ledger", nd.id, h, "read back: %v", err)
		return
	}
	if types.ResultsRoot(receipts) != b.Header.ResultsRoot {
		s.violate("ledger", nd.id, h, "stored receipts do not give the header's results root")
	}
	var ok uint64
	sum := make([]byte, 0, 64+32*len(receipts))
	sum = append(sum, head.StateRoot[:]...)
	sum = append(sum, b.Header.ResultsRoot[:]...)
	for _, r := range receipts {
		d := crypto.Sum(r.Encode())
		sum = append(sum, d[:]...)
		if r.OK {
			ok++
		}
	}
	digest := crypto.Sum(sum)
	if first, seen := s.ledgerDigest[h]; !seen {
		s.ledgerDigest[h] = digest
		s.res.TxsOK += ok
		s.res.TxsFailed += uint64(len(receipts)) - ok
	} else if first != digest {
		s.violate("ledger", nd.id, h, "state root, results root or receipts differ from another replica's at height %d", h)
	}
}
