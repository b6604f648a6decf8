package txfixtures

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/cairn-db/cairn/types"
)

func TestOneSamplePerType(t *testing.T) {
	registered := map[types.TxType]bool{}
	for _, info := range types.TxTypes() {
		registered[info.Type] = true
		p, ok := Payload(info.Type, ChainID, Key(0))
		if !ok {
			t.Errorf("no sample %s transaction", info.Name)
			continue
		}
		if p.TxType() != info.Type {
			t.Errorf("sample for %s has type %s", info.Name, p.TxType())
		}
	}
	for typ := range samples {
		if !registered[typ] {
			t.Errorf("sample for unregistered type %s", typ)
		}
	}
}

// Every sample is a valid transaction: it verifies, survives the binary and
// JSON forms byte for byte, and passes the stateless checks.
func TestSamplesAreValid(t *testing.T) {
	txs := Txs(t, ChainID, Key(0), 1)
	names := types.TxTypeNames()
	if len(txs) != len(names) {
		t.Fatalf("%d samples for %d types", len(txs), len(names))
	}
	for i, tx := range txs {
		if tx.Type().String() != names[i] {
			t.Fatalf("sample %d is %s, want %s (registry order)", i, tx.Type(), names[i])
		}
		if err := types.ValidateTxStateless(tx, ChainID, types.DefaultParams(), true); err != nil {
			t.Errorf("%s: %v", tx.Type(), err)
		}
		d, err := types.DecodeTx(tx.Bytes())
		if err != nil || d.Hash() != tx.Hash() {
			t.Errorf("%s: binary round trip: %v", tx.Type(), err)
		}
		j, err := json.Marshal(tx)
		if err != nil {
			t.Fatalf("%s: %v", tx.Type(), err)
		}
		var back types.Tx
		if err := json.Unmarshal(j, &back); err != nil || !bytes.Equal(back.Bytes(), tx.Bytes()) {
			t.Errorf("%s: JSON round trip: %v", tx.Type(), err)
		}
	}
	again := Txs(t, ChainID, Key(0), 1)
	for i := range txs {
		if again[i].Hash() != txs[i].Hash() {
			t.Errorf("%s: sample is not deterministic", txs[i].Type())
		}
	}
}
