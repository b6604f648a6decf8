package ledger

import (
	"encoding/binary"
	"io/fs"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/types"
)

// benchNet funds `accounts` users. Keys are derived, so setup is cheap.
func benchNet(accounts int) *net {
	n := &net{nonce: map[crypto.PublicKey]uint64{}}
	g := &types.Genesis{ChainID: "bench", GenesisTime: 1, Params: types.DefaultParams()}
	for i := 0; i < 4; i++ {
		k := key('v', i)
		n.vkeys = append(n.vkeys, k)
		g.Validators = append(g.Validators, types.Validator{Name: "v", PublicKey: k.Public(), Power: 1})
	}
	for i := 0; i < accounts; i++ {
		var seed [32]byte
		seed[0] = 'b'
		binary.BigEndian.PutUint32(seed[1:], uint32(i))
		k := crypto.MustKeyFromSeed(seed)
		n.users = append(n.users, k)
		g.Balances = append(g.Balances, types.Balance{Address: k.Public().Address(), Amount: 1 << 40})
	}
	n.g = g
	return n
}

// transfers signs one block of txs transfers, each from a different sender
// to a random account.
func (n *net) transfers(rng *rand.Rand, count int) []*types.Tx {
	txs := make([]*types.Tx, count)
	start := rng.Intn(len(n.users))
	for i := range txs {
		from := n.users[(start+i)%len(n.users)]
		to := n.users[rng.Intn(len(n.users))].Public().Address()
		txs[i] = n.tx(from, &types.Transfer{To: to, Amount: uint64(1 + rng.Intn(100))})
	}
	return txs
}

func benchmarkBlocks(b *testing.B, opt execute.Options) {
	const perBlock = 10_000
	n := benchNet(100_000)
	dir := b.TempDir()
	l, err := Open(Options{Dir: dir}, n.g)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	if err := l.db.Flush(); err != nil {
		b.Fatal(err)
	}
	genesisSize := dirSize(dir)
	rng := rand.New(rand.NewSource(1))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		txs := n.transfers(rng, perBlock)
		h := l.Head().Height + 1
		prop := n.vkeys[l.Validators().Proposer(h, 0)].Public()
		b.StartTimer()
		blk, p, err := l.Propose(txs, 0, l.Head().Time+1, prop, opt)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cert := n.certify(blk, 3)
		b.StartTimer()
		if err := l.Commit(blk, cert, p); err != nil {
			b.Fatal(err)
		}
		for _, r := range p.Result.Receipts {
			if !r.OK {
				b.Fatalf("tx failed: %s", r.Reason)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(perBlock*b.N)/b.Elapsed().Seconds(), "tx/s")
	txs := uint64(perBlock * b.N)
	if err := l.db.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(dirSize(dir)-genesisSize)/float64(txs), "disk-B/tx")
}

// dirSize is the total size of the files under dir (Pebble's WAL and
// sstables: what a transaction costs on disk, before compactions settle).
func dirSize(dir string) int64 {
	var size int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		return nil
	})
	return size
}

// BenchmarkBlock10kTransfers executes and commits blocks of 10,000 signed
// transfers on a state of 100,000 accounts, verifying every signature.
func BenchmarkBlock10kTransfers(b *testing.B) { benchmarkBlocks(b, execute.Options{}) }

// BenchmarkBlock10kTransfersNoSig is the same without signature checks (as
// when the mempool already verified them).
func BenchmarkBlock10kTransfersNoSig(b *testing.B) {
	benchmarkBlocks(b, execute.Options{SkipSignatures: true})
}
