package snapshot

import (
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

// A node that joins by state sync after a validator set change learns the
// sets in force before its snapshot (walked from genesis through the
// provider's certified headers), keeps them across a reopen, and commits
// the certified blocks after the snapshot against the changed set.
func TestStateSyncAfterASetChange(t *testing.T) {
	g, vkeys, ukeys := newGenesis(4)
	g.Params.GovernanceThreshold = 1
	g.Roles = []types.Role{{Name: types.RoleGovernors, Members: []crypto.Address{ukeys[0].Public().Address()}}}
	c := &chain{g: g, vkeys: vkeys, users: ukeys, nonce: map[crypto.PublicKey]uint64{}}
	c.l = openLedger(t, g, tempDir(t, "provider"))
	t.Cleanup(func() { c.l.Close() })
	// Validator 0 (one of the three signers) to power 2: in force at 3.
	rs := c.commit(t, false, c.tx(ukeys[0], &types.ValidatorUpdate{Op: types.ValidatorSetPower, PublicKey: vkeys[0].Public(), Power: 2, Approvals: []types.Approval{}}))
	if !rs[0].OK {
		t.Fatalf("validator.update: %s", rs[0].Reason)
	}
	for i := 0; i < 5; i++ {
		c.commit(t, false, c.tx(ukeys[1], &types.KVPut{Key: "k", Value: string(rune('a' + i))}))
	}
	store, err := Open(tempDir(t, "snaps"), 2048)
	if err != nil {
		t.Fatal(err)
	}
	pin := c.l.Pin()
	st, err := store.Take(t.Context(), pin, g.ChainID)
	pin.Close()
	if err != nil {
		t.Fatal(err)
	}
	srv := serveAPI(t, c.l, store)
	c.commit(t, false, c.tx(ukeys[1], &types.KVPut{Key: "after", Value: "x"}))

	var logs logBuffer
	dir := tempDir(t, "joined")
	if _, err := syncInto(t, g, dir, logs.logger(), srv.URL); err != nil {
		t.Fatalf("state sync: %v\n%s", err, logs.String())
	}
	j := openLedger(t, g, dir) // reopened: the walked sets were kept
	defer j.Close()
	for _, h := range []uint64{1, st.Height, st.Height + 1, st.Height + 2} {
		want, _ := c.l.ValidatorsAt(h)
		got, err := j.ValidatorsAt(h)
		if err != nil || got.Hash() != want.Hash() {
			t.Fatalf("joined set of height %d: %v (%v), want %s", h, got, err, want.Hash())
		}
	}
	for i := int(st.Height); i < len(c.blocks); i++ {
		if err := j.Commit(c.blocks[i], c.certs[i], nil); err != nil {
			t.Fatalf("joined ledger refuses certified block %d: %v", i+1, err)
		}
	}
	if j.Head() != c.l.Head() {
		t.Fatalf("joined head %+v, chain head %+v", j.Head(), c.l.Head())
	}
	rep, err := j.Audit(t.Context(), ledger.AuditOptions{})
	if err != nil || !rep.OK {
		t.Fatalf("audit of the joined ledger: %+v %v", rep, err)
	}
}
