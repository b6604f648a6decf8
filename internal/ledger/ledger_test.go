package ledger

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/types"
)

func wantReceipt(t *testing.T, r *types.Receipt, ok bool, code types.Code) {
	t.Helper()
	if r.OK != ok || r.Code != code {
		t.Fatalf("receipt ok=%v code=%q (%s), want ok=%v code=%q", r.OK, r.Code, r.Reason, ok, code)
	}
}

func balance(t *testing.T, l *Ledger, k *crypto.PrivateKey) types.Account {
	t.Helper()
	a, err := l.Account(k.Public().Address())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestTransfersAndDoubleSpend(t *testing.T) {
	n := newNet(3, 100)
	l := n.open(t, vfs.NewMem(), "db")
	defer l.Close()
	alice, bob, carol := n.users[0], n.users[1], n.users[2]

	pay := n.tx(alice, &types.Transfer{To: bob.Public().Address(), Amount: 60})
	_, rs := n.commit(t, l, pay)
	wantReceipt(t, rs[0], true, "")

	// The same 60 again: an overdraft. Then the first transfer replayed, a
	// stale nonce and a future nonce. None may change state; the last two
	// may not even be in a block (the proposer leaves them out).
	before := l.Head().StateRoot
	over := n.tx(alice, &types.Transfer{To: carol.Public().Address(), Amount: 60})
	stale := n.txNonce(alice, 1, &types.Transfer{To: carol.Public().Address(), Amount: 1})
	future := n.txNonce(alice, 9, &types.Transfer{To: carol.Public().Address(), Amount: 1})
	blk, rs := n.commit(t, l, over, pay, stale, future)
	if len(blk.Txs) != 2 {
		t.Fatalf("block carries %d txs, want the overdraft and the replay", len(blk.Txs))
	}
	wantReceipt(t, rs[0], false, types.CodeInsufficientBalance)
	wantReceipt(t, rs[1], false, types.CodeReplay)
	if l.Head().StateRoot != before {
		t.Fatalf("failed transactions changed the state root")
	}
	if a := balance(t, l, alice); a.Balance != 40 || a.Nonce != 1 {
		t.Fatalf("alice = %+v, want balance 40 nonce 1", a)
	}
	if b := balance(t, l, bob); b.Balance != 160 || b.Nonce != 0 {
		t.Fatalf("bob = %+v", b)
	}
	if c := balance(t, l, carol); c.Balance != 100 {
		t.Fatalf("carol = %+v", c)
	}

	// The failed overdraft did not consume nonce 2; once funded, a new tx with
	// nonce 2 succeeds, and the failed one can still never be replayed.
	n.nonce[alice.Public()] = 1
	ok := n.tx(alice, &types.Transfer{To: carol.Public().Address(), Amount: 40})
	_, rs = n.commit(t, l, ok, over)
	wantReceipt(t, rs[0], true, "")
	wantReceipt(t, rs[1], false, types.CodeReplay)
	if a := balance(t, l, alice); a.Balance != 0 || a.Nonce != 2 {
		t.Fatalf("alice = %+v", a)
	}

	// Two spends of the same funds in one block: the first wins.
	s1 := n.tx(bob, &types.Transfer{To: alice.Public().Address(), Amount: 100})
	s2 := n.tx(bob, &types.Transfer{To: carol.Public().Address(), Amount: 100})
	_, rs = n.commit(t, l, s1, s2)
	wantReceipt(t, rs[0], true, "")
	wantReceipt(t, rs[1], false, types.CodeInsufficientBalance)

	// The failed tx is in the chain and visible with its reason.
	info, err := l.Tx(over.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if info.Height != 2 || info.Receipt.OK || info.Receipt.Code != types.CodeInsufficientBalance {
		t.Fatalf("tx info %+v receipt %+v", info, info.Receipt)
	}
	hs, _ := l.Store().TxHashes(info.Height)
	hdr, _ := l.Store().Header(info.Height)
	oh := over.Hash()
	if err := merkle.Verify(hdr.TxRoot, oh[:], info.Proof); err != nil {
		t.Fatalf("inclusion proof: %v (block has %d txs)", err, len(hs))
	}
}

func TestKVCompareAndSetAndHistory(t *testing.T) {
	n := newNet(2, 0)
	l := n.open(t, vfs.NewMem(), "db")
	defer l.Close()
	u, v := n.users[0], n.users[1]

	put1 := n.tx(u, &types.KVPut{Key: "voucher/42", Value: "issued", ExpectVersion: u64p(0)})
	_, rs := n.commit(t, l, put1)
	wantReceipt(t, rs[0], true, "")
	if rs[0].Version != 1 {
		t.Fatalf("version %d", rs[0].Version)
	}
	// Redeem once: two redemptions race in one block with the same expected
	// version; exactly one wins.
	r1 := n.tx(u, &types.KVPut{Key: "voucher/42", Value: "redeemed by u", ExpectVersion: u64p(1)})
	r2 := n.tx(v, &types.KVPut{Key: "voucher/42", Value: "redeemed by v", ExpectVersion: u64p(1)})
	again := n.txNonce(v, 1, &types.KVPut{Key: "voucher/42", Value: "x", ExpectVersion: u64p(0)})
	n.nonce[v.Public()] = 0 // both of v's transactions fail and consume nothing
	_, rs = n.commit(t, l, r1, r2, again)
	wantReceipt(t, rs[0], true, "")
	wantReceipt(t, rs[1], false, types.CodeVersionConflict)
	wantReceipt(t, rs[2], false, types.CodeVersionConflict)
	e, err := l.KV("voucher/42")
	if err != nil || e.Value != "redeemed by u" || e.Version != 2 || e.Height != 2 || e.TxHash != r1.Hash() {
		t.Fatalf("kv = %+v, %v", e, err)
	}
	// Unconditional put, then deletes: a tombstone version, not an erase.
	_, rs = n.commit(t, l, n.tx(u, &types.KVPut{Key: "voucher/42", Value: "v3"}))
	wantReceipt(t, rs[0], true, "")
	delStale := n.txNonce(u, 4, &types.KVDelete{Key: "voucher/42", ExpectVersion: u64p(2)})
	del := n.tx(u, &types.KVDelete{Key: "voucher/42", ExpectVersion: u64p(3)})
	delAgain := n.tx(u, &types.KVDelete{Key: "voucher/42"})
	_, rs = n.commit(t, l, delStale, del, delAgain)
	wantReceipt(t, rs[0], false, types.CodeVersionConflict)
	wantReceipt(t, rs[1], true, "")
	wantReceipt(t, rs[2], false, types.CodeNotFound)
	if _, err := l.KV("voucher/42"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	// After a delete, expect_version 0 (absent) succeeds and continues the
	// version sequence.
	_, rs = n.commit(t, l, n.tx(v, &types.KVPut{Key: "voucher/42", Value: "reissued", ExpectVersion: u64p(0)}))
	wantReceipt(t, rs[0], true, "")
	if rs[0].Version != 5 {
		t.Fatalf("version after tombstone = %d, want 5", rs[0].Version)
	}

	for h, want := range map[uint64]string{1: "issued", 2: "redeemed by u", 3: "v3", 5: "reissued"} {
		e, err := l.KVAt("voucher/42", h)
		if err != nil || e.Value != want {
			t.Fatalf("at height %d: %+v %v, want %q", h, e, err, want)
		}
	}
	if _, err := l.KVAt("voucher/42", 4); !errors.Is(err, ErrNotFound) {
		t.Fatalf("at height 4 (deleted): %v", err)
	}
	hist, err := l.KVHistory("voucher/42", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range hist {
		s := e.Value
		if e.Deleted {
			s = "<deleted>"
		}
		got = append(got, s)
		if e.Version != uint64(len(got)) {
			t.Fatalf("history version %d at position %d", e.Version, len(got))
		}
	}
	if strings.Join(got, ",") != "issued,redeemed by u,v3,<deleted>,reissued" {
		t.Fatalf("history %v", got)
	}
}

func TestStateProofsAtPastHeights(t *testing.T) {
	n := newNet(1, 0)
	l := n.open(t, vfs.NewMem(), "db")
	defer l.Close()
	u := n.users[0]
	n.commit(t, l, n.tx(u, &types.KVPut{Key: "a", Value: "1"}))
	n.commit(t, l, n.tx(u, &types.KVPut{Key: "a", Value: "2"}), n.tx(u, &types.KVPut{Key: "b", Value: "x"}))
	vs := l.Validators()

	check := func(key string, h uint64, wantFound bool, wantVal string) *StateProof {
		t.Helper()
		sp, err := l.Prove(types.KVKey(key), h)
		if err != nil {
			t.Fatal(err)
		}
		if sp.Found != wantFound {
			t.Fatalf("%s@%d found=%v", key, h, sp.Found)
		}
		if wantFound {
			e, err := types.DecodeKVEntry(sp.Value)
			if err != nil || e.Value != wantVal {
				t.Fatalf("%s@%d value %+v %v", key, h, e, err)
			}
		}
		if err := VerifyStateProof(n.g.ChainID, vs, sp); err != nil {
			t.Fatalf("%s@%d: %v", key, h, err)
		}
		return sp
	}
	check("a", 1, true, "1")
	check("a", 2, true, "2")
	absent := check("b", 1, false, "") // b exists later, not yet at height 1
	check("never", 2, false, "")

	// A proof of absence cannot be passed off as presence, and a changed
	// value or a proof for another height's header fails.
	forged := *absent
	forged.Found, forged.Value = true, (&types.KVEntry{Version: 1, Value: "x"}).Encode()
	if VerifyStateProof(n.g.ChainID, vs, &forged) == nil {
		t.Fatal("forged membership verified")
	}
	p2 := check("a", 2, true, "2")
	p1 := check("a", 1, true, "1")
	mixed := *p2
	mixed.Value = p1.Value
	if VerifyStateProof(n.g.ChainID, vs, &mixed) == nil {
		t.Fatal("old value verified against new root")
	}
}

func TestCommitRefusesBadBlocks(t *testing.T) {
	n := newNet(2, 100)
	l := n.open(t, vfs.NewMem(), "db")
	defer l.Close()
	n.commit(t, l, n.tx(n.users[0], &types.KVPut{Key: "k", Value: "v"}))
	head := l.Head()
	prop := n.vkeys[l.Validators().Proposer(2, 0)].Public()
	tx := n.tx(n.users[0], &types.Transfer{To: n.users[1].Public().Address(), Amount: 5})
	blk, p, err := l.Propose([]*types.Tx{tx}, 0, head.Time+1, prop, execute.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func() error{
		"two of four signatures": func() error { return l.Commit(blk, n.certify(blk, 2), p) },
		"certificate for another block": func() error {
			other := *blk
			other.Header.Time++
			return l.Commit(blk, n.certify(&other, 3), p)
		},
		"wrong state root": func() error {
			bad := &types.Block{Header: blk.Header, Txs: blk.Txs}
			bad.Header.StateRoot[0] ^= 1
			return l.Commit(bad, n.certify(bad, 3), nil)
		},
		"wrong parent": func() error {
			bad := &types.Block{Header: blk.Header, Txs: blk.Txs}
			bad.Header.ParentHash[0] ^= 1
			return l.Commit(bad, n.certify(bad, 3), nil)
		},
		"tx root does not match txs": func() error {
			bad := &types.Block{Header: blk.Header, Txs: nil}
			return l.Commit(bad, n.certify(bad, 3), nil)
		},
		"not the scheduled proposer": func() error {
			bad := &types.Block{Header: blk.Header, Txs: blk.Txs}
			bad.Header.Proposer = n.vkeys[(l.Validators().Proposer(2, 0)+1)%4].Public()
			return l.Commit(bad, n.certify(bad, 3), nil)
		},
	}
	for name, f := range cases {
		if err := f(); err == nil {
			t.Errorf("%s: committed", name)
		}
		if l.Head() != head {
			t.Fatalf("%s: head moved", name)
		}
	}
	if err := l.Commit(blk, n.certify(blk, 3), p); err != nil {
		t.Fatalf("good block after refusals: %v", err)
	}
}

func TestDeterministicAcrossLedgers(t *testing.T) {
	n := newNet(4, 1000)
	a := n.open(t, vfs.NewMem(), "a")
	defer a.Close()
	b := n.open(t, vfs.NewMem(), "b")
	defer b.Close()
	for h := 0; h < 5; h++ {
		var txs []*types.Tx
		for i, u := range n.users {
			txs = append(txs, n.tx(u, &types.Transfer{To: n.users[(i+1)%4].Public().Address(), Amount: uint64(7 * (h + 1))}))
			txs = append(txs, n.tx(u, &types.KVPut{Key: "k" + string(rune('a'+i)), Value: strings.Repeat("x", h)}))
		}
		blk, _ := n.commit(t, a, txs...)
		p, err := b.Validate(blk, execute.Options{})
		if err != nil {
			t.Fatalf("height %d: second ledger disagrees: %v", h+1, err)
		}
		if err := b.Commit(blk, n.certify(blk, 3), p); err != nil {
			t.Fatal(err)
		}
	}
	if a.Head() != b.Head() {
		t.Fatalf("heads differ: %+v vs %+v", a.Head(), b.Head())
	}
	rep, err := b.Audit(context.Background(), AuditOptions{Replay: true, ScratchDir: t.TempDir()})
	if err != nil || !rep.OK {
		t.Fatalf("audit: %+v %v", rep, err)
	}
}

func TestReopenAndWrongGenesis(t *testing.T) {
	n := newNet(2, 10)
	fs := vfs.NewMem()
	l := n.open(t, fs, "db")
	n.commit(t, l, n.tx(n.users[0], &types.Transfer{To: n.users[1].Public().Address(), Amount: 3}))
	head := l.Head()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = n.open(t, fs, "db")
	if l.Head() != head {
		t.Fatalf("reopened head %+v, want %+v", l.Head(), head)
	}
	l.Close()
	other := newNet(2, 10)
	other.g.ChainID = "another"
	if _, err := Open(Options{Dir: "db", FS: fs}, other.g); err == nil {
		t.Fatal("opened a ledger with a different genesis")
	}
}

// A proposer whose failure reasons are worded differently (another Go
// version, a reworded message) proposes a block that a validator still
// accepts, commits and audits: the results root leaves the reason out.
func TestReasonTextIsOutsideTheResultsRoot(t *testing.T) {
	n := newNet(2, 100)
	a := n.open(t, vfs.NewMem(), "a")
	defer a.Close()
	b := n.open(t, vfs.NewMem(), "b")
	defer b.Close()
	prop := n.vkeys[a.Validators().Proposer(1, 0)].Public()
	txs := []*types.Tx{
		n.tx(n.users[0], &types.Transfer{To: n.users[1].Public().Address(), Amount: 1000}), // overdraft
		n.tx(n.users[1], &types.KVDelete{Key: "absent"}),                                   // not found
		n.txNonce(n.users[0], 1, &types.KVPut{Key: "k", Value: "v"}),                       // the failed tx used no nonce
	}
	blk, p, err := a.Propose(txs, 0, n.g.GenesisTime+1, prop, execute.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reworded := make([]*types.Receipt, len(p.Result.Receipts))
	failed := 0
	for i, r := range p.Result.Receipts {
		c := *r
		if !c.OK {
			failed++
			c.Reason = "in other words: " + c.Reason
		}
		reworded[i] = &c
	}
	if failed != 2 {
		t.Fatalf("want 2 failed receipts, got %d: %+v", failed, p.Result.Receipts)
	}
	blk.Header.ResultsRoot = types.ResultsRoot(reworded)
	vp, err := b.Validate(blk, execute.Options{})
	if err != nil {
		t.Fatalf("validator with other reason strings refuses the block: %v", err)
	}
	if err := b.Commit(blk, n.certify(blk, 3), vp); err != nil {
		t.Fatal(err)
	}
	rep, err := b.Audit(context.Background(), AuditOptions{Replay: true, ScratchDir: t.TempDir()})
	if err != nil || !rep.OK {
		t.Fatalf("audit: %+v %v", rep, err)
	}
	// The validator keeps and serves its own wording.
	ti, err := b.Tx(txs[0].Hash())
	if err != nil {
		t.Fatal(err)
	}
	if rc := ti.Receipt; rc.OK || rc.Code != types.CodeInsufficientBalance || rc.Reason == "" || strings.HasPrefix(rc.Reason, "in other words") {
		t.Fatalf("stored receipt %+v", rc)
	}
}
