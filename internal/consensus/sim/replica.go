package sim

import (
	"errors"
	"fmt"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/types"
)

// replica is one simulated validator: an engine plus what a real node keeps
// around it. chain, certs and wal survive crashes (they are "on disk");
// everything else is lost.
type replica struct {
	s         *sim
	id        int
	role      role
	behaviour string
	key       *crypto.PrivateKey

	eng       *consensus.Engine
	up        bool
	inc       int // incarnation: timers of an earlier life are ignored
	crashStop bool
	restarts  int
	// crashPoint >= 0 crashes the node part-way through its next Ready:
	// 0 before storing commits, 1 before the WAL, 2 before sending.
	crashPoint int

	// durable
	chain     []*types.Block
	certs     []*types.Certificate
	wal       [][]byte
	walHeight uint64
	led       *ledger.Ledger // with Config.Ledger; its head is len(chain)

	// volatile
	mempool   []poolEntry
	pool      map[int]bool // tx indices in mempool
	committed map[int]bool // tx indices in chain (derived from chain, so durable)
	txsDirty  bool
	busyUntil int64
	stats     consensus.Stats // folded from earlier incarnations
	prepared  map[crypto.Hash]*ledger.Prepared
}

type poolEntry struct {
	tx int
	at int64 // ms
}

func (nd *replica) height() uint64 { return uint64(len(nd.chain)) }

func (nd *replica) config() consensus.Config {
	s := nd.s
	return consensus.Config{ChainID: ChainID, Validators: s.setAt(nd.height() + 1), Key: nd.key, App: &app{nd: nd},
		Cut: s.cfg.Cut, Timeouts: s.cfg.Timeouts, Verify: s.sigs.verify}
}

func (nd *replica) start() {
	nd.prepared = map[crypto.Hash]*ledger.Prepared{}
	if nd.s.cfg.Ledger {
		nd.openLedger()
		if nd.led == nil {
			return
		}
		if hd := nd.led.Head().Height; hd != nd.height() {
			nd.s.violate("durability", nd.id, nd.height(), "ledger head %d, stored chain %d", hd, nd.height())
		}
	}
	st := consensus.StartPoint{Height: nd.height()}
	if n := len(nd.chain); n > 0 {
		st.BlockHash = nd.chain[n-1].Hash()
	}
	for _, b := range nd.wal {
		r, err := consensus.DecodeWALRecord(b)
		if err != nil {
			nd.s.violate("wal", nd.id, nd.height(), "WAL record does not decode: %v", err)
			return
		}
		st.WAL = append(st.WAL, r)
	}
	eng, err := consensus.New(nd.config(), st)
	if err != nil {
		nd.s.violate("restart", nd.id, nd.height(), "engine does not restart: %v", err)
		return
	}
	if eng.Height() != nd.height()+1 {
		nd.s.violate("durability", nd.id, nd.height(), "restarted engine decides height %d, store holds %d", eng.Height(), nd.height())
	}
	nd.eng, nd.up, nd.crashPoint = eng, true, -1
	nd.apply(eng.Start(nd.s.ms()))
	nd.markTxs()
}

func (nd *replica) restart() {
	nd.restarts++
	nd.start()
}

// crashSoon crashes now, or (half the time) part-way through the node's
// next Ready, which is where a real crash hurts: after the WAL is synced
// and before the messages leave, say.
func (nd *replica) crashSoon() {
	if !nd.up {
		return
	}
	s := nd.s
	if s.rng.IntN(2) == 0 {
		nd.crash()
		return
	}
	nd.crashPoint = s.rng.IntN(3)
}

func (nd *replica) crash() {
	nd.foldStats()
	nd.up = false
	nd.inc++
	nd.eng = nil
	nd.mempool, nd.pool = nil, map[int]bool{}
	nd.txsDirty = false
	nd.crashPoint = -1
	nd.prepared = nil
	nd.s.res.Crashes++
}

func (nd *replica) foldStats() {
	if nd.eng == nil || nd.role == byzantine {
		return
	}
	st := nd.eng.Stats()
	a := &nd.s.res.Engine
	a.Received += st.Received
	a.BadSignature += st.BadSignature
	a.WrongProposer += st.WrongProposer
	a.WrongChain += st.WrongChain
	a.Malformed += st.Malformed
	a.Stale += st.Stale
	a.Future += st.Future
	a.DroppedFuture += st.DroppedFuture
	a.Duplicates += st.Duplicates
	a.Equivocations += st.Equivocations
	a.ConflictingProposals += st.ConflictingProposals
	a.InvalidBlocks += st.InvalidBlocks
	a.BadCatchUp += st.BadCatchUp
	a.Commits += st.Commits
	a.CatchUpCommits += st.CatchUpCommits
	a.Rounds += st.Rounds
	nd.s.res.Rounds += st.Rounds
	nd.s.res.CatchUp += st.CatchUpCommits
}

func (nd *replica) step(ev consensus.Event) {
	nd.apply(nd.eng.Step(nd.s.ms(), ev))
}

// apply carries out a Ready in the order its documentation demands.
func (nd *replica) apply(rd consensus.Ready) {
	s := nd.s
	if nd.crashPoint == 0 {
		nd.crash()
		return
	}
	for _, c := range rd.Commits {
		nd.commit(c)
	}
	if nd.crashPoint == 1 {
		nd.crash()
		return
	}
	for _, r := range rd.WAL {
		if r.Height > nd.walHeight {
			nd.wal, nd.walHeight = nil, r.Height
		}
		if r.Height == nd.walHeight {
			nd.wal = append(nd.wal, r.Encode())
		}
	}
	if nd.crashPoint == 2 {
		nd.crash()
		return
	}
	for _, out := range rd.Messages {
		if nd.role != byzantine {
			s.checkSigned(nd, out.Msg)
		}
		targets := []int{out.To}
		if out.To == consensus.Broadcast {
			targets = s.others(nd.id)
		}
		if nd.role == byzantine {
			s.adv.outbound(nd, targets, out.Msg)
		} else {
			s.transmit(nd.id, targets, out.Msg)
		}
	}
	for _, t := range rd.Timers {
		s.push(event{at: max(t.At*1000, s.now), kind: evTimer, node: nd.id, inc: nd.inc, ev: consensus.Timeout{Timer: t}})
	}
	if b := rd.Build; b != nil {
		blk := nd.build(b)
		s.push(event{at: s.now, kind: evLocal, node: nd.id, inc: nd.inc,
			ev: consensus.BlockBuilt{Height: b.Height, Round: b.Round, Block: blk}})
	}
	for _, sv := range rd.Serve {
		if nd.role == byzantine && nd.behaviour == Silent {
			continue
		}
		if nd.role == byzantine && lies(nd, BadBlocks) {
			s.adv.serveBad(nd, sv)
			continue
		}
		if sv.Height == 0 || sv.Height > nd.height() {
			continue
		}
		s.transmit(nd.id, []int{sv.To}, &consensus.BlockResponse{Block: nd.chain[sv.Height-1], Cert: nd.certs[sv.Height-1]})
	}
	for _, ev := range rd.Evidence {
		if nd.role == byzantine {
			continue
		}
		k := ev.Key()
		if err := ev.Verify(ChainID, s.setAt(k.Height)); err != nil {
			s.violate("evidence", nd.id, k.Height, "evidence does not verify: %v", err)
		}
		if s.nodes[k.Validator].role != byzantine {
			s.violate("honest-equivocation", int(k.Validator), k.Height, "evidence names honest v%d", k.Validator)
		}
		if _, ok := ev.(*consensus.DuplicateVote); ok {
			s.res.Evidence++
		}
	}
	if len(rd.Commits) > 0 {
		// The engine entered a new height: its set, as a node gives it.
		if err := nd.eng.SetValidators(s.setAt(nd.height() + 1)); err != nil && nd.role != byzantine {
			s.violate("validator-set", nd.id, nd.height()+1, "set change refused: %v", err)
		}
		nd.markTxs()
	}
}

// commit stores a committed block, checking every invariant a commit must
// keep.
func (nd *replica) commit(c consensus.Commit) {
	s := nd.s
	b, h := c.Block, c.Block.Header.Height
	honestNode := nd.role != byzantine
	if honestNode {
		if h != nd.height()+1 {
			s.violate("durability", nd.id, h, "committed height %d on top of stored height %d", h, nd.height())
			return
		}
		var parent crypto.Hash
		if n := len(nd.chain); n > 0 {
			parent = nd.chain[n-1].Hash()
		}
		if b.Header.ParentHash != parent {
			s.violate("validity", nd.id, h, "block does not link to the stored parent")
		}
		if c.Cert.BlockHash != b.Hash() || c.Cert.Height != h {
			s.violate("certificate", nd.id, h, "certificate is for another block")
		} else if err := consensus.VerifyCertificate(ChainID, s.setAt(h), c.Cert, s.sigs.verify); err != nil {
			s.violate("certificate", nd.id, h, "certificate does not verify: %v", err)
		}
		if first, ok := s.decided[h]; !ok {
			s.decided[h], s.decidedBy[h] = b.Hash(), nd.id
		} else if first != b.Hash() {
			other := s.nodes[s.decidedBy[h]].certs[h-1]
			s.violate("agreement", nd.id, h, "fork at height %d: honest v%d committed %.16s, honest v%d committed %.16s; validators %v signed both certificates",
				h, nd.id, b.Hash(), s.decidedBy[h], first, doubleSigners(c.Cert, other))
		}
	}
	if nd.led != nil {
		nd.ledgerCommit(b, c.Cert)
	}
	seen := map[int]bool{}
	for _, tx := range b.Txs {
		i, ok := s.pool.lookup(tx.Hash())
		if !ok {
			if honestNode {
				s.violate("validity", nd.id, h, "committed transaction %s was never submitted", tx.Hash())
			}
			continue
		}
		if honestNode && (nd.committed[i] || seen[i]) {
			s.violate("validity", nd.id, h, "transaction %d committed twice", i)
		}
		seen[i] = true
		nd.committed[i] = true
	}
	nd.chain = append(nd.chain, b)
	nd.certs = append(nd.certs, c.Cert)
	if len(seen) > 0 {
		kept := nd.mempool[:0]
		for _, e := range nd.mempool {
			if !seen[e.tx] {
				kept = append(kept, e)
			} else {
				delete(nd.pool, e.tx)
			}
		}
		nd.mempool = kept
	}
}

// addTx puts a transaction in the mempool unless it is there or committed.
func (nd *replica) addTx(i int, at int64) {
	if !nd.up {
		return
	}
	if nd.pool[i] || nd.committed[i] {
		return
	}
	nd.pool[i] = true
	nd.mempool = append(nd.mempool, poolEntry{tx: i, at: at})
	nd.markTxs()
}

// markTxs schedules one TxsAvailable report for all mempool changes at
// this instant (a Count of -1 is filled in at delivery).
func (nd *replica) markTxs() {
	if nd.txsDirty || !nd.up {
		return
	}
	nd.txsDirty = true
	nd.s.push(event{at: nd.s.now, kind: evLocal, node: nd.id, inc: nd.inc, ev: consensus.TxsAvailable{Count: -1}})
}

func (nd *replica) txsAvailable() consensus.TxsAvailable {
	if len(nd.mempool) == 0 {
		return consensus.TxsAvailable{}
	}
	t := consensus.TxsAvailable{Count: len(nd.mempool), Since: nd.mempool[0].at}
	for _, e := range nd.mempool {
		t.Bytes += nd.s.pool.get(e.tx).Size()
	}
	return t
}

// build makes the block a BuildRequest asks for from the mempool in order.
func (nd *replica) build(req *consensus.BuildRequest) *types.Block {
	var txs []*types.Tx
	size := 0
	for _, e := range nd.mempool {
		tx := nd.s.pool.get(e.tx)
		if len(txs) == req.MaxTxs || size+tx.Size() > req.MaxBytes {
			break
		}
		txs = append(txs, tx)
		size += tx.Size()
	}
	if nd.led != nil {
		return nd.ledgerBuild(req, txs)
	}
	b := &types.Block{Header: types.Header{
		ChainID: ChainID, Height: req.Height, Round: req.Round, Time: req.Time, Proposer: req.Proposer,
		ParentHash: req.ParentHash, TxCount: uint32(len(txs)), ValidatorsHash: req.ValidatorsHash,
	}, Txs: txs}
	b.Header.TxRoot = merkle.RootOfHashes(b.TxHashes())
	b.Header.StateRoot = stateRoot(nd.stateRoot(), b.Header.TxRoot)
	return b
}

func (nd *replica) stateRoot() crypto.Hash {
	if n := len(nd.chain); n > 0 {
		return nd.chain[n-1].Header.StateRoot
	}
	return crypto.Hash{}
}

// app is the simulated application: it accepts a block whose state root
// follows from its parent's and whose transactions are signed by their
// senders, for this chain, and not yet committed.
type app struct{ nd *replica }

var errReplay = errors.New("transaction already committed")

func (a *app) ValidateBlock(b *types.Block) error {
	nd := a.nd
	if nd.led != nil {
		return nd.ledgerValidate(b)
	}
	if want := stateRoot(nd.stateRoot(), b.Header.TxRoot); b.Header.StateRoot != want {
		return fmt.Errorf("state root %s, want %s", b.Header.StateRoot, want)
	}
	seen := map[crypto.Hash]bool{}
	for _, tx := range b.Txs {
		h := tx.Hash()
		if seen[h] {
			return fmt.Errorf("transaction %s twice in the block", h)
		}
		seen[h] = true
		if tx.ChainID != ChainID {
			return fmt.Errorf("transaction %s for chain %q", h, tx.ChainID)
		}
		if i, ok := nd.s.pool.lookup(h); ok {
			// Signed by the workload, so its signature is known good.
			if nd.committed[i] {
				return fmt.Errorf("%s: %w", h, errReplay)
			}
			continue
		}
		b := tx.Bytes()
		if !nd.s.sigs.verify(tx.Sender, tx.SignBytes(), b[len(b)-crypto.SignatureSize:]) {
			return fmt.Errorf("transaction %s: bad signature", h)
		}
	}
	return nil
}

// doubleSigners lists the validators whose precommits appear in both of
// two certificates for different blocks at one height: each of them signed
// conflicting votes, which is what accountability pins on them.
func doubleSigners(a, b *types.Certificate) []string {
	in := map[uint16]bool{}
	for _, s := range a.Sigs {
		in[s.Validator] = true
	}
	var out []string
	for _, s := range b.Sigs {
		if in[s.Validator] {
			out = append(out, fmt.Sprintf("v%d", s.Validator))
		}
	}
	return out
}

// checkHeld asserts that what the engine holds stays within its
// documented bounds, whatever peers send it.
func (nd *replica) checkHeld() {
	if nd.eng == nil || nd.role == byzantine {
		return
	}
	h, b := nd.eng.Held(), nd.eng.HeldBounds()
	if h.Rounds > b.Rounds || h.Proposals > b.Proposals || h.Blocks > b.Blocks || h.Future > b.Future ||
		h.Fetched > b.Fetched || h.Requests > b.Requests {
		nd.s.violate("memory", nd.id, nd.height()+1, "engine holds %+v, bounds %+v", h, b)
	}
	nd.s.res.MaxHeld = maxHeld(nd.s.res.MaxHeld, h)
}

func maxHeld(a, b consensus.Held) consensus.Held {
	return consensus.Held{Rounds: max(a.Rounds, b.Rounds), Proposals: max(a.Proposals, b.Proposals),
		Blocks: max(a.Blocks, b.Blocks), Future: max(a.Future, b.Future), Fetched: max(a.Fetched, b.Fetched),
		Requests: max(a.Requests, b.Requests)}
}
