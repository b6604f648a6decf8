// Package node runs one Cairn validator: it wires the ledger, the mempool,
// the consensus engine, the peer transport and the API together and owns
// every goroutine, timer and file handle among them. With the follower role
// (follower.go) it runs a non-voting replica instead: ledger, transport,
// search index and API, no engine, WAL or mempool.
//
// Concurrency: one goroutine (run) drives the consensus engine and is the
// only writer of the ledger; it handles peer messages, mempool signals and
// timers in turn. API handlers read the ledger and add to the mempool
// concurrently (both are safe for that). Gossip ingestion runs on its own
// goroutine so that verifying peers' transactions never delays a vote, and
// so does serving blocks to lagging peers (serve.go: bounded queue,
// per-peer budget, duplicates dropped).
//
// Durability: a block is committed (one synced Pebble batch) before the
// engine's WAL records of the same step are written and before any message
// leaves; WAL records are fsynced before the messages of their step are sent.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/blobstore"
	"github.com/cairn-db/cairn/internal/blockstream"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/internal/events"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/mempool"
	"github.com/cairn-db/cairn/internal/p2p"
	"github.com/cairn-db/cairn/internal/search"
	"github.com/cairn-db/cairn/internal/signguard"
	"github.com/cairn-db/cairn/internal/snapshot"
	"github.com/cairn-db/cairn/internal/wal"
	"github.com/cairn-db/cairn/types"
)

// Transport channels.
const (
	chConsensus byte = 1
	chMempool   byte = 2
	chSync      byte = 3
	chEvidence  byte = 4 // misbehaviour evidence, see evidence.go
)

// Node is one running validator.
type Node struct {
	cfg     Config
	log     *slog.Logger
	key     *crypto.PrivateKey
	genesis *types.Genesis
	vals    *types.ValidatorSet // the set of the height being decided (run goroutine)
	// candidates are the validators admitted on the transport (valset.go),
	// peersSig what it was last given (run goroutine).
	candidates map[crypto.PublicKey]bool
	peersSig   crypto.Hash
	self       int

	ledger *ledger.Ledger
	pool   *mempool.Mempool
	net    *p2p.Transport
	index  *search.Index
	wal    *wal.Log
	engine *consensus.Engine
	server *blockServer
	hub    *events.Hub
	m      *metrics
	http   *http.Server
	apiLn  net.Listener
	debug  *http.Server     // the loopback admin listener: checkpoints, and the fault switch in tests
	guard  *signguard.Guard // the signing floor (nil: none); see ops.go
	sec    *security        // the API's TLS, tokens, metrics and gRPC listeners (security.go)

	// Snapshots (snapshots.go); nil when snapshot.interval is 0.
	snapshots     *snapshot.Store
	snapshotTaker *snapshot.Taker

	// Blob store and its availability checks (scaleout.go), and the block
	// stream publisher (nil unless configured).
	blobs        *blobstore.Checker
	maxBlobBytes int64
	stream       *blockstream.Publisher

	// Owned by the run goroutine.
	timers       timerHeap
	prepared     map[crypto.Hash]*ledger.Prepared
	pendingSince int64
	walHeight    uint64

	ingest chan p2p.Message
	// Evidence gossip: the per-peer rate gate (consensus goroutine), the
	// queue to the evidence worker, and the lock that keeps store-if-new
	// atomic between the two writers.
	evidenceGate evidenceGate
	evidenceQ    chan p2p.Message
	evidenceMu   sync.Mutex
	ready        atomic.Bool
	// Followers: the validator's listed followers (followers.go); a
	// follower's own state (follower.go, nil on a validator).
	followers followerSet
	follow    *followState
	position  atomic.Pointer[consensus.Position]
	submitAt  sync.Map // tx hash -> time admitted through this node's API
	tracked   atomic.Int64
	wg        sync.WaitGroup
}

// New opens everything a validator needs; Run starts it.
func New(cfg Config, log *slog.Logger) (*Node, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if (cfg.AllowFaults || cfg.Byzantine != "") && !unsafeTestFaults.Load() {
		return nil, errors.New("node: fault injection and Byzantine modes need the --unsafe-test-faults flag (tests and benchmarks only)")
	}
	g, err := types.LoadGenesis(cfg.Path(cfg.Genesis))
	if err != nil {
		return nil, err
	}
	key, err := crypto.LoadKey(cfg.Path(cfg.Key))
	if err != nil {
		return nil, err
	}
	vals, err := g.ValidatorSet()
	if err != nil {
		return nil, err
	}
	self := vals.IndexOf(key.Public())
	if cfg.IsFollower() && self >= 0 {
		return nil, fmt.Errorf("node: key %s is validator %s's; a follower needs a key of its own (cairn keygen)", key.Public(), vals.Validators[self].Name)
	}
	n := &Node{cfg: cfg, log: log, key: key, genesis: g, vals: vals, self: self,
		hub: events.NewHub(), prepared: map[crypto.Hash]*ledger.Prepared{}, ingest: make(chan p2p.Message, 256),
		evidenceQ: make(chan p2p.Message, maxEvidenceQueue), evidenceGate: evidenceGate{counts: make([]int, vals.Len())}}
	n.m = newMetrics()
	n.server = newBlockServer(n.m)
	n.followers = newFollowerSet(cfg.Followers, n.m)
	if cfg.IsFollower() {
		n.follow = newFollowState(key.Public(), n.m)
	}
	ok := false
	defer func() {
		if !ok {
			n.closeAll()
		}
	}()
	acct := ledger.AccountIndexOff
	if cfg.AccountIndexOn() {
		acct = ledger.AccountIndexOn
	}
	if n.ledger, err = ledger.Open(ledger.Options{Dir: LedgerDir(cfg), Logger: log, Prunable: cfg.Pruning.StateHeights > 0,
		ContractCacheDir: filepath.Join(filepath.Dir(LedgerDir(cfg)), "contract-cache"), AccountIndex: acct}, g); err != nil {
		return nil, err
	}
	// The set of the next height, which may have changed since genesis.
	n.vals = n.ledger.Validators()
	n.self = n.vals.IndexOf(key.Public())
	n.evidenceGate.counts = make([]int, n.vals.Len())
	if !cfg.IsFollower() && n.self < 0 && !cfg.Join && !n.isValidatorPeer(key.Public()) {
		return nil, fmt.Errorf("node: key %s is not a validator of %s (a node joining the validators: --join, docs/operations.md)", key.Public(), g.ChainID)
	}
	if err := n.openGuard(); err != nil {
		return nil, err
	}
	if err := n.openBlobs(); err != nil {
		return nil, err
	}
	if err := n.openStream(); err != nil {
		return nil, err
	}
	if !cfg.IsFollower() {
		mc := mempool.DefaultConfig(g.ChainID, g.Params)
		cfg.Mempool.apply(&mc)
		mc.Admit = n.blobs.AdmitTx
		if n.pool, err = mempool.New(mc, n.ledger); err != nil {
			return nil, err
		}
	}
	if cfg.SearchOn() {
		if n.index, err = search.Open(search.Dir(cfg.Path(cfg.DataDir)), n.ledger, search.Options{Logger: log.With("component", "search")}); err != nil {
			return nil, fmt.Errorf("node: search index: %w", err)
		}
		n.m.watchIndex(n.index.IndexedHeight, func() uint64 { return n.ledger.Head().Height })
	}
	if err := n.openSnapshots(); err != nil {
		return nil, err
	}
	if err := n.openTransport(); err != nil {
		return nil, err
	}
	pool, tr := n.pool, n.net
	n.m.reg.MustRegister(statsCollector{
		pool: func() (mempool.Stats, bool) {
			if pool == nil {
				return mempool.Stats{}, false
			}
			return pool.Stats(), true
		},
		net: func() (p2p.Stats, bool) { return tr.Stats(), true },
	})
	lg := n.ledger
	n.m.reg.MustRegister(storageCollector{metrics: func() *pebble.Metrics {
		if lg == nil {
			return nil
		}
		return lg.StorageMetrics()
	}})
	if !cfg.IsFollower() {
		if err := n.openEngine(); err != nil {
			return nil, err
		}
	}
	n.registerOpsMetrics()
	ok = true
	return n, nil
}

// unsafeTestFaults is set by the --unsafe-test-faults flag of `cairn node`.
var unsafeTestFaults atomic.Bool

// AllowUnsafeTestFaults lets configs enable fault injection and Byzantine
// modes. Only `cairn node --unsafe-test-faults` calls it.
func AllowUnsafeTestFaults() { unsafeTestFaults.Store(true) }

func (n *Node) openTransport() error {
	for _, p := range n.cfg.Peers {
		if !n.cfg.Join && !n.isValidatorPeer(p.PublicKey) {
			return fmt.Errorf("node: peer %s (%s) is not a validator", p.Name, p.PublicKey)
		}
	}
	// Admitted and dialled: the validators of the next heights and the
	// target (valset.go); a follower dials its configured peers.
	allowed, peers := n.peerSets()
	if n.cfg.IsFollower() {
		peers = peers[:0]
		for _, p := range n.cfg.Peers {
			peers = append(peers, p2p.Peer{PublicKey: p.PublicKey, Addr: p.Addr})
		}
		allowed = nil
	}
	var followers []crypto.PublicKey
	for _, f := range n.cfg.Followers {
		if n.cfg.IsFollower() {
			break
		}
		if n.vals.IndexOf(f.PublicKey) >= 0 {
			return fmt.Errorf("node: follower %s (%s) is a validator", f.Name, f.PublicKey)
		}
		followers = append(followers, f.PublicKey)
	}
	t, err := p2p.New(p2p.Config{
		Key: n.key, ListenAddr: n.cfg.P2PAddr, Peers: peers, Allowed: allowed, Followers: followers,
		NetworkID: n.genesis.ChainID, Logger: n.log.With("component", "p2p"),
		QueueSize: 4096, MaxMessageBytes: n.genesis.Params.MaxBlockBytes + (1 << 20),
		CertLifetime: n.cfg.P2PCertificates.Lifetime.Duration, CertRenewBefore: n.cfg.P2PCertificates.RenewBefore.Duration,
	})
	if err != nil {
		return fmt.Errorf("node: transport: %w", err)
	}
	n.net = t
	return nil
}

func (n *Node) openEngine() error {
	if err := os.MkdirAll(n.cfg.Path(n.cfg.DataDir), 0o755); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	log, recs, err := wal.Open(WALPath(n.cfg))
	if err != nil {
		return fmt.Errorf("node: wal: %w", err)
	}
	n.wal = log
	if cut := log.Truncated(); cut > 0 {
		n.log.Warn("cut a torn tail off the consensus WAL (a crash during a write)", "path", WALPath(n.cfg), "bytes", cut)
	}
	head := n.ledger.Head()
	var records []consensus.WALRecord
	for _, b := range recs {
		r, err := consensus.DecodeWALRecord(b)
		if err != nil {
			return fmt.Errorf("node: wal: %w", err)
		}
		records = append(records, r)
		n.walHeight = max(n.walHeight, r.Height)
	}
	c := n.cfg.Consensus
	p := n.genesis.Params
	to := consensus.Timeouts{
		Propose: c.TimeoutPropose.Milliseconds(), ProposeDelta: c.TimeoutDelta.Milliseconds(),
		Prevote: c.TimeoutVote.Milliseconds(), PrevoteDelta: c.TimeoutDelta.Milliseconds(),
		Precommit: c.TimeoutVote.Milliseconds(), PrecommitDelta: c.TimeoutDelta.Milliseconds(),
		Tick: c.TimeoutVote.Milliseconds(),
	}
	n.engine, err = consensus.New(consensus.Config{
		ChainID: n.genesis.ChainID, Validators: n.vals, Key: n.key, App: n,
		Cut: consensus.CutPolicy{MaxTxs: p.MaxBlockTxs, MaxBytes: p.MaxBlockBytes,
			MaxDelay: c.MaxBlockDelay.Milliseconds(), EmptyBlockInterval: c.EmptyBlockInterval.Milliseconds(), CutWhenIdle: c.CutWhenIdle},
		Timeouts: to,
	}, consensus.StartPoint{Height: head.Height, BlockHash: head.Hash, WAL: records})
	if err != nil {
		return fmt.Errorf("node: consensus: %w", err)
	}
	return nil
}

// ValidateBlock implements consensus.App: bound the block's time by this
// validator's clock (ledger.MaxClockDrift), execute the block on the
// committed state and keep the result for the commit.
func (n *Node) ValidateBlock(b *types.Block) error {
	if _, ok := n.prepared[b.Hash()]; ok {
		// Built or already executed here on the current head: its roots are
		// ours by construction (the engine asks once per hash, but our own
		// proposal would otherwise be executed twice).
		return nil
	}
	start := time.Now()
	// The clock bound lives here, not in the engine (which has no clock)
	// nor in ledger.Validate (which also re-checks certified blocks).
	if err := ledger.CheckTime(&b.Header, start); err != nil {
		return err
	}
	// Availability, also outside the engine: no prevote for a block that
	// references a blob this validator's store does not hold (or cannot
	// confirm now); the round moves on instead (docs/scale-out.md).
	if err := n.blobs.CheckBlock(b.Txs); err != nil {
		return err
	}
	p, err := n.ledger.Validate(b, execute.Options{Verified: n.pool.Verified})
	n.log.Debug("validated proposal", "height", b.Header.Height, "round", b.Header.Round, "txs", len(b.Txs), "took", time.Since(start), "err", err)
	if err != nil {
		n.m.refused.Inc()
		n.log.Warn("refused proposal", "height", b.Header.Height, "round", b.Header.Round, "proposer", b.Header.Proposer, "err", err)
		return err
	}
	n.prepared[b.Hash()] = p
	return nil
}

// Ledger returns the node's ledger (for the API).
func (n *Node) Ledger() *ledger.Ledger { return n.ledger }

// Events returns the hub of committed blocks.
func (n *Node) Events() *events.Hub { return n.hub }

// Run serves until ctx ends, then shuts down in order: API, consensus,
// transport, storage.
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := n.net.Start(ctx); err != nil {
		n.closeAll()
		return fmt.Errorf("node: transport: %w", err)
	}
	if err := n.startAPI(); err != nil {
		n.closeAll()
		return err
	}
	if n.cfg.IsFollower() {
		n.log.Info("follower started", "name", n.cfg.Name, "chain", n.genesis.ChainID, "height", n.ledger.Head().Height,
			"api", n.apiLn.Addr().String(), "p2p", n.net.Addr().String(), "search", n.index != nil)
	} else {
		n.log.Info("validator started", "name", n.cfg.Name, "chain", n.genesis.ChainID, "height", n.ledger.Head().Height,
			"api", n.apiLn.Addr().String(), "p2p", n.net.Addr().String(), "index", n.self, "search", n.index != nil)
	}
	if n.cfg.Byzantine != "" || n.cfg.AllowFaults {
		n.log.Warn("UNSAFE TEST MODE", "byzantine", n.cfg.Byzantine, "fault_injection", n.cfg.AllowFaults)
	}
	if !n.cfg.IsFollower() {
		n.wg.Add(4)
		go n.gossipOut(ctx)
		go n.gossipIn(ctx)
		go n.serveBlocks(ctx)
		go n.evidenceIn(ctx.Done())
	}
	if n.snapshotTaker != nil {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.snapshotTaker.Run(ctx)
		}()
	}
	if !n.cfg.Pruning.retention().Archive() {
		n.wg.Add(1)
		go n.pruneLoop(ctx)
	}
	if n.index != nil {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			// Indexing trails commits on its own goroutine; it never holds
			// up consensus, and a failure leaves search stale, not the node
			// down.
			if err := n.index.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				n.log.Error("search indexer stopped", "err", err)
			}
		}()
	}
	if n.stream != nil {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			// Its own goroutine, reading committed blocks from the ledger:
			// a slow or absent stream never holds up a commit. A follower
			// publishes as a validator does.
			if err := n.stream.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				n.log.Error("block stream publisher stopped", "err", err)
			}
		}()
	}
	var err error
	if n.cfg.IsFollower() {
		err = n.runFollower(ctx)
	} else {
		err = n.run(ctx)
	}
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	_ = n.http.Shutdown(shutdownCtx)
	n.stopSecurity(shutdownCtx)
	if n.debug != nil {
		_ = n.debug.Shutdown(shutdownCtx)
		_ = os.Remove(n.cfg.Path(DebugAddrFile))
	}
	done()
	n.hub.Close()
	n.wg.Wait()
	height := n.ledger.Head().Height
	n.closeAll()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	n.log.Info("stopped", "role", map[bool]string{false: RoleValidator, true: RoleFollower}[n.cfg.IsFollower()], "height", height)
	return nil
}

func (n *Node) closeAll() {
	if err := n.closeScaleOut(); err != nil {
		n.log.Warn("closing the blob store or block stream", "err", err)
	}
	if n.net != nil {
		_ = n.net.Close()
		n.net = nil
	}
	if n.wal != nil {
		_ = n.wal.Close()
		n.wal = nil
	}
	if n.index != nil {
		_ = n.index.Close()
		n.index = nil
	}
	if n.ledger != nil {
		_ = n.ledger.Close()
		n.ledger = nil
	}
}
