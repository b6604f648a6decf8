package ledger

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/types"
)

// net is a 4-validator chain with funded users, for tests.
type net struct {
	g     *types.Genesis
	vkeys []*crypto.PrivateKey
	users []*crypto.PrivateKey
	nonce map[crypto.PublicKey]uint64
}

func key(tag byte, i int) *crypto.PrivateKey {
	var seed [32]byte
	seed[0], seed[1] = tag, byte(i)
	return crypto.MustKeyFromSeed(seed)
}

func newNet(users int, balance uint64) *net {
	n := &net{nonce: map[crypto.PublicKey]uint64{}}
	g := &types.Genesis{ChainID: "test-chain", GenesisTime: 1_700_000_000_000, Params: types.DefaultParams()}
	for i := 0; i < 4; i++ {
		k := key('v', i)
		n.vkeys = append(n.vkeys, k)
		g.Validators = append(g.Validators, types.Validator{Name: "v", PublicKey: k.Public(), Power: 1})
	}
	for i := 0; i < users; i++ {
		k := key('u', i)
		n.users = append(n.users, k)
		g.Balances = append(g.Balances, types.Balance{Address: k.Public().Address(), Amount: balance})
	}
	n.g = g
	return n
}

func (n *net) open(t testing.TB, fs vfs.FS, dir string) *Ledger {
	t.Helper()
	l, err := Open(Options{Dir: dir, FS: fs, CacheBytes: 8 << 20}, n.g)
	if err != nil {
		t.Fatalf("open ledger: %v", err)
	}
	return l
}

func (n *net) tx(k *crypto.PrivateKey, p types.Payload) *types.Tx {
	n.nonce[k.Public()]++
	tx := &types.Tx{ChainID: n.g.ChainID, Nonce: n.nonce[k.Public()], Timestamp: 1_700_000_000_000, Payload: p}
	tx.Sign(k)
	return tx
}

// txNonce signs a tx with an explicit nonce, leaving the counter alone.
func (n *net) txNonce(k *crypto.PrivateKey, nonce uint64, p types.Payload) *types.Tx {
	tx := &types.Tx{ChainID: n.g.ChainID, Nonce: nonce, Timestamp: 1_700_000_000_000, Payload: p}
	tx.Sign(k)
	return tx
}

// certify signs precommits for blk with the first `signers` validators.
func (n *net) certify(blk *types.Block, signers int) *types.Certificate {
	var votes []types.Vote
	for i := 0; i < signers; i++ {
		votes = append(votes, types.SignVote(n.vkeys[i], n.g.ChainID, types.Precommit, blk.Header.Height, blk.Header.Round, blk.Hash(), uint16(i)))
	}
	return types.NewCertificate(blk.Header.Height, blk.Header.Round, blk.Hash(), votes)
}

// commit proposes, certifies and commits a block of txs; it returns the
// block and its receipts.
func (n *net) commit(t testing.TB, l *Ledger, txs ...*types.Tx) (*types.Block, []*types.Receipt) {
	t.Helper()
	h := l.Head().Height + 1
	vs := l.Validators()
	proposer := n.vkeys[vs.Proposer(h, 0)].Public()
	blk, p, err := l.Propose(txs, 0, l.Head().Time+1000, proposer, execute.Options{})
	if err != nil {
		t.Fatalf("propose %d: %v", h, err)
	}
	if err := l.Commit(blk, n.certify(blk, 3), p); err != nil {
		t.Fatalf("commit %d: %v", h, err)
	}
	return blk, p.Result.Receipts
}

func u64p(v uint64) *uint64 { return &v }
