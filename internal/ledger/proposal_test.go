package ledger

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/types"
)

// byzantineBlock is the block a faulty proposer would build on top of l's
// head: txs in its chosen order, with the header roots the pre-hardening
// rules gave (each tx named in failed got a failed receipt with that code and
// changed nothing; the others executed). ref, a ledger at the same head,
// executes the others to get their receipts and the state root.
func byzantineBlock(t *testing.T, n *net, ref *Ledger, txs []*types.Tx, failed map[int]types.Code) *types.Block {
	t.Helper()
	var good []*types.Tx
	for i, tx := range txs {
		if _, bad := failed[i]; !bad {
			good = append(good, tx)
		}
	}
	h := ref.Head().Height + 1
	prop := n.vkeys[ref.Validators().Proposer(h, 0)].Public()
	blk, p, err := ref.Propose(good, 0, ref.Head().Time+1000, prop, execute.Options{SkipSignatures: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(blk.Txs) != len(good) {
		t.Fatalf("reference ledger kept %d of %d txs", len(blk.Txs), len(good))
	}
	var rs []*types.Receipt
	j := 0
	for i, tx := range txs {
		if c, bad := failed[i]; bad {
			rs = append(rs, &types.Receipt{TxHash: tx.Hash(), Code: c})
			continue
		}
		rs = append(rs, p.Result.Receipts[j])
		j++
	}
	out := &types.Block{Header: blk.Header, Txs: txs}
	out.Header.TxCount = uint32(len(txs))
	out.Header.TxRoot = out.ComputeTxRoot()
	out.Header.ResultsRoot = types.ResultsRoot(rs)
	return out
}

// A block carrying a transaction that fails the stateless checks (a forged
// signature, another chain's transaction) is invalid: validators refuse it
// and no certificate can commit it.
func TestStatelessInvalidTxMakesBlockInvalid(t *testing.T) {
	n := newNet(2, 100)
	good := n.tx(n.users[0], &types.Transfer{To: n.users[1].Public().Address(), Amount: 1})
	forged := &types.Tx{ChainID: good.ChainID, Sender: good.Sender, Nonce: good.Nonce, Timestamp: good.Timestamp,
		Payload: &types.Transfer{To: n.users[1].Public().Address(), Amount: 99}, Signature: good.Signature}
	other := &types.Tx{ChainID: "other", Nonce: 1, Timestamp: 1, Payload: &types.KVPut{Key: "k", Value: "v"}}
	other.Sign(n.users[1])
	cases := map[string]struct {
		txs    []*types.Tx
		failed map[int]types.Code
	}{
		"bad signature": {[]*types.Tx{forged, good}, map[int]types.Code{0: types.CodeBadSignature}},
		"wrong chain":   {[]*types.Tx{good, other}, map[int]types.Code{1: types.CodeWrongChain}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			l := n.open(t, vfs.NewMem(), "v")
			defer l.Close()
			ref := n.open(t, vfs.NewMem(), "ref")
			defer ref.Close()
			blk := byzantineBlock(t, n, ref, c.txs, c.failed)
			if _, err := l.Validate(blk, execute.Options{}); err == nil {
				t.Fatal("validator accepted a block carrying a stateless-invalid tx")
			}
			if err := l.Commit(blk, n.certify(blk, 3), nil); err == nil || l.Head().Height != 0 {
				t.Fatal("a certificate committed a block carrying a stateless-invalid tx")
			}
		})
	}
}

// A proposer that puts an honest user's nonce-2 tx before its nonce-1 tx
// cannot burn it: the block is invalid, and both txs commit later in order.
func TestNonceReorderCannotBurnATx(t *testing.T) {
	n := newNet(2, 100)
	l := n.open(t, vfs.NewMem(), "v")
	defer l.Close()
	ref := n.open(t, vfs.NewMem(), "ref")
	defer ref.Close()
	to := n.users[1].Public().Address()
	first := n.tx(n.users[0], &types.Transfer{To: to, Amount: 1})
	second := n.tx(n.users[0], &types.Transfer{To: to, Amount: 2})

	blk := byzantineBlock(t, n, ref, []*types.Tx{second, first}, map[int]types.Code{0: types.CodeBadNonce})
	if _, err := l.Validate(blk, execute.Options{}); err == nil {
		// What the old rules did: commit it, and second is dead forever.
		if err := l.Commit(blk, n.certify(blk, 3), nil); err != nil {
			t.Fatal(err)
		}
		_, rs := n.commit(t, l, second)
		t.Fatalf("a block with a nonce gap is valid; afterwards the user's nonce-2 tx gets %q", rs[0].Code)
	}
	_, rs := n.commit(t, l, first, second)
	wantReceipt(t, rs[0], true, "")
	wantReceipt(t, rs[1], true, "")
	if a := balance(t, l, n.users[0]); a.Nonce != 2 || a.Balance != 97 {
		t.Fatalf("sender = %+v", a)
	}
}

// An honest proposer never includes what would make its block invalid: it
// drops such txs (the caller keeps them pending) and proposes the rest.
func TestProposeDropsInvalidTxs(t *testing.T) {
	n := newNet(2, 100)
	l := n.open(t, vfs.NewMem(), "v")
	defer l.Close()
	to := n.users[1].Public().Address()
	first := n.tx(n.users[0], &types.Transfer{To: to, Amount: 1})
	second := n.tx(n.users[0], &types.Transfer{To: to, Amount: 2})
	forged := &types.Tx{ChainID: first.ChainID, Sender: first.Sender, Nonce: 1, Timestamp: first.Timestamp,
		Payload: &types.KVPut{Key: "k", Value: "v"}, Signature: first.Signature}
	other := &types.Tx{ChainID: "other", Nonce: 1, Timestamp: 1, Payload: &types.KVPut{Key: "k", Value: "v"}}
	other.Sign(n.users[1])
	stale := n.txNonce(n.users[1], 0, &types.KVPut{Key: "k", Value: "v"})

	prop := n.vkeys[l.Validators().Proposer(1, 0)].Public()
	blk, p, err := l.Propose([]*types.Tx{forged, second, other, first, stale}, 0, n.g.GenesisTime+1, prop, execute.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(blk.Txs) != 1 || blk.Txs[0] != first {
		t.Fatalf("proposed %d txs, want only the nonce-1 transfer", len(blk.Txs))
	}
	want := map[crypto.Hash]types.Code{forged.Hash(): types.CodeBadSignature, second.Hash(): types.CodeBadNonce,
		other.Hash(): types.CodeWrongChain, stale.Hash(): types.CodeBadNonce}
	if len(p.Dropped) != len(want) {
		t.Fatalf("dropped %+v", p.Dropped)
	}
	for _, d := range p.Dropped {
		if want[d.Tx.Hash()] != d.Err.Code {
			t.Errorf("dropped %s with %q, want %q", d.Tx.Hash(), d.Err.Code, want[d.Tx.Hash()])
		}
	}
	// The proposal is valid for every validator.
	v := n.open(t, vfs.NewMem(), "other")
	defer v.Close()
	if _, err := v.Validate(blk, execute.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := l.Commit(blk, n.certify(blk, 3), p); err != nil {
		t.Fatal(err)
	}
	_, rs := n.commit(t, l, second)
	wantReceipt(t, rs[0], true, "")
}
