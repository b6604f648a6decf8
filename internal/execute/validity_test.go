package execute

import (
	"errors"
	"reflect"
	"testing"

	"github.com/cairn-db/cairn/internal/txfixtures"
	"github.com/cairn-db/cairn/types"
)

func signed(chain string, nonce uint64, p types.Payload) *types.Tx {
	tx := &types.Tx{ChainID: chain, Nonce: nonce, Timestamp: 1, Payload: p}
	tx.Sign(txfixtures.Key(0))
	return tx
}

// A tx that no valid block may carry fails the whole block; the outcomes
// that are the sender's own stay failed receipts.
func TestBlockValidityRules(t *testing.T) {
	k := txfixtures.Key(0)
	state := mapReader{string(types.AccountKey(k.Public().Address())): types.Account{Balance: 10}.Encode()}
	p := types.DefaultParams()
	chain := txfixtures.ChainID
	one := signed(chain, 1, &types.KVPut{Key: "k", Value: "v"})
	forged := &types.Tx{ChainID: chain, Sender: one.Sender, Nonce: 1, Timestamp: 1,
		Payload: &types.KVPut{Key: "k", Value: "other"}, Signature: one.Signature}
	invalid := map[string]struct {
		txs  []*types.Tx
		code types.Code
	}{
		"bad signature":    {[]*types.Tx{forged}, types.CodeBadSignature},
		"wrong chain":      {[]*types.Tx{signed("other", 1, &types.KVPut{Key: "k", Value: "v"})}, types.CodeWrongChain},
		"oversized":        {[]*types.Tx{signed(chain, 1, &types.KVPut{Key: "k", Value: string(make([]byte, p.MaxTxBytes))})}, types.CodeOversized},
		"nonce gap":        {[]*types.Tx{signed(chain, 2, &types.KVPut{Key: "k", Value: "v"})}, types.CodeBadNonce},
		"nonces reordered": {[]*types.Tx{signed(chain, 2, &types.KVPut{Key: "k", Value: "v"}), one}, types.CodeBadNonce},
		"stale nonce":      {[]*types.Tx{one, signed(chain, 1, &types.KVPut{Key: "j", Value: "v"})}, types.CodeBadNonce},
	}
	for name, c := range invalid {
		_, err := Block(state, chain, p, Env{Height: 1, TimeMs: 1_700_000_000_000}, c.txs, Options{})
		var ie *InvalidTxError
		if !errors.As(err, &ie) || ie.Err.Code != c.code {
			t.Errorf("%s: Block = %v, want an invalid tx with code %s", name, err, c.code)
		}
		kept, dropped, res, err := Select(state, chain, p, Env{Height: 1, TimeMs: 1_700_000_000_000}, c.txs, Options{})
		if err != nil || len(dropped) != 1 || dropped[0].Err.Code != c.code {
			t.Fatalf("%s: Select dropped %+v, err %v", name, dropped, err)
		}
		again, err := Block(state, chain, p, Env{Height: 1, TimeMs: 1_700_000_000_000}, kept, Options{})
		if err != nil || !reflect.DeepEqual(again, res) {
			t.Errorf("%s: Block(kept) = %+v, %v; Select gave %+v", name, again, err, res)
		}
	}

	// Failed receipts: an overdraft and a lost compare-and-set; neither uses
	// the nonce, so the next tx with nonce 1 succeeds.
	txs := []*types.Tx{
		signed(chain, 1, &types.Transfer{To: txfixtures.Recipient(), Amount: 11}),
		signed(chain, 1, &types.KVPut{Key: "k", Value: "v", ExpectVersion: new(uint64(3))}),
		one,
	}
	res, err := Block(state, chain, p, Env{Height: 1, TimeMs: 1_700_000_000_000}, txs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []types.Code{types.CodeInsufficientBalance, types.CodeVersionConflict, ""} {
		if rc := res.Receipts[i]; rc.Code != want || rc.OK != (want == "") {
			t.Errorf("tx %d: receipt %+v, want code %q", i, rc, want)
		}
	}
}
