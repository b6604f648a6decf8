package store

import (
	"bytes"
	"testing"

	"github.com/cairn-db/cairn/crypto"
)

// TestTxRecordEncoding: a record splits back into the hash, receipt and tx
// bytes it was made of; a hash alone is a record without a body; lengths
// that do not fit are errors.
func TestTxRecordEncoding(t *testing.T) {
	th := crypto.Sum([]byte("tx"))
	for _, c := range []struct{ receipt, tx []byte }{
		{[]byte("receipt"), []byte("tx bytes")},
		{nil, []byte("tx bytes")},
		{[]byte("receipt"), nil},
	} {
		v := encodeTxRecord(th, c.receipt, c.tx)
		if len(v) != 32+4+len(c.receipt)+len(c.tx) {
			t.Fatalf("record of %d bytes", len(v))
		}
		r, err := decodeTxRecord(v)
		if err != nil || !r.body || r.hash != th || !bytes.Equal(r.receipt, c.receipt) || !bytes.Equal(r.tx, c.tx) {
			t.Fatalf("decode %x: %+v %v", v, r, err)
		}
	}
	r, err := decodeTxRecord(th[:])
	if err != nil || r.body || r.hash != th {
		t.Fatalf("hash-only record: %+v %v", r, err)
	}
	good := encodeTxRecord(th, []byte("receipt"), []byte("tx"))
	for _, bad := range [][]byte{
		nil,
		th[:31],
		good[:33],                                // neither a hash alone nor a whole head
		append(bytes.Clone(good[:36]), "rec"...), // receipt longer than the record
	} {
		if r, err := decodeTxRecord(bad); err == nil {
			t.Fatalf("decode %x: %+v, want an error", bad, r)
		}
	}
}
