package ledger

import (
	"testing"
	"time"

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

// After a restart, once the tx index is in memory, replay checks still
// find every committed transaction: one that succeeded and, the case a
// nonce check would miss, one that failed and so left its nonce unspent.
func TestReplaysAfterReopenWithTheTxFilter(t *testing.T) {
	n := newNet(3, 100)
	fs := vfs.NewMem()
	l := n.open(t, fs, "a")
	a, b := n.users[0], n.users[1]
	ok := n.tx(a, &types.Transfer{To: b.Public().Address(), Amount: 1})
	tooMuch := n.tx(b, &types.Transfer{To: a.Public().Address(), Amount: 150})
	_, rs := n.commit(t, l, ok, tooMuch)
	wantReceipt(t, rs[0], true, "")
	wantReceipt(t, rs[1], false, types.CodeInsufficientBalance)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = n.open(t, fs, "a")
	defer l.Close()
	deadline := time.Now().Add(30 * time.Second)
	for !l.store.TxFilterReady() {
		if time.Now().After(deadline) {
			t.Fatal("tx filter not loaded after 30 s")
		}
		time.Sleep(time.Millisecond)
	}
	// Fund b so that its failed transfer would now succeed if replayed.
	fund := n.tx(n.users[2], &types.Transfer{To: b.Public().Address(), Amount: 99})
	_, rs = n.commit(t, l, fund)
	wantReceipt(t, rs[0], true, "")
	_, rs = n.commit(t, l, ok, tooMuch, fund)
	for _, r := range rs {
		wantReceipt(t, r, false, types.CodeReplay)
	}
}
