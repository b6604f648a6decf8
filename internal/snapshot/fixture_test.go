package snapshot

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

// chain is a 4-validator chain driven directly through a real ledger:
// blocks are proposed, certified by three of the four validator keys and
// committed, as consensus would.
type chain struct {
	g     *types.Genesis
	vkeys []*crypto.PrivateKey
	users []*crypto.PrivateKey
	nonce map[crypto.PublicKey]uint64
	l     *ledger.Ledger
	// blocks and certs keep every committed block, for replaying them on
	// a joined ledger as catch-up would.
	blocks []*types.Block
	certs  []*types.Certificate
}

func seedKey(tag byte, i int) *crypto.PrivateKey {
	var seed [32]byte
	seed[0], seed[1], seed[2] = tag, byte(i), byte(i>>8)
	return crypto.MustKeyFromSeed(seed)
}

func newGenesis(users int) (*types.Genesis, []*crypto.PrivateKey, []*crypto.PrivateKey) {
	g := &types.Genesis{ChainID: "snap-chain", GenesisTime: 1_700_000_000_000, Params: types.DefaultParams()}
	var vkeys, ukeys []*crypto.PrivateKey
	for i := 0; i < 4; i++ {
		k := seedKey('v', i)
		vkeys = append(vkeys, k)
		g.Validators = append(g.Validators, types.Validator{Name: fmt.Sprintf("v%d", i), PublicKey: k.Public(), Power: 1})
	}
	for i := 0; i < users; i++ {
		k := seedKey('u', i)
		ukeys = append(ukeys, k)
		g.Balances = append(g.Balances, types.Balance{Address: k.Public().Address(), Amount: 1_000_000})
	}
	return g, vkeys, ukeys
}

func newChain(t testing.TB, dir string, users int) *chain {
	t.Helper()
	g, vkeys, ukeys := newGenesis(users)
	c := &chain{g: g, vkeys: vkeys, users: ukeys, nonce: map[crypto.PublicKey]uint64{}}
	c.l = openLedger(t, g, dir)
	t.Cleanup(func() { c.l.Close() })
	return c
}

func openLedger(t testing.TB, g *types.Genesis, dir string) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(ledger.Options{Dir: dir, CacheBytes: 32 << 20}, g)
	if err != nil {
		t.Fatalf("open ledger: %v", err)
	}
	return l
}

func (c *chain) tx(k *crypto.PrivateKey, p types.Payload) *types.Tx {
	c.nonce[k.Public()]++
	tx := &types.Tx{ChainID: c.g.ChainID, Nonce: c.nonce[k.Public()], Timestamp: 1_700_000_000_000, Payload: p}
	tx.Sign(k)
	return tx
}

func (c *chain) certify(blk *types.Block) *types.Certificate {
	var votes []types.Vote
	for i := 0; i < 3; i++ {
		votes = append(votes, types.SignVote(c.vkeys[i], c.g.ChainID, types.Precommit, blk.Header.Height, blk.Header.Round, blk.Hash(), uint16(i)))
	}
	return types.NewCertificate(blk.Header.Height, blk.Header.Round, blk.Hash(), votes)
}

// commit proposes, certifies and commits a block of txs (signatures
// checked unless skipSigs) and returns its receipts.
func (c *chain) commit(t testing.TB, skipSigs bool, txs ...*types.Tx) []*types.Receipt {
	t.Helper()
	h := c.l.Head().Height + 1
	proposer := c.vkeys[c.l.Validators().Proposer(h, 0)].Public()
	blk, p, err := c.l.Propose(txs, 0, c.l.Head().Time+1000, proposer, execute.Options{SkipSignatures: skipSigs})
	if err != nil {
		t.Fatalf("propose %d: %v", h, err)
	}
	if len(p.Dropped) > 0 {
		t.Fatalf("propose %d dropped %d txs: %v", h, len(p.Dropped), p.Dropped[0].Err)
	}
	cert := c.certify(blk)
	if err := c.l.Commit(blk, cert, p); err != nil {
		t.Fatalf("commit %d: %v", h, err)
	}
	c.blocks, c.certs = append(c.blocks, blk), append(c.certs, cert)
	return p.Result.Receipts
}

// backend is the least an API server needs to serve reads of a ledger.
type backend struct{ l *ledger.Ledger }

func (b backend) Ledger() *ledger.Ledger                { return b.l }
func (b backend) Submit(txs []*types.Tx) []error        { panic("read-only backend") }
func (b backend) Pending(crypto.Hash) (*types.Tx, bool) { return nil, false }
func (b backend) Info() api.NodeInfo                    { return api.NodeInfo{Name: "provider"} }
func (b backend) Ready() error                          { return nil }
func serveAPI(t testing.TB, l *ledger.Ledger, s *Store) *httptest.Server {
	t.Helper()
	cfg := api.Config{Backend: backend{l}}
	if s != nil {
		cfg.Snapshots = s.API()
	}
	srv := httptest.NewServer(api.New(cfg))
	t.Cleanup(srv.Close)
	return srv
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// syncInto state-syncs a new ledger in dir from providers.
func syncInto(t testing.TB, g *types.Genesis, dir string, log *slog.Logger, providers ...string) (*SyncResult, error) {
	t.Helper()
	return Sync(t.Context(), SyncConfig{Providers: providers, LedgerDir: dir, Log: log,
		Open: func() (*ledger.Ledger, error) {
			return ledger.Open(ledger.Options{Dir: dir, CacheBytes: 32 << 20}, g)
		}})
}

func tempDir(t testing.TB, name string) string { return filepath.Join(t.TempDir(), name) }
