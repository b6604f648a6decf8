package ledger

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/types"
)

// closedNet is newNet with a closed permission table: transfers are open,
// kv.put and record need the writers role (user 0), governance needs two of
// the three governors (users 1, 2, 3), every other type is refused.
func closedNet() *net {
	n := newNet(5, 1000)
	n.g.Params.Permissions = types.Permissions{
		"transfer": {types.RoleAnyone}, "kv.put": {"writers"}, "record": {"writers"},
		"role.grant": {types.RoleGovernors}, "role.revoke": {types.RoleGovernors},
	}
	n.g.Params.GovernanceThreshold = 2
	addr := func(i int) crypto.Address { return n.users[i].Public().Address() }
	n.g.Roles = []types.Role{
		{Name: "writers", Members: []crypto.Address{addr(0)}},
		{Name: types.RoleGovernors, Members: []crypto.Address{addr(1), addr(2), addr(3)}},
	}
	return n
}

// A proposer that includes a transaction its sender may not submit makes a
// block every honest validator refuses: the proposer here runs the same
// chain with its permission table edited to let everyone write (a Byzantine
// or misconfigured proposer), and its block fails the honest ledger's
// Validate with the unauthorized tx named; the honest proposer leaves the
// same tx out.
func TestUnauthorizedTxMakesBlockInvalid(t *testing.T) {
	honestNet := closedNet()
	honest := honestNet.open(t, vfs.NewMem(), "honest")
	defer honest.Close()
	byzNet := closedNet()
	byzNet.g.Params.Permissions = types.OpenPermissions()
	byz := byzNet.open(t, vfs.NewMem(), "byz")
	defer byz.Close()

	outsider := honestNet.users[4]
	tx := honestNet.tx(outsider, &types.KVPut{Key: "k", Value: "v"})

	if err := execute.Authorize(honest, honestNet.g.ChainID, honestNet.g.Params, tx); !errors.Is(err, types.ErrUnauthorized) {
		t.Fatalf("admission rule: %v, want unauthorized", err)
	}
	vs := honest.Validators()
	proposer := honestNet.vkeys[vs.Proposer(1, 0)].Public()
	blk, _, err := byz.Propose([]*types.Tx{tx}, 0, honest.Head().Time+1000, proposer, execute.Options{})
	if err != nil {
		t.Fatalf("byzantine propose: %v", err)
	}
	if len(blk.Txs) != 1 {
		t.Fatalf("the byzantine proposer kept %d txs", len(blk.Txs))
	}
	_, err = honest.Validate(blk, execute.Options{})
	var inv *execute.InvalidTxError
	if !errors.As(err, &inv) || inv.Index != 0 || inv.Err.Code != types.CodeUnauthorized {
		t.Fatalf("honest validate: %v, want tx 0 unauthorized", err)
	}
	if honest.Head().Height != 0 {
		t.Fatal("the refused block changed the head")
	}

	// The honest proposer drops it, and keeps an authorized writer's put.
	writer := honestNet.tx(honestNet.users[0], &types.KVPut{Key: "k", Value: "v"})
	blk, p, err := honest.Propose([]*types.Tx{tx, writer}, 0, honest.Head().Time+1000, proposer, execute.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(blk.Txs) != 1 || blk.Txs[0].Hash() != writer.Hash() || len(p.Dropped) != 1 || p.Dropped[0].Err.Code != types.CodeUnauthorized {
		t.Fatalf("honest proposal: %d txs, dropped %+v", len(blk.Txs), p.Dropped)
	}
	// Anyone may transfer; a type the table does not name is nobody's.
	for _, c := range []struct {
		p    types.Payload
		want error
	}{
		{&types.Transfer{To: honestNet.users[0].Public().Address(), Amount: 1}, nil},
		{&types.KVDelete{Key: "k"}, types.ErrUnauthorized},
	} {
		tx := honestNet.txNonce(outsider, 1, c.p)
		if err := execute.Authorize(honest, honestNet.g.ChainID, honestNet.g.Params, tx); !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Errorf("%s by an outsider: %v, want %v", tx.Type(), err, c.want)
		}
	}
}

// Governance: a grant needs two governors; once granted, the account may
// write; a revoke takes it back; revoking governors stops at the threshold.
func TestGovernanceChangesRoles(t *testing.T) {
	n := closedNet()
	l := n.open(t, vfs.NewMem(), "l")
	defer l.Close()
	outsider := n.users[4]
	grant := func(sender *crypto.PrivateKey, p types.Payload, approvers ...*crypto.PrivateKey) *types.Tx {
		n.nonce[sender.Public()]++
		tx := &types.Tx{ChainID: n.g.ChainID, Sender: sender.Public(), Nonce: n.nonce[sender.Public()], Timestamp: 1_700_000_000_000, Payload: p}
		for _, a := range approvers {
			if err := types.Approve(tx, a); err != nil {
				t.Fatal(err)
			}
		}
		tx.Sign(sender)
		return tx
	}
	writers := func(a crypto.Address) types.RoleChange {
		return types.RoleChange{Role: "writers", Address: a, Approvals: []types.Approval{}}
	}
	out := outsider.Public().Address()

	// One governor alone is not enough: the proposer leaves it out.
	alone := grant(n.users[1], &types.RoleGrant{RoleChange: writers(out)})
	if err := execute.Authorize(l, n.g.ChainID, n.g.Params, alone); !errors.Is(err, types.ErrUnauthorized) {
		t.Fatalf("grant by one governor: %v", err)
	}
	n.nonce[n.users[1].Public()]-- // never committed
	// An approval by a non-governor does not count.
	byOutsider := grant(n.users[1], &types.RoleGrant{RoleChange: writers(out)}, n.users[0])
	if err := execute.Authorize(l, n.g.ChainID, n.g.Params, byOutsider); !errors.Is(err, types.ErrUnauthorized) {
		t.Fatalf("grant approved by a non-governor: %v", err)
	}
	// An approval for another transaction (other nonce) does not verify.
	moved := grant(n.users[1], &types.RoleGrant{RoleChange: writers(out)}, n.users[2])
	moved.Nonce++
	moved.Sign(n.users[1])
	if err := execute.Authorize(l, n.g.ChainID, n.g.Params, moved); !errors.Is(err, types.ErrUnauthorized) {
		t.Fatalf("grant with a replayed approval: %v", err)
	}
	n.nonce[n.users[1].Public()] = 0

	ok := grant(n.users[1], &types.RoleGrant{RoleChange: writers(out)}, n.users[2])
	put := n.txNonce(outsider, 1, &types.KVPut{Key: "k", Value: "v"})
	blk, rcs := n.commit(t, l, ok, put)
	if len(blk.Txs) != 2 || !rcs[0].OK || !rcs[1].OK {
		t.Fatalf("grant then put in one block: %d txs, receipts %+v %+v", len(blk.Txs), rcs[0], rcs[1])
	}
	n.nonce[outsider.Public()] = 1

	// Granting again fails (and changes nothing); revoke takes it away.
	again := grant(n.users[2], &types.RoleGrant{RoleChange: writers(out)}, n.users[3])
	_, rcs = n.commit(t, l, again)
	wantReceipt(t, rcs[0], false, types.CodeInvalid)
	n.nonce[n.users[2].Public()]--
	revoke := grant(n.users[2], &types.RoleRevoke{RoleChange: writers(out)}, n.users[3])
	_, rcs = n.commit(t, l, revoke)
	wantReceipt(t, rcs[0], true, "")
	late := n.tx(outsider, &types.KVPut{Key: "k", Value: "w"})
	if err := execute.Authorize(l, n.g.ChainID, n.g.Params, late); !errors.Is(err, types.ErrUnauthorized) {
		t.Fatalf("put after revoke: %v", err)
	}

	// Three governors, threshold two: one may go, the second may not.
	gov := func(i int) types.RoleChange {
		return types.RoleChange{Role: types.RoleGovernors, Address: n.users[i].Public().Address(), Approvals: []types.Approval{}}
	}
	_, rcs = n.commit(t, l, grant(n.users[1], &types.RoleRevoke{RoleChange: gov(3)}, n.users[2]))
	wantReceipt(t, rcs[0], true, "")
	_, rcs = n.commit(t, l, grant(n.users[1], &types.RoleRevoke{RoleChange: gov(2)}, n.users[2]))
	wantReceipt(t, rcs[0], false, types.CodeInvalid)

	rep, err := l.Audit(t.Context(), AuditOptions{Replay: true, ScratchDir: t.TempDir()})
	if err != nil || !rep.OK {
		t.Fatalf("audit with replay: %+v %v", rep, err)
	}
}

// Fees: a successful transaction pays PerTx + PerKiB per started KiB +
// its type's extra, burned; a failed one pays nothing; balances plus the
// burned total stay the genesis supply; a sender that cannot pay the fee
// fails with insufficient_balance.
func TestFeesAreBurnedAndBalance(t *testing.T) {
	n := newNet(3, 100)
	n.g.Params.Fees = &types.Fees{PerTx: 2, PerKiB: 3, Types: map[string]uint64{"record": 5}}
	l := n.open(t, vfs.NewMem(), "l")
	defer l.Close()
	a, b, c := n.users[0], n.users[1], n.users[2]

	tr := n.tx(a, &types.Transfer{To: b.Public().Address(), Amount: 10})
	rec := n.tx(a, &types.Record{Document: []byte(`{"x":1}`)})
	conflict := n.txNonce(b, 1, &types.KVPut{Key: "k", Value: "v", ExpectVersion: u64p(7)})
	big := n.tx(c, &types.KVPut{Key: "big", Value: string(make([]byte, 1500))})
	_, rcs := n.commit(t, l, tr, rec, conflict, big)
	wantReceipt(t, rcs[0], true, "")
	wantReceipt(t, rcs[1], true, "")
	wantReceipt(t, rcs[2], false, types.CodeVersionConflict)
	wantReceipt(t, rcs[3], true, "")
	if types.FeeOf(n.g.Params.Fees, tr) != 5 || types.FeeOf(n.g.Params.Fees, rec) != 10 || types.FeeOf(n.g.Params.Fees, big) != 8 {
		t.Fatalf("fees %d %d %d", types.FeeOf(n.g.Params.Fees, tr), types.FeeOf(n.g.Params.Fees, rec), types.FeeOf(n.g.Params.Fees, big))
	}
	if got := balance(t, l, a).Balance; got != 100-10-5-10 {
		t.Errorf("a: %d", got)
	}
	if got := balance(t, l, b).Balance; got != 110 {
		t.Errorf("b (its failed put is free): %d", got)
	}
	if got := balance(t, l, c).Balance; got != 92 {
		t.Errorf("c: %d", got)
	}
	burned := func() uint64 {
		v, found, err := l.Get(types.BurnedKey())
		if err != nil || !found {
			t.Fatalf("burned total: %v %v", found, err)
		}
		x, err := types.DecodeU64(v)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	if got := burned(); got != 23 {
		t.Errorf("burned %d, want 23", got)
	}
	var sum uint64
	for _, u := range n.users {
		sum += balance(t, l, u).Balance
	}
	if sum+burned() != 300 {
		t.Errorf("balances %d + burned %d != supply 300", sum, burned())
	}

	// The fee comes first: a transfer of everything fails for want of it.
	all := n.tx(c, &types.Transfer{To: a.Public().Address(), Amount: 92})
	_, rcs = n.commit(t, l, all)
	wantReceipt(t, rcs[0], false, types.CodeInsufficientBalance)
	if got := balance(t, l, c); got.Balance != 92 || got.Nonce != 1 {
		t.Errorf("c after its failed transfer: %+v", got)
	}
}
