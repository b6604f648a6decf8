package execute

import (
	"context"
	"fmt"
	"testing"

	"github.com/cairn-db/cairn/internal/contractbuild"
	"github.com/cairn-db/cairn/internal/txfixtures"
	"github.com/cairn-db/cairn/internal/vm"
	"github.com/cairn-db/cairn/types"
)

// BenchmarkKVPutBlock is the execution CPU per kv.put in blocks of 100,
// signatures excluded: the native baseline the contract runtime is
// compared with (internal/vm BenchmarkVoucherInvoke).
func BenchmarkKVPutBlock(b *testing.B) {
	k := txfixtures.Key(0)
	from := k.Public().Address()
	state := mapReader{string(types.AccountKey(from)): types.Account{Balance: txfixtures.Balance}.Encode()}
	const per = 100
	txs := make([]*types.Tx, per)
	for i := range txs {
		tx := &types.Tx{ChainID: txfixtures.ChainID, Nonce: uint64(i + 1), Timestamp: 1, Payload: &types.KVPut{Key: fmt.Sprintf("voucher/b%d", i), Value: `{"id":"b1","issuer":"a1","owner":"a1","value":5,"redeemed":false}`}}
		tx.Sign(k)
		txs[i] = tx
	}
	b.ResetTimer()
	for i := 0; i < b.N; i += per {
		res, err := Block(state, txfixtures.ChainID, types.DefaultParams(), Env{Height: 1, TimeMs: 1_700_000_000_000}, txs, Options{SkipSignatures: true})
		if err != nil || !res.Receipts[per-1].OK {
			b.Fatal(err)
		}
	}
}

// BenchmarkVoucherInvokeBlock is the execution CPU per contract.invoke of
// the voucher sample's issue, in blocks of 100 (each block a fresh
// contract scope, as on a validator), signatures excluded: compare with
// BenchmarkKVPutBlock, which writes a value of the same size natively.
func BenchmarkVoucherInvokeBlock(b *testing.B) {
	ctx := context.Background()
	eng, err := vm.New(ctx, vm.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close(ctx)
	raw, err := contractbuild.Cached(ctx, "../../examples/contracts/voucher")
	if err != nil {
		b.Skipf("SKIPPED: %v", err)
	}
	code, err := eng.Prepare(ctx, raw)
	if err != nil {
		b.Fatal(err)
	}
	k := txfixtures.Key(0)
	from := k.Public().Address()
	state := mapReader{string(types.AccountKey(from)): types.Account{Balance: txfixtures.Balance}.Encode()}
	for _, w := range instanceWrites("voucher", code, from) {
		state[string(w.Key)] = w.Value
	}
	const per = 100
	txs := make([]*types.Tx, per)
	for i := range txs {
		tx := &types.Tx{ChainID: txfixtures.ChainID, Nonce: uint64(i + 1), Timestamp: 1, Payload: &types.ContractInvoke{
			Name: "voucher", Function: "issue", GasLimit: 10_000_000, Args: []byte(fmt.Sprintf(`{"id":"b%d","value":5}`, i))}}
		tx.Sign(k)
		txs[i] = tx
	}
	b.ResetTimer()
	for i := 0; i < b.N; i += per {
		res, err := Block(state, txfixtures.ChainID, types.DefaultParams(), Env{Height: 1, TimeMs: 1_700_000_000_000}, txs, Options{SkipSignatures: true, Contracts: eng})
		if err != nil || !res.Receipts[per-1].OK {
			b.Fatal(err, res.Receipts[per-1])
		}
	}
}
