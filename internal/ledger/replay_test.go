package ledger

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/types"
)

// In blocks large enough for the replay answers to be read ahead, a
// replayed transaction (committed earlier, or repeated within the block)
// still gets its replay receipt, and a block that carries one is
// validated to the same roots by a second ledger.
func TestReplaysInLargeBlocks(t *testing.T) {
	n := newNet(3*minPrefetch, 1000)
	l := n.open(t, vfs.NewMem(), "a")
	defer l.Close()
	m := n.open(t, vfs.NewMem(), "b")
	defer m.Close()
	var first []*types.Tx
	for i, u := range n.users[:2*minPrefetch] {
		first = append(first, n.tx(u, &types.Transfer{To: n.users[(i+1)%len(n.users)].Public().Address(), Amount: 1}))
	}
	blk, rs := n.commit(t, l, first...)
	if len(blk.Txs) != len(first) {
		t.Fatalf("block 1 carries %d txs", len(blk.Txs))
	}
	cert := n.certify(blk, 3)
	if err := m.Commit(blk, cert, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		wantReceipt(t, r, true, "")
	}
	// Block 2: new transfers from the other users, then one committed
	// transfer again and one of the new ones twice.
	var second []*types.Tx
	for _, u := range n.users[2*minPrefetch:] {
		second = append(second, n.tx(u, &types.Transfer{To: n.users[0].Public().Address(), Amount: 1}))
	}
	second = append(second, first[5], second[3])
	blk, rs = n.commit(t, l, second...)
	if len(blk.Txs) != len(second) {
		t.Fatalf("block 2 carries %d txs, want %d", len(blk.Txs), len(second))
	}
	for _, r := range rs[:len(rs)-2] {
		wantReceipt(t, r, true, "")
	}
	wantReceipt(t, rs[len(rs)-2], false, types.CodeReplay)
	wantReceipt(t, rs[len(rs)-1], false, types.CodeReplay)
	p, err := m.Validate(blk, execute.Options{})
	if err != nil {
		t.Fatalf("a second ledger does not validate the block: %v", err)
	}
	if p.StateRoot != blk.Header.StateRoot {
		t.Fatal("state roots differ")
	}
}
