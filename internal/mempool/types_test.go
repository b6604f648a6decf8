package mempool

import (
	"testing"

	"github.com/cairn-db/cairn/internal/txfixtures"
	"github.com/cairn-db/cairn/types"
)

// Every registered type is admitted: one sender's samples, in nonce order,
// all enter the pool and come out of Reap in that order, each with the
// balance rule its type declares in debit.
func TestEveryTypeAdmitted(t *testing.T) {
	st := newMapState()
	k := txfixtures.Key(0)
	st.set(addr(k), types.Account{Balance: txfixtures.Balance})
	keys, values := (&types.Genesis{Roles: txfixtures.Roles(k)}).RoleWrites()
	for i := range keys {
		st.setKey(keys[i], values[i])
	}
	m := newPool(t, st, func(c *Config) { c.Params = txfixtures.Params() })
	txs := txfixtures.Txs(t, testChain, k, 1)
	for _, tx := range txs {
		if err := m.Add(tx); err != nil {
			t.Errorf("%s: %v", tx.Type(), err)
		}
	}
	sameOrder(t, "reap", m.Reap(len(txs), 1<<20), txs)
	checkInvariants(t, m)

	// The balance rule: a type's debit must be covered by the balance.
	for _, tx := range txs {
		spend, err := debit(tx.Payload)
		if err != nil {
			t.Fatalf("%s: %v", tx.Type(), err)
		}
		var want uint64
		switch p := tx.Payload.(type) {
		case *types.Transfer:
			want = p.Amount
		case *types.FieldOpen:
			want = p.Members[p.Index(p.Leader)].Deposit // the leader's own deposit
		case *types.ContractInvoke:
			want = p.Funds
		case *types.StakeDelegate:
			want = p.Amount
		}
		if spend != want {
			t.Errorf("%s: debit %d", tx.Type(), spend)
		}
	}
}
