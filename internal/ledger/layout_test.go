package ledger

import (
	"bytes"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// TestTxBytesByLocation: a block's transaction bytes are stored under
// their location ('Y' height index, so each block's land after every
// earlier block's), the hash index record holds only the location, and a
// record of the older layout (location and bytes in the hash record) still
// reads.
func TestTxBytesByLocation(t *testing.T) {
	_, l := buildChain(t)
	defer l.Close()
	hs, err := l.store.TxHashes(2)
	if err != nil || len(hs) != 2 {
		t.Fatalf("tx hashes at 2: %v %v", hs, err)
	}
	th := hs[1]
	tk := append([]byte{'T'}, th[:]...)
	v, c, err := l.db.Get(tk)
	if err != nil {
		t.Fatal(err)
	}
	rec := bytes.Clone(v)
	c.Close()
	if len(rec) != 12 {
		t.Fatalf("hash index record is %d bytes, want 12 (the location)", len(rec))
	}
	yk := append([]byte{'Y'}, rec...)
	v, c, err = l.db.Get(yk)
	if err != nil {
		t.Fatalf("no bytes under the tx's location: %v", err)
	}
	body := bytes.Clone(v)
	c.Close()
	tx, loc, err := l.store.Tx(th)
	if err != nil || loc.Height != 2 || loc.Index != 1 || !bytes.Equal(tx.Bytes(), body) {
		t.Fatalf("Tx: %v at %+v", err, loc)
	}

	// The older layout: the bytes in the hash record, none by location.
	b := l.db.NewBatch()
	_ = b.Set(tk, append(bytes.Clone(rec), body...), nil)
	_ = b.Delete(yk, nil)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	tx, _, err = l.store.Tx(th)
	if err != nil || !bytes.Equal(tx.Bytes(), body) {
		t.Fatalf("Tx from an older-layout record: %v", err)
	}
	if blk, err := l.store.Block(2); err != nil || !bytes.Equal(blk.Txs[1].Bytes(), body) {
		t.Fatalf("Block from an older-layout record: %v", err)
	}
	if ok, err := l.store.BodyStored(th); err != nil || !ok {
		t.Fatalf("BodyStored from an older-layout record: %v %v", ok, err)
	}
}
