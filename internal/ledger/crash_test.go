package ledger

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// TestCrashConsistency simulates power loss at many points of a running
// chain: a clone of the filesystem keeps everything synced plus a random
// part of what was not. Reopened, the ledger must be at a committed height
// (never before the last acknowledged commit) with exactly the state root it
// had then, and pass a full audit.
func TestCrashConsistency(t *testing.T) {
	n := newNet(8, 1_000_000)
	fs := vfs.NewCrashableMem()
	l := n.open(t, fs, "db")
	roots := map[uint64]crypto.Hash{0: l.Head().StateRoot}
	rng := rand.New(rand.NewPCG(1, 1))
	type crash struct {
		fs        *vfs.MemFS
		committed uint64
	}
	var crashes []crash
	for h := 1; h <= 12; h++ {
		var txs []*types.Tx
		for i := 0; i < 20; i++ {
			u := n.users[rng.IntN(len(n.users))]
			if i%3 == 0 {
				txs = append(txs, n.tx(u, &types.KVPut{Key: "k" + string(rune('a'+rng.IntN(5))), Value: "v"}))
			} else {
				txs = append(txs, n.tx(u, &types.Transfer{To: n.users[rng.IntN(len(n.users))].Public().Address(), Amount: uint64(rng.IntN(1000) + 1)}))
			}
		}
		// A crash while the next block is executed but before its batch:
		// nothing of it may survive.
		blk, p, err := l.Propose(txs, 0, l.Head().Time+1, n.vkeys[l.Validators().Proposer(uint64(h), 0)].Public(), execOpts)
		if err != nil {
			t.Fatal(err)
		}
		crashes = append(crashes, crash{fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(100), RNG: rng}), uint64(h - 1)})
		if err := l.Commit(blk, n.certify(blk, 3), p); err != nil {
			t.Fatal(err)
		}
		roots[uint64(h)] = l.Head().StateRoot
		// A crash right after the commit was acknowledged.
		crashes = append(crashes, crash{fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(100), RNG: rng}), uint64(h)})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for i, c := range crashes {
		r := n.open(t, c.fs, "db")
		head := r.Head()
		if head.Height != c.committed {
			t.Fatalf("crash %d: reopened at height %d, last acknowledged commit was %d", i, head.Height, c.committed)
		}
		if head.StateRoot != roots[head.Height] {
			t.Fatalf("crash %d: height %d state root %s, was %s", i, head.Height, head.StateRoot, roots[head.Height])
		}
		rep, err := r.Audit(context.Background(), AuditOptions{})
		if err != nil || !rep.OK {
			t.Fatalf("crash %d: audit %+v %v", i, rep, err)
		}
		// The chain continues from the recovered head.
		n2 := *n
		n2.nonce = map[crypto.PublicKey]uint64{}
		for _, u := range n.users {
			a, _ := r.Account(u.Public().Address())
			n2.nonce[u.Public()] = a.Nonce
		}
		n2.commit(t, r, n2.tx(n.users[0], &types.KVPut{Key: "after-crash", Value: "ok"}))
		r.Close()
	}
}
