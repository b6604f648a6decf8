package ledger

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/types"
)

// TestPruneLedger: a pruned ledger answers reads below what it keeps with
// the oldest height that has them, keeps serving (and proving) everything
// above, still refuses a replay of a pruned transaction, and audits what
// it holds.
func TestPruneLedger(t *testing.T) {
	n := newNet(2, 1_000_000)
	fs := vfs.NewMem()
	l, err := Open(Options{Dir: "l", FS: fs, CacheBytes: 8 << 20, Prunable: true}, n.g)
	if err != nil {
		t.Fatal(err)
	}
	u, v := n.users[0], n.users[1]
	var first *types.Tx
	for i := 0; i < 30; i++ {
		tx := n.tx(u, &types.KVPut{Key: "k", Value: fmt.Sprint("v", i%3)})
		if first == nil {
			first = tx
		}
		n.commit(t, l, tx, n.tx(v, &types.Transfer{To: u.Public().Address(), Amount: 1}))
	}
	r := Retention{StateHeights: 5, BodyHeights: 10}
	for {
		st, err := l.PruneStep(r, 7)
		if err != nil {
			t.Fatal(err)
		}
		if !st.More {
			break
		}
	}
	kept := l.Retained()
	if kept.StateFrom != 26 || kept.BodiesFrom != 21 {
		t.Fatalf("retained %+v, want state from 26 and bodies from 21", kept)
	}
	wantPruned := func(what string, err error, oldest uint64) {
		t.Helper()
		if o, ok := HeightPruned(err); !ok || o != oldest {
			t.Fatalf("%s: %v, want a pruned answer naming %d", what, err, oldest)
		}
	}
	_, _, _, err = l.Block(20)
	wantPruned("block 20", err, 21)
	if _, _, _, err := l.Block(21); err != nil {
		t.Fatalf("block 21: %v", err)
	}
	_, err = l.Tx(first.Hash())
	wantPruned("tx of block 1", err, 21)
	_, err = l.KVAt("k", 25)
	wantPruned("kv at 25", err, 26)
	_, err = l.KVHistory("k", 3, 10)
	wantPruned("history from 3", err, 26)
	_, err = l.Prove(types.KVKey("k"), 10)
	wantPruned("proof at 10", err, 26)
	for h := uint64(26); h <= 30; h++ {
		sp, err := l.Prove(types.KVKey("k"), h)
		if err != nil {
			t.Fatalf("prove at %d: %v", h, err)
		}
		if err := VerifyStateProof(n.g.ChainID, l.Validators(), sp); err != nil {
			t.Fatalf("proof at %d: %v", h, err)
		}
	}
	// The replay check still knows the pruned transaction.
	if ok, err := l.TxCommitted(first.Hash()); err != nil || !ok {
		t.Fatalf("pruned tx committed: %v %v", ok, err)
	}
	_, rs := n.commit(t, l, first)
	if rs[0].Code != types.CodeReplay {
		t.Fatalf("replay of a pruned tx: receipt %s, want %s", rs[0].Code, types.CodeReplay)
	}
	rep, err := l.Audit(context.Background(), AuditOptions{})
	if err != nil || !rep.OK || rep.Height != 31 || rep.BodiesFrom != 21 || rep.StateFrom != 26 {
		t.Fatalf("audit of a pruned ledger: %+v %v", rep, err)
	}
	if _, err := l.Audit(context.Background(), AuditOptions{Replay: true}); err == nil {
		t.Fatal("a replay audit ran on a pruned ledger")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = n.open(t, fs, "l")
	defer l.Close()
	if got := l.Retained(); got != kept {
		t.Fatalf("retained after reopening %+v, want %+v", got, kept)
	}
	_, _, _, err = l.Block(3)
	wantPruned("block 3 after reopening", err, 21)
}

// BenchmarkCommitWhilePruning measures the time per block (propose and
// commit of 200 kv writes over 20,000 keys) on an archive ledger, on one
// that keeps the pruning records but does not prune, and on one with the
// pruner running beside the committer as a node runs it (woken every 10
// heights; state and bodies of the last 10 heights kept). commit-ms/op is
// the commit alone, the part a pruning batch can make wait.
func BenchmarkCommitWhilePruning(b *testing.B) {
	for _, mode := range []string{"archive", "tracked", "pruning"} {
		b.Run(mode, func(b *testing.B) {
			prune := mode == "pruning"
			n := newNet(1, 1<<60)
			l, err := Open(Options{Dir: b.TempDir(), CacheBytes: 64 << 20, Prunable: mode != "archive"}, n.g)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			u := n.users[0]
			var commit time.Duration
			block := func(i int) {
				txs := make([]*types.Tx, 200)
				for j := range txs {
					txs[j] = n.tx(u, &types.KVPut{Key: fmt.Sprint("key", (i*200+j)%20000), Value: fmt.Sprint(i)})
				}
				blk, p, err := l.Propose(txs, 0, l.Head().Time+1000, n.vkeys[l.Validators().Proposer(l.Head().Height+1, 0)].Public(), execute.Options{})
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if err := l.Commit(blk, n.certify(blk, 3), p); err != nil {
					b.Fatal(err)
				}
				commit += time.Since(start)
			}
			for i := 0; i < 200; i++ {
				block(i)
			}
			// The pruner runs as a node runs it: woken every 10 commits,
			// then batches until nothing is left.
			wake, done := make(chan struct{}, 1), make(chan struct{})
			go func() {
				defer close(done)
				for range wake {
					for more := true; more; {
						start := time.Now()
						st, err := l.PruneStep(Retention{StateHeights: 10, BodyHeights: 10}, 2000)
						if err != nil {
							b.Error(err)
							return
						}
						more = st.More
						if more {
							time.Sleep(min(time.Since(start), time.Second)) // as internal/node's pruner rests
						}
					}
				}
			}()
			b.ResetTimer()
			commit = 0
			for i := 0; i < b.N; i++ {
				block(200 + i)
				if prune && i%10 == 9 {
					select {
					case wake <- struct{}{}:
					default:
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(commit.Microseconds())/1000/float64(b.N), "commit-ms/op")
			close(wake)
			<-done
		})
	}
}
