package ledger

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/types"
)

var (
	diskHeights = flag.Int("disk.heights", 0, "run TestDiskUseUnderPruning over this many heights (0: skip)")
	diskTxs     = flag.Int("disk.txs", 200, "kv.put per height in TestDiskUseUnderPruning")
	diskKeys    = flag.Int("disk.keys", 8000, "the keys TestDiskUseUnderPruning rewrites")
)

// TestDiskUseUnderPruning measures bytes on disk over a long run at a
// steady load (each height: -disk.txs kv.put rewriting keys of a fixed set
// of -disk.keys, so the live state does not grow), archive versus pruned (state
// and bodies of the last 100 heights, the pruner every 10 heights in its
// own goroutine, as a node runs it). It prints a table; it asserts that
// the pruned ledger's disk use over the second half of the run stays
// within 1.5 times its size at the half, while the archive grows.
// go test ./internal/ledger -run TestDiskUseUnderPruning -disk.heights 1500 -v
func TestDiskUseUnderPruning(t *testing.T) {
	if *diskHeights <= 0 {
		t.Skip("long run: -disk.heights N")
	}
	heights := *diskHeights
	type row struct {
		height        int
		archive, prun uint64
	}
	rows := make([]row, 0, heights/100+1)
	run := func(prune bool, record func(h int, bytes uint64)) time.Duration {
		n := newNet(1, 1<<60)
		l, err := Open(Options{Dir: t.TempDir(), CacheBytes: 64 << 20, Prunable: prune}, n.g)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		u := n.users[0]
		r := Retention{StateHeights: 100, BodyHeights: 100}
		wake, done := make(chan struct{}, 1), make(chan struct{})
		go func() {
			defer close(done)
			for range wake {
				for more := true; more; {
					start := time.Now()
					st, err := l.PruneStep(r, 5000)
					if err != nil {
						t.Error(err)
						return
					}
					more = st.More
					if more {
						time.Sleep(min(time.Since(start), time.Second)) // as internal/node's pruner rests
					}
				}
			}
		}()
		var commit time.Duration
		for h := 1; h <= heights; h++ {
			txs := make([]*types.Tx, *diskTxs)
			for j := range txs {
				txs[j] = n.tx(u, &types.KVPut{Key: fmt.Sprint("key", (h*len(txs)+j)%*diskKeys), Value: fmt.Sprint("value at ", h)})
			}
			blk, p, err := l.Propose(txs, 0, l.Head().Time+1000, n.vkeys[l.Validators().Proposer(l.Head().Height+1, 0)].Public(), execute.Options{})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if err := l.Commit(blk, n.certify(blk, 3), p); err != nil {
				t.Fatal(err)
			}
			commit += time.Since(start)
			if prune && h%10 == 0 {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
			if h%100 == 0 {
				record(h, l.db.Metrics().DiskSpaceUsage())
			}
		}
		close(wake)
		<-done
		return commit / time.Duration(heights)
	}
	archiveCommit := run(false, func(h int, b uint64) { rows = append(rows, row{height: h, archive: b}) })
	i := 0
	prunedCommit := run(true, func(h int, b uint64) { rows[i].prun = b; i++ })
	t.Logf("%8s %14s %14s", "height", "archive bytes", "pruned bytes")
	for _, r := range rows {
		t.Logf("%8d %14d %14d", r.height, r.archive, r.prun)
	}
	t.Logf("mean commit: archive %v, pruned %v", archiveCommit, prunedCommit)
	half, last := rows[len(rows)/2], rows[len(rows)-1]
	if float64(last.prun) > 1.5*float64(half.prun) {
		t.Errorf("pruned ledger grew from %d bytes at height %d to %d at %d", half.prun, half.height, last.prun, last.height)
	}
	if last.archive <= half.archive {
		t.Errorf("archive did not grow (%d -> %d): the load is not writing", half.archive, last.archive)
	}
}
