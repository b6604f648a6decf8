package types

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// bigRecordDoc is a ~1 MiB document of many small objects, the worst case
// for a per-object name check.
func bigRecordDoc() json.RawMessage {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < 1<<20-200; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"item %d","tags":["a","b"],"attrs":{"x":%d,"y":"v\"%d"}}`, i, i, i, i)
	}
	b.WriteString(`]}`)
	return mustCanonical(b.String())
}

func BenchmarkCanonicalJSON1MiB(b *testing.B) {
	doc := bigRecordDoc()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := CanonicalJSON(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTxJSONRecord1MiB(b *testing.B) {
	tx := &Tx{ChainID: testChain, Nonce: 1, Payload: &Record{Document: bigRecordDoc()}}
	tx.Sign(testKey(1))
	j, err := json.Marshal(tx)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(j)))
	for b.Loop() {
		var back Tx
		if err := back.UnmarshalJSON(j); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeTxRecord1MiB(b *testing.B) {
	tx := &Tx{ChainID: testChain, Nonce: 1, Payload: &Record{Document: bigRecordDoc()}}
	tx.Sign(testKey(1))
	raw := tx.Bytes()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := DecodeTx(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckUniqueNames1MiB(b *testing.B) {
	doc := bigRecordDoc()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := checkUniqueNames(doc); err != nil {
			b.Fatal(err)
		}
	}
}
