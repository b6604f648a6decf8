package execute

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/txfixtures"
	"github.com/cairn-db/cairn/types"
)

// fieldChain runs the txfixtures sample field one block at a time on a map
// state, with the sender (the leader) funded.
type fieldChain struct {
	t     *testing.T
	state mapReader
	k     *crypto.PrivateKey
	nonce uint64
	h     uint64
}

func newFieldChain(t *testing.T) *fieldChain {
	k := txfixtures.Key(0)
	return &fieldChain{t: t, k: k, state: mapReader{string(types.AccountKey(k.Public().Address())): types.Account{Balance: txfixtures.Balance}.Encode()}}
}

func (c *fieldChain) sample(typ types.TxType) types.Payload {
	p, _ := txfixtures.Payload(typ, txfixtures.ChainID, c.k)
	return p
}

// block executes txs (payloads sent by the leader) as the next block and
// returns the receipts; the writes go into the state.
func (c *fieldChain) block(ps ...types.Payload) []*types.Receipt {
	c.t.Helper()
	c.h++
	var txs []*types.Tx
	for _, p := range ps {
		c.nonce++
		tx := &types.Tx{ChainID: txfixtures.ChainID, Nonce: c.nonce, Timestamp: 1, Payload: p}
		tx.Sign(c.k)
		txs = append(txs, tx)
	}
	res, err := Block(c.state, txfixtures.ChainID, types.DefaultParams(), Env{Height: c.h, TimeMs: 1_700_000_000_000}, txs, Options{})
	if err != nil {
		c.t.Fatal(err)
	}
	// The same block on the same state gives the same result.
	again, err := Block(c.state, txfixtures.ChainID, types.DefaultParams(), Env{Height: c.h, TimeMs: 1_700_000_000_000}, txs, Options{})
	if err != nil || len(again.Writes) != len(res.Writes) {
		c.t.Fatalf("second run differs: %v", err)
	}
	for i := range res.Writes {
		if !bytes.Equal(res.Writes[i].Key, again.Writes[i].Key) || !bytes.Equal(res.Writes[i].Value, again.Writes[i].Value) {
			c.t.Fatalf("write %d differs between two runs", i)
		}
	}
	for _, w := range res.Writes {
		c.state[string(w.Key)] = w.Value
	}
	for _, rc := range res.Receipts {
		if !rc.OK {
			c.nonce-- // a failed tx uses no nonce
		}
	}
	return res.Receipts
}

func (c *fieldChain) field() *types.Field {
	c.t.Helper()
	raw, ok := c.state[string(types.FieldKey(txfixtures.FieldID(c.k.Public())))]
	if !ok {
		c.t.Fatal("no field")
	}
	f, err := types.DecodeField(raw)
	if err != nil {
		c.t.Fatal(err)
	}
	return f
}

func (c *fieldChain) refused(p types.Payload, want string) {
	c.t.Helper()
	before := c.field().Encode()
	rc := c.block(p)[0]
	if rc.OK || !strings.Contains(rc.Reason, want) {
		c.t.Fatalf("%s: receipt %+v, want a failure saying %q", p.TxType(), rc, want)
	}
	if !bytes.Equal(c.field().Encode(), before) {
		c.t.Fatalf("%s: a refused transaction changed the field", p.TxType())
	}
}

func TestFieldRules(t *testing.T) {
	c := newFieldChain(t)
	open := c.sample(types.TxFieldOpen).(*types.FieldOpen)

	// Refusals at open.
	late := *open
	late.Expiry = 1
	if rc := c.block(&late)[0]; rc.OK || !strings.Contains(rc.Reason, "expiry 1 is not after") {
		t.Fatalf("late expiry: %+v", rc)
	}
	forged := *open
	forged.Joins = append([]types.FieldSig(nil), open.Joins...)
	forged.Joins[1][5] ^= 1
	if rc := c.block(&forged)[0]; rc.OK || !strings.Contains(rc.Reason, "join: signature of member 1") {
		t.Fatalf("forged join: %+v", rc)
	}
	if rc := c.block(open)[0]; !rc.OK {
		t.Fatalf("open: %+v", rc)
	}
	if rc := c.block(open)[0]; rc.OK || !strings.Contains(rc.Reason, "is already used") {
		t.Fatalf("open again: %+v", rc)
	}

	// Nothing is pending: a challenge or dispute has nothing to change.
	c.refused(c.sample(types.TxFieldChallenge), "has no pending close")
	c.refused(c.sample(types.TxFieldDispute), "has no pending close")

	// A unilateral close at state 1, then the deadline passes untouched.
	if rc := c.block(c.sample(types.TxFieldCloseUnilateral))[0]; !rc.OK {
		t.Fatalf("close_unilateral: %+v", rc)
	}
	f := c.field()
	deadline := f.Pending.Deadline
	if deadline != c.h+f.ChallengePeriod {
		t.Fatalf("deadline %d at height %d", deadline, c.h)
	}
	c.refused(c.sample(types.TxFieldCloseUnilateral), "a close is already pending")
	for c.h < deadline {
		c.block()
		if c.field().Status != types.FieldClosingStatus {
			t.Fatalf("settled at %d, before the deadline %d passed", c.h, deadline)
		}
	}
	// At the start of the block after the deadline the chain settles the
	// field: a challenge in that block is too late.
	rc := c.block(c.sample(types.TxFieldChallenge))[0]
	if rc.OK || !strings.Contains(rc.Reason, "was settled at height") {
		t.Fatalf("late challenge: %+v", rc)
	}
	f = c.field()
	if f.Status != types.FieldSettledStatus || f.SettledAt != deadline+1 {
		t.Fatalf("after the deadline: %+v", f)
	}
	acct := func(a crypto.Address) uint64 {
		acc, _ := types.DecodeAccount(c.state[string(types.AccountKey(a))])
		return acc.Balance
	}
	// State 1: the leader paid the peer 30 of its 100.
	if got := acct(c.k.Public().Address()); got != txfixtures.Balance-100+70 {
		t.Errorf("leader balance %d", got)
	}
	if got := acct(txfixtures.FieldPeer().Public().Address()); got != 30 {
		t.Errorf("peer balance %d", got)
	}
	if m := c.state[string(types.FieldMemberKey(c.k.Public().Address()))]; len(m) != 0 {
		t.Error("the leader is still marked in the field after settlement")
	}
	// Settled is final.
	c.refused(c.sample(types.TxFieldClose), "was settled")

	// On another chain: a challenge in the deadline's own block is on time.
	c2 := newFieldChain(t)
	c2.block(c2.sample(types.TxFieldOpen))
	c2.block(c2.sample(types.TxFieldCloseUnilateral))
	for d := c2.field().Pending.Deadline; c2.h < d-1; {
		c2.block()
	}
	if rc := c2.block(c2.sample(types.TxFieldChallenge))[0]; !rc.OK {
		t.Fatalf("challenge at the deadline: %+v", rc)
	}
}
