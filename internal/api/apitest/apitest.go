// Package apitest runs a real single-validator Cairn chain behind the REST
// API for tests: a genesis with one validator (quorum 1) and funded users,
// a ledger in a temporary directory, a real mempool, an events hub, on
// request a search index, a tiny committer loop (reap, propose, sign the
// precommit certificate, commit, then the node's own post-commit fan-out,
// internal/fanout) and the API served by httptest on 127.0.0.1. It is for
// tests of the API, the SDK and the CLI; it is not a node (no consensus,
// no peers).
package apitest

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api"
	"github.com/cairn-db/cairn/internal/blobstore"
	"github.com/cairn-db/cairn/internal/events"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/fanout"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/mempool"
	"github.com/cairn-db/cairn/internal/search"
	"github.com/cairn-db/cairn/types"
)

// ChainID is the test chain's id.
const ChainID = "cairn-apitest"

// Balance is each funded user's initial balance.
const Balance = 1_000_000

// Options tune the chain.
type Options struct {
	// Users is the number of funded users (default 4).
	Users int
	// API overrides API limits (Backend, Events, Gatherer, Registerer and
	// Logger are filled in).
	API api.Config
	// MempoolMaxTxs bounds the mempool (default 10,000).
	MempoolMaxTxs int
	// BlockTxs bounds transactions per block (default 1,000).
	BlockTxs int
	// Search keeps a search index of the chain, served at /v1/search and
	// fed as a node feeds it; SearchOptions tune it.
	Search        bool
	SearchOptions search.Options
	// Validators is the size of the validator set (default 1), each of
	// power 1. Every block is proposed by the set's proposer for its
	// height and certified by a quorum of precommits: all validators but
	// one (a different one each height) when there are four or more, so
	// certificates skip indexes as real ones do.
	Validators int
	// Genesis, if set, edits the genesis (permissions, roles, fees) before
	// the chain starts.
	Genesis func(g *types.Genesis)
	// AccountIndex says whether the ledger keeps the account index (the
	// zero value: a new ledger does).
	AccountIndex ledger.AccountIndexMode
}

// Chain is a running test chain.
type Chain struct {
	Genesis  *types.Genesis
	ValKey   *crypto.PrivateKey   // validator 0's key
	ValKeys  []*crypto.PrivateKey // every validator's, in genesis order
	Users    []*crypto.PrivateKey
	Ledger   *ledger.Ledger
	Mempool  *mempool.Mempool
	Hub      *events.Hub
	Index    *search.Index // nil without Options.Search
	API      *api.Server
	Server   *httptest.Server
	URL      string
	Registry *prometheus.Registry
	// LedgerDir is the ledger's Pebble directory (disk use figures).
	LedgerDir string

	t        testing.TB
	blockTxs int

	mu     sync.Mutex
	paused bool
	err    error

	stop chan struct{}
	done chan struct{}
	kick chan struct{}
	// indexDone is closed when the indexer's Run returns (nil without an
	// index).
	indexDone chan struct{}
}

// Key returns a deterministic key for tag and i.
func Key(tag byte, i int) *crypto.PrivateKey {
	var seed [crypto.SeedSize]byte
	seed[0] = tag
	binary.BigEndian.PutUint64(seed[1:], uint64(i))
	return crypto.MustKeyFromSeed(seed)
}

// backend adapts the chain to api.Backend.
type backend struct{ c *Chain }

func (b backend) Ledger() *ledger.Ledger { return b.c.Ledger }
func (b backend) Submit(txs []*types.Tx) []error {
	errs := b.c.Mempool.AddBatch(txs)
	b.c.wake()
	return errs
}
func (b backend) Pending(h crypto.Hash) (*types.Tx, bool) { return b.c.Mempool.Get(h) }
func (b backend) Ready() error                            { return nil }
func (b backend) Info() api.NodeInfo {
	st := b.c.Mempool.Stats()
	head := b.c.Ledger.Head()
	info := api.NodeInfo{
		Name:      "test0",
		Peers:     []client.Peer{},
		Mempool:   client.MempoolStatus{Txs: st.Txs, Bytes: st.Bytes},
		Consensus: client.ConsensusStatus{Height: head.Height + 1},
	}
	if b.c.Index != nil {
		info.IndexedHeight = b.c.Index.IndexedHeight()
	}
	return info
}

// New starts a chain; it stops when the test ends.
func New(t testing.TB, opt Options) *Chain {
	t.Helper()
	if opt.Users == 0 {
		opt.Users = 4
	}
	if opt.MempoolMaxTxs == 0 {
		opt.MempoolMaxTxs = 10_000
	}
	if opt.BlockTxs == 0 {
		opt.BlockTxs = 1000
	}
	if opt.Validators == 0 {
		opt.Validators = 1
	}
	val := Key('v', 0)
	g := &types.Genesis{ChainID: ChainID, GenesisTime: 1_700_000_000_000, Params: types.DefaultParams()}
	var valKeys []*crypto.PrivateKey
	for i := 0; i < opt.Validators; i++ {
		k := Key('v', i)
		valKeys = append(valKeys, k)
		g.Validators = append(g.Validators, types.Validator{Name: fmt.Sprintf("test%d", i), PublicKey: k.Public(), Power: 1})
	}
	c := &Chain{Genesis: g, ValKey: val, ValKeys: valKeys, t: t, blockTxs: opt.BlockTxs,
		stop: make(chan struct{}), done: make(chan struct{}), kick: make(chan struct{}, 1)}
	for i := 0; i < opt.Users; i++ {
		k := Key('u', i)
		c.Users = append(c.Users, k)
		g.Balances = append(g.Balances, types.Balance{Address: k.Public().Address(), Amount: Balance})
	}
	if opt.Genesis != nil {
		opt.Genesis(g)
		if err := g.Check(); err != nil {
			t.Fatalf("apitest: genesis: %v", err)
		}
	}
	c.LedgerDir = t.TempDir()
	l, err := ledger.Open(ledger.Options{Dir: c.LedgerDir, CacheBytes: 8 << 20, AccountIndex: opt.AccountIndex}, g)
	if err != nil {
		t.Fatalf("apitest: open ledger: %v", err)
	}
	c.Ledger = l
	mc := mempool.DefaultConfig(ChainID, g.Params)
	mc.MaxTxs, mc.MaxBytes, mc.RecentCommitted = opt.MempoolMaxTxs, 64<<20, 10_000
	if opt.API.Blobs != nil {
		// As a node does: a blob.record is admitted only once its blobs
		// are in the store.
		mc.Admit = blobstore.NewChecker(opt.API.Blobs, 5*time.Second).AdmitTx
	}
	if c.Mempool, err = mempool.New(mc, l); err != nil {
		t.Fatalf("apitest: mempool: %v", err)
	}
	c.Hub = events.NewHub()
	c.Registry = prometheus.NewRegistry()
	cfg := opt.API
	cfg.Backend, cfg.Events, cfg.Gatherer, cfg.Registerer = backend{c}, c.Hub, c.Registry, c.Registry
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if opt.Search {
		if c.Index, err = search.Open(t.TempDir(), l, opt.SearchOptions); err != nil {
			t.Fatalf("apitest: open search index: %v", err)
		}
		cfg.Search = c.Index
		c.indexDone = make(chan struct{})
		go func() {
			defer close(c.indexDone)
			_ = c.Index.Run(context.Background()) // ends when the index closes
		}()
	}
	c.API = api.New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("apitest: listen: %v", err)
	}
	c.Server = &httptest.Server{Listener: ln, Config: &http.Server{Handler: c.API, ReadHeaderTimeout: 10 * time.Second}}
	c.Server.Config.RegisterOnShutdown(c.API.Close)
	c.Server.Start()
	c.URL = c.Server.URL
	// Drain the gossip channel as a transport would, so it never fills.
	go func() {
		for {
			select {
			case <-c.Mempool.Gossip():
			case <-c.stop:
				return
			}
		}
	}()
	go c.run()
	t.Cleanup(c.Close)
	return c
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// Close stops the committer and the server and closes the ledger. It is
// idempotent and runs at test cleanup.
func (c *Chain) Close() {
	select {
	case <-c.stop:
		return
	default:
	}
	c.API.Close()
	c.Hub.Close()
	close(c.stop)
	<-c.done
	c.Server.Close()
	if c.Index != nil {
		if err := c.Index.Close(); err != nil {
			c.t.Errorf("apitest: close search index: %v", err)
		}
		<-c.indexDone
	}
	if err := c.Ledger.Close(); err != nil {
		c.t.Errorf("apitest: close ledger: %v", err)
	}
	if err := c.Err(); err != nil {
		c.t.Errorf("apitest: committer: %v", err)
	}
	c.checkNoServerErrors()
}

// checkNoServerErrors fails the test if the API recovered a panic or
// answered any 5xx other than 503 during it: every request a test sends is
// a client's request, and a client's mistake must never be a server error.
func (c *Chain) checkNoServerErrors() {
	mfs, err := c.Registry.Gather()
	if err != nil {
		c.t.Errorf("apitest: gather metrics: %v", err)
		return
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "cairn_api_panics_total":
				if v := m.GetCounter().GetValue(); v > 0 {
					c.t.Errorf("apitest: the API recovered %v panics", v)
				}
			case "cairn_api_requests_total":
				var route, code string
				for _, lp := range m.GetLabel() {
					switch lp.GetName() {
					case "route":
						route = lp.GetValue()
					case "code":
						code = lp.GetValue()
					}
				}
				// A blob store's own faults (corrupt bytes, full) are
				// reported as such: 502 and 507 on the blob routes.
				storeFault := strings.HasPrefix(route, "/v1/blobs") && (code == "502" || code == "507")
				if strings.HasPrefix(code, "5") && code != "503" && !storeFault {
					c.t.Errorf("apitest: %v requests to %s answered %s", m.GetCounter().GetValue(), route, code)
				}
			}
		}
	}
}

// Client returns an SDK client for the chain.
func (c *Chain) Client() *client.Client {
	cl, err := client.New(c.URL)
	if err != nil {
		c.t.Fatalf("apitest: client: %v", err)
	}
	return cl
}

// Pause stops committing blocks until Resume (txs stay pending).
func (c *Chain) Pause() {
	c.mu.Lock()
	c.paused = true
	c.mu.Unlock()
}

// Resume restarts committing.
func (c *Chain) Resume() {
	c.mu.Lock()
	c.paused = false
	c.mu.Unlock()
	c.wake()
}

// Err returns the committer's first error.
func (c *Chain) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Chain) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *Chain) run() {
	defer close(c.done)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		case <-c.Mempool.TxsAvailable():
		case <-t.C:
		}
		c.mu.Lock()
		paused := c.paused || c.err != nil
		c.mu.Unlock()
		if paused {
			continue
		}
		txs := c.Mempool.Reap(c.blockTxs, c.Genesis.Params.MaxBlockBytes)
		if len(txs) == 0 {
			continue
		}
		if _, err := c.commit(txs, true); err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
		}
	}
}

// CommitBlock commits one block of txs right away (they need not be in the
// mempool), for tests that want blocks at a precise moment; Pause first to
// keep the committer loop out of the way.
func (c *Chain) CommitBlock(txs ...*types.Tx) *types.Block {
	c.t.Helper()
	ev, err := c.commit(txs, true)
	if err != nil {
		c.t.Fatalf("apitest: %v", err)
	}
	return ev.Block
}

// CommitUnpublished is CommitBlock without publishing the block to the
// hub: the caller publishes the returned event when it likes (tests of
// readers that fall behind).
func (c *Chain) CommitUnpublished(txs ...*types.Tx) events.BlockEvent {
	c.t.Helper()
	ev, err := c.commit(txs, false)
	if err != nil {
		c.t.Fatalf("apitest: %v", err)
	}
	return ev
}

// commit runs one block of txs through the ledger and tells the mempool,
// the index and (when publish) the hub, as a node does.
func (c *Chain) commit(txs []*types.Tx, publish bool) (events.BlockEvent, error) {
	l := c.Ledger
	head := l.Head()
	vs := l.Validators()
	proposer := c.ValKeys[vs.Proposer(head.Height+1, 0)]
	blk, p, err := l.Propose(txs, 0, max(time.Now().UnixMilli(), head.Time), proposer.Public(), execute.Options{Verified: c.Mempool.Verified})
	if err != nil {
		return events.BlockEvent{}, fmt.Errorf("propose %d: %w", head.Height+1, err)
	}
	var votes []types.Vote
	skip := -1 // with four or more validators, one does not sign
	if n := len(c.ValKeys); n >= 4 {
		skip = int(blk.Header.Height % uint64(n))
	}
	for i, k := range c.ValKeys {
		if i != skip {
			votes = append(votes, types.SignVote(k, ChainID, types.Precommit, blk.Header.Height, blk.Header.Round, blk.Hash(), uint16(i)))
		}
	}
	cert := types.NewCertificate(blk.Header.Height, blk.Header.Round, blk.Hash(), votes)
	if err := l.Commit(blk, cert, p); err != nil {
		return events.BlockEvent{}, fmt.Errorf("commit %d: %w", blk.Header.Height, err)
	}
	ev := events.BlockEvent{Block: blk, Certificate: cert, Receipts: p.Result.Receipts}
	to := fanout.Targets{Mempool: c.Mempool, Index: c.Index}
	if publish {
		to.Hub = c.Hub
	}
	return ev, to.Committed(ev)
}

// WaitHeight waits (at most 10 s) until the chain reaches height h.
func (c *Chain) WaitHeight(h uint64) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for c.Ledger.Head().Height < h {
		select {
		case <-ctx.Done():
			c.t.Fatalf("apitest: height %d not reached (at %d)", h, c.Ledger.Head().Height)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// WaitIndexed waits (at most 10 s) until the search index reaches the
// chain's current height. It needs Options.Search.
func (c *Chain) WaitIndexed() {
	c.t.Helper()
	if c.Index == nil {
		c.t.Fatalf("apitest: WaitIndexed without Options.Search")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Index.WaitIndexed(ctx, c.Ledger.Head().Height); err != nil {
		c.t.Fatalf("apitest: %v", err)
	}
}

// Tx signs a transaction of user k with an explicit nonce.
func Tx(k *crypto.PrivateKey, nonce uint64, p types.Payload) *types.Tx {
	tx := &types.Tx{ChainID: ChainID, Nonce: nonce, Timestamp: 1_700_000_000_000, Payload: p}
	tx.Sign(k)
	return tx
}
