package mempool

import (
	"testing"

	"github.com/cairn-db/cairn/types"
)

// Admission applies the chain's permission table on committed state: a
// kv.put by an account without the writers role is refused as
// unauthorized, and taken once the role is in the state.
func TestAdmissionRefusesUnauthorized(t *testing.T) {
	st := newMapState()
	k := key(1)
	st.set(addr(k), types.Account{Balance: 100})
	m := newPool(t, st, func(c *Config) {
		c.Params.Permissions = types.Permissions{"transfer": {types.RoleAnyone}, "kv.put": {"writers"}}
	})
	wantCode(t, m.Add(putTx(k, 1, "a")), types.ErrUnauthorized)
	mustAdd(t, m, transferTx(k, 1, 5))
	st.setKey(types.RoleMemberKey("writers", addr(k)), []byte{types.RoleMember})
	mustAdd(t, m, putTx(k, 2, "a"))
	checkInvariants(t, m)
}

// The balance pre-check counts fees: each pending tx takes its amount plus
// its fee, so a sender cannot queue more than its balance pays for, even
// with transactions that move no funds.
func TestAdmissionCountsFees(t *testing.T) {
	st := newMapState()
	k := key(1)
	st.set(addr(k), types.Account{Balance: 25})
	m := newPool(t, st, func(c *Config) { c.Params.Fees = &types.Fees{PerTx: 5} })
	mustAdd(t, m, transferTx(k, 1, 10)) // 15
	mustAdd(t, m, putTx(k, 2, "a"))     // 20
	wantCode(t, m.Add(transferTx(k, 3, 1)), types.ErrInsufficientBalance)
	mustAdd(t, m, putTx(k, 3, "b")) // 25: exactly the balance
	wantCode(t, m.Add(putTx(k, 4, "c")), types.ErrInsufficientBalance)
	checkInvariants(t, m)
}

// When a block revokes an account's role, its pending transactions that
// the role allowed leave the pool (no block could carry them), and the
// ones it may still submit stay, re-formed behind the gap.
func TestRevokeDropsPendingTxs(t *testing.T) {
	st := newMapState()
	k, gov := key(1), key(2)
	st.set(addr(k), types.Account{Balance: 100})
	st.setKey(types.RoleMemberKey("writers", addr(k)), []byte{types.RoleMember})
	m := newPool(t, st, func(c *Config) {
		c.Params.Permissions = types.Permissions{"transfer": {types.RoleAnyone}, "kv.put": {"writers"}}
	})
	put, tr := putTx(k, 1, "a"), transferTx(k, 2, 5)
	mustAdd(t, m, put, tr)
	revoke := &types.Tx{ChainID: testChain, Nonce: 1, Payload: &types.RoleRevoke{RoleChange: types.RoleChange{Role: "writers", Address: addr(k), Approvals: []types.Approval{}}}}
	revoke.Sign(gov)
	st.setKey(types.RoleMemberKey("writers", addr(k)), []byte{types.RoleNotMember})
	if err := m.Update(1, []*types.Tx{revoke}); err != nil {
		t.Fatal(err)
	}
	if m.Has(put.Hash()) || !m.Has(tr.Hash()) {
		t.Fatalf("after the revoke: put pending %v, transfer pending %v; want only the transfer", m.Has(put.Hash()), m.Has(tr.Hash()))
	}
	if got := m.Reap(10, 1<<20); len(got) != 0 {
		t.Fatalf("reaped %d txs; the transfer waits behind the dropped put's nonce", len(got))
	}
	checkInvariants(t, m)
}
