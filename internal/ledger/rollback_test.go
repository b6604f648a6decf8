package ledger

import (
	"context"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairn-db/cairn/types"
)

// TestRollback: a ledger rolled back to height 6 holds exactly what a
// ledger that only ever committed the first 6 blocks holds (block store
// and state records compared key by key), audits clean, takes the removed
// blocks again, and ends where it was.
func TestRollback(t *testing.T) {
	n := newNet(3, 1_000_000)
	fs := vfs.NewMem()
	a, err := Open(Options{Dir: "a", FS: fs, CacheBytes: 8 << 20, Prunable: true}, n.g)
	if err != nil {
		t.Fatal(err)
	}
	u, v, w := n.users[0], n.users[1], n.users[2]
	var blocks []*types.Block
	var certs []*types.Certificate
	for i := 0; i < 10; i++ {
		txs := []*types.Tx{
			n.tx(u, &types.KVPut{Key: fmt.Sprint("k", i%4), Value: fmt.Sprint("v", i%3)}),
			n.tx(v, &types.Transfer{To: w.Public().Address(), Amount: 5}),
		}
		if i == 8 {
			txs = append(txs, blocks[2].Txs[0]) // a replayed copy
		}
		blk, _ := n.commit(t, a, txs...)
		c, err := a.Store().Certificate(blk.Header.Height)
		if err != nil {
			t.Fatal(err)
		}
		blocks, certs = append(blocks, blk), append(certs, c)
	}
	head := a.Head()
	if _, err := a.Rollback(head.Height); err == nil {
		t.Fatal("rolled back to the head")
	}
	// Read the latest account (it is cached now); after the rollback the
	// same ledger answers the rolled-back value, before it is reopened.
	before, err := a.Account(w.Public().Address())
	if err != nil {
		t.Fatal(err)
	}
	from, err := a.Rollback(6)
	if err != nil || from != 10 {
		t.Fatalf("rollback: from %d, %v", from, err)
	}
	after, err := a.Account(w.Public().Address())
	if err != nil || after.Balance != before.Balance-4*5 {
		t.Fatalf("balance after the rollback: %d (%v), want %d", after.Balance, err, before.Balance-4*5)
	}
	a.Close()

	b, err := Open(Options{Dir: "b", FS: fs, CacheBytes: 8 << 20}, n.g)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := 0; i < 6; i++ {
		if err := b.Commit(blocks[i], certs[i], nil); err != nil {
			t.Fatal(err)
		}
	}
	a = n.open(t, fs, "a")
	defer a.Close()
	if a.Head() != b.Head() {
		t.Fatalf("head after rollback %+v, want %+v", a.Head(), b.Head())
	}
	for _, r := range [][2]string{{"A", "Z"}, {"sh", "si"}, {"sl", "sm"}, {"sr", "ss"}} {
		if bad, err := sameKeyspace(a.db, b.db, []byte(r[0]), []byte(r[1])); err != nil || bad != "" {
			t.Fatalf("records [%s, %s) differ from a ledger that stopped at 6: %s %v", r[0], r[1], bad, err)
		}
	}
	rep, err := a.Audit(context.Background(), AuditOptions{Replay: true})
	if err != nil || !rep.OK || rep.Height != 6 {
		t.Fatalf("audit after rollback: %+v %v", rep, err)
	}
	for i := 6; i < 10; i++ {
		if err := a.Commit(blocks[i], certs[i], nil); err != nil {
			t.Fatalf("recommit %d: %v", i+1, err)
		}
	}
	if a.Head() != head {
		t.Fatalf("head after recommitting %+v, want %+v", a.Head(), head)
	}
}
