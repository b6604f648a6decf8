package execute

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/contractbuild"
	"github.com/cairn-db/cairn/internal/txfixtures"
	"github.com/cairn-db/cairn/internal/vm"
	"github.com/cairn-db/cairn/types"
)

// txChain executes signed blocks on a treeChain, as a ledger does.
type txChain struct {
	*treeChain
	p     types.Params
	eng   *vm.Engine
	nonce map[crypto.Address]uint64
}

func (c *txChain) TxCommitted(crypto.Hash) (bool, error) { return false, nil }

func (c *txChain) tx(k *crypto.PrivateKey, p types.Payload) *types.Tx {
	a := k.Public().Address()
	c.nonce[a]++
	tx := &types.Tx{ChainID: txfixtures.ChainID, Nonce: c.nonce[a], Timestamp: 1, Payload: p}
	tx.Sign(k)
	return tx
}

// block executes txs as the next block (twice, as a proposer and a
// validator would, comparing the receipts and writes) and commits it.
func (c *txChain) block(txs ...*types.Tx) []*types.Receipt {
	c.t.Helper()
	h := c.next()
	run := func() *Result {
		res, err := Block(treeReader{c.s}, txfixtures.ChainID, c.p, Env{Height: h, TimeMs: 1_700_000_000_000 + int64(h)*1000}, txs, Options{Contracts: c.eng})
		if err != nil {
			c.t.Fatalf("block %d: %v", h, err)
		}
		return res
	}
	a, b := run(), run()
	if types.ResultsRoot(a.Receipts) != types.ResultsRoot(b.Receipts) || fmt.Sprint(a.Writes) != fmt.Sprint(b.Writes) {
		c.t.Fatalf("block %d: two executions differ", h)
	}
	for i, rc := range a.Receipts {
		if !rc.OK {
			c.nonce[txs[i].Sender.Address()]-- // a failed tx does not use its nonce
		}
	}
	c.commit(a.Writes)
	return a.Receipts
}

// one executes one transaction as a block of its own.
func (c *txChain) one(k *crypto.PrivateKey, p types.Payload) *types.Receipt {
	c.t.Helper()
	return c.block(c.tx(k, p))[0]
}

func (c *txChain) account(a crypto.Address) types.Account {
	v, _, err := c.s.Get(types.AccountKey(a))
	if err != nil {
		c.t.Fatal(err)
	}
	if v == nil {
		return types.Account{}
	}
	acc, err := types.DecodeAccount(v)
	if err != nil {
		c.t.Fatal(err)
	}
	return acc
}

func buildAdversary(t *testing.T) []byte {
	t.Helper()
	raw, err := contractbuild.Cached(context.Background(), "../vm/testdata/adversary")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("SKIPPED: %v", err)
	}
	return raw
}

// TestContractTransactions runs the four contract transaction types
// through Block: who may deploy, a refused module, instantiation, calls
// with funds that succeed or fail (a failed call keeps its gas in the
// receipt and changes nothing, its funds and nonce included), transfers
// back to the sender, and an upgrade by its owner only.
func TestContractTransactions(t *testing.T) {
	ctx := context.Background()
	eng, err := vm.New(ctx, vm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	raw := buildAdversary(t)
	alice, bob := txfixtures.Key(1), txfixtures.Key(2)
	p := types.DefaultParams()
	p.ContractDeployers = []crypto.Address{alice.Public().Address()}
	c := &txChain{treeChain: newTreeChain(t, []Write{
		{Key: types.AccountKey(alice.Public().Address()), Value: types.Account{Balance: 1000}.Encode()},
		{Key: types.AccountKey(bob.Public().Address()), Value: types.Account{Balance: 1000}.Encode()},
	}), p: p, eng: eng, nonce: map[crypto.Address]uint64{}}

	rcs := []*types.Receipt{c.one(bob, &types.ContractDeploy{Code: raw}), c.one(alice, &types.ContractDeploy{Code: []byte("\x00asm\x01\x00\x00\x00\x01\xff")})}
	if rcs[0].OK || !strings.Contains(rcs[0].Reason, "contract_deployers") || rcs[1].OK || rcs[1].Code != vm.CodeInvalidCode {
		t.Fatalf("deploy by a non-deployer / of malformed code: %+v %+v", rcs[0], rcs[1])
	}
	rcs = c.block(c.tx(alice, &types.ContractDeploy{Code: raw}))
	if !rcs[0].OK {
		t.Fatalf("deploy: %+v", rcs[0])
	}
	code, err := eng.Prepare(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	h := vm.CodeHash(code)
	rcs = []*types.Receipt{
		c.one(bob, &types.ContractInstantiate{Name: "adv", CodeHash: h, Owner: alice.Public().Address(), Args: []byte("hello"), GasLimit: 10_000_000}),
		c.one(bob, &types.ContractInstantiate{Name: "adv", CodeHash: h, Owner: bob.Public().Address(), GasLimit: 10_000_000}),
		c.one(bob, &types.ContractInstantiate{Name: "ghost", CodeHash: crypto.Hash{1}, GasLimit: 10_000_000})}
	if !rcs[0].OK || rcs[0].Contract == nil || rcs[1].OK || rcs[2].Code != types.CodeNotFound {
		t.Fatalf("instantiate, again, of unknown code: %+v %+v %+v", rcs[0], rcs[1], rcs[2])
	}

	before := c.account(bob.Public().Address())
	rcs = []*types.Receipt{
		c.one(bob, &types.ContractInvoke{Name: "adv", Function: "put_then_loop", Args: []byte("x"), GasLimit: 2_000_000, Funds: 100}),
		c.one(bob, &types.ContractInvoke{Name: "adv", Function: "put_then_fail", Args: []byte("x"), GasLimit: 2_000_000, Funds: 100}),
		c.one(bob, &types.ContractInvoke{Name: "adv", Function: "echo", GasLimit: 2_000_000, Funds: 5000})}
	if rcs[0].OK || rcs[0].Code != vm.CodeOutOfGas || rcs[0].Contract == nil || rcs[0].Contract.GasUsed != 2_000_000 {
		t.Fatalf("infinite loop: %+v %+v", rcs[0], rcs[0].Contract)
	}
	if rcs[1].Code != vm.CodeContractError || rcs[1].Contract.GasUsed == 0 || len(rcs[1].Contract.Events) != 0 {
		t.Fatalf("failing call: %+v %+v", rcs[1], rcs[1].Contract)
	}
	if rcs[2].Code != types.CodeInsufficientBalance {
		t.Fatalf("funds over the balance: %+v", rcs[2])
	}
	if after := c.account(bob.Public().Address()); after != before {
		t.Fatalf("failed calls changed the sender: %+v -> %+v", before, after)
	}
	if v, _, _ := c.s.Get(types.ContractKey("adv", []byte("doomed"))); v != nil {
		t.Fatal("a failed call's write was kept")
	}

	// Funds in, then the contract pays some back to the sender: one write
	// of the sender's account with both and the nonce bumped.
	ba := bob.Public().Address()
	pay := append(ba[:], binary.BigEndian.AppendUint64(nil, 30)...)
	rcs = c.block(c.tx(bob, &types.ContractInvoke{Name: "adv", Function: "pay", Args: pay, GasLimit: 2_000_000, Funds: 100}))
	if !rcs[0].OK {
		t.Fatalf("pay: %+v", rcs[0])
	}
	after := c.account(bob.Public().Address())
	if after.Balance != before.Balance-70 || after.Nonce != before.Nonce+1 {
		t.Fatalf("sender after funds 100 and a payment of 30: %+v (before %+v)", after, before)
	}
	if got := c.account(types.ContractAddress("adv")).Balance; got != 70 {
		t.Fatalf("contract balance %d, want 70", got)
	}

	rcs = []*types.Receipt{c.one(bob, &types.ContractUpgrade{Name: "adv", CodeHash: h}), c.one(alice, &types.ContractUpgrade{Name: "adv", CodeHash: h})}
	if rcs[0].OK || !rcs[1].OK {
		t.Fatalf("upgrade by a stranger, by the owner: %+v %+v", rcs[0], rcs[1])
	}
	var te *types.TxError
	if err := MayDeploy(types.DefaultParams(), bob.Public().Address()); err != nil || !errors.As(MayDeploy(p, bob.Public().Address()), &te) {
		t.Fatal("MayDeploy: an empty list lets everyone deploy, a list only its members")
	}
}
