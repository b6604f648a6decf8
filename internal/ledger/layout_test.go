package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairn-db/cairn/internal/state"
	"github.com/cairn-db/cairn/internal/store"
	"github.com/cairn-db/cairn/types"
)

// committed is what a test committed at one height.
type committed struct {
	blk      *types.Block
	receipts []*types.Receipt
}

// layoutChain commits, after genesis, two blocks of txs, a block with a
// replayed copy of an earlier tx and an empty block.
func layoutChain(t *testing.T) (*Ledger, map[uint64]committed) {
	n := newNet(3, 1000)
	l := n.open(t, vfs.NewMem(), "db")
	u := n.users
	got := map[uint64]committed{}
	add := func(txs ...*types.Tx) {
		blk, rs := n.commit(t, l, txs...)
		got[blk.Header.Height] = committed{blk, rs}
	}
	first := n.tx(u[0], &types.Transfer{To: u[1].Public().Address(), Amount: 10})
	add(first, n.tx(u[1], &types.KVPut{Key: "k", Value: "v1"}))
	add(n.tx(u[2], &types.Record{Document: []byte(`{"a":1}`)}), n.tx(u[0], &types.Transfer{To: u[2].Public().Address(), Amount: 5}))
	add(n.tx(u[1], &types.KVDelete{Key: "k"}), first)
	add()
	if rs := got[3].receipts; rs[1].Code != types.CodeReplay {
		t.Fatalf("the copy of an earlier tx got receipt %+v, want a replay", rs[1])
	}
	return l, got
}

// checkReads reads every committed height back through each read API and
// requires the bytes committed.
func checkReads(t *testing.T, l *Ledger, got map[uint64]committed, from uint64) {
	t.Helper()
	for h, c := range got {
		if h < from {
			continue
		}
		blk, err := l.store.Block(h)
		if err != nil {
			t.Fatalf("Block(%d): %v", h, err)
		}
		if !bytes.Equal(blk.Header.Encode(), c.blk.Header.Encode()) || len(blk.Txs) != len(c.blk.Txs) {
			t.Fatalf("Block(%d) differs from the committed block", h)
		}
		hs, err := l.store.TxHashes(h)
		if err != nil || len(hs) != len(c.blk.Txs) {
			t.Fatalf("TxHashes(%d): %v %v", h, hs, err)
		}
		rs, err := l.store.Receipts(h)
		if err != nil || len(rs) != len(c.receipts) {
			t.Fatalf("Receipts(%d): %d, %v", h, len(rs), err)
		}
		for i, tx := range c.blk.Txs {
			th := tx.Hash()
			if hs[i] != th || !bytes.Equal(blk.Txs[i].Bytes(), tx.Bytes()) {
				t.Fatalf("height %d tx %d: hash or bytes differ", h, i)
			}
			if !bytes.Equal(rs[i].Encode(), c.receipts[i].Encode()) {
				t.Fatalf("height %d receipt %d differs", h, i)
			}
			r, err := l.store.Receipt(store.TxLocation{Height: h, Index: uint32(i)})
			if err != nil || !bytes.Equal(r.Encode(), c.receipts[i].Encode()) {
				t.Fatalf("Receipt(%d/%d): %v", h, i, err)
			}
			btx, bloc, err := l.store.BlockTx(h, uint32(i), th)
			if err != nil || !bytes.Equal(btx.Bytes(), tx.Bytes()) {
				t.Fatalf("BlockTx(%d/%d): %v", h, i, err)
			}
			loc := bloc
			if loc.Height < from {
				continue // the first inclusion of a replayed tx, pruned
			}
			byHash, loc2, err := l.store.Tx(th)
			if err != nil || loc2 != loc || !bytes.Equal(byHash.Bytes(), tx.Bytes()) {
				t.Fatalf("Tx(%s): %+v %v", th, loc2, err)
			}
			if ok, err := l.store.BodyStored(th); err != nil || !ok {
				t.Fatalf("BodyStored(%s): %v %v", th, ok, err)
			}
		}
		if types.ResultsRoot(rs) != blk.Header.ResultsRoot || blk.ComputeTxRoot() != blk.Header.TxRoot {
			t.Fatalf("height %d: roots of the stored txs and receipts differ from the header's", h)
		}
	}
}

// prefixes counts the database's keys by first byte.
func prefixes(t *testing.T, db *pebble.DB) map[byte]int {
	it, err := db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	out := map[byte]int{}
	for it.First(); it.Valid(); it.Next() {
		out[it.Key()[0]]++
		if it.Key()[0] == 'T' && len(it.Value()) != 12 {
			t.Fatalf("hash index record %x is %d bytes, want 12 (the location)", it.Key(), len(it.Value()))
		}
	}
	return out
}

// TestTxRecordLayout: each transaction is one record under its location
// ('Y' height index: tx hash, receipt length, receipt, tx bytes), the
// hash index holds only the location, and every read answers the bytes
// committed, before and after pruning.
func TestTxRecordLayout(t *testing.T) {
	l, got := layoutChain(t)
	defer l.Close()
	count := prefixes(t, l.db)
	if count['Y'] != 6 || count['T'] != 5 || count['X'] != 0 || count['R'] != 0 {
		t.Fatalf("keys by prefix %v: want 6 tx records, 5 hash index records (one tx is a replayed copy), no 'X' or 'R'", count)
	}
	c := got[2]
	th := c.blk.Txs[1].Hash()
	v, closer, err := l.db.Get(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64([]byte{'Y'}, 2), 1))
	if err != nil {
		t.Fatal(err)
	}
	rb, tb := c.receipts[1].Encode(), c.blk.Txs[1].Bytes()
	want := append(append(binary.BigEndian.AppendUint32(bytes.Clone(th[:]), uint32(len(rb))), rb...), tb...)
	if !bytes.Equal(v, want) {
		t.Fatalf("record at 2/1:\n%x\nwant\n%x", v, want)
	}
	closer.Close()
	checkReads(t, l, got, 0)

	// The replayed copy's hash index names the first inclusion.
	replayed := got[3].blk.Txs[1].Hash()
	if _, loc, err := l.store.BlockTx(3, 1, replayed); err != nil || loc != (store.TxLocation{Height: 1, Index: 0}) {
		t.Fatalf("replayed tx's location %+v %v", loc, err)
	}

	if n, more, err := l.store.PruneBodies(3, 3); err != nil || n != 3 || !more {
		t.Fatalf("prune, 3 at most: %d %v %v", n, more, err)
	}
	if n, more, err := l.store.PruneBodies(3, 3); err != nil || n != 1 || more {
		t.Fatalf("prune the rest: %d %v %v", n, more, err)
	}
	count = prefixes(t, l.db)
	if count['Y'] != 2 || count['T'] != 5 {
		t.Fatalf("keys by prefix after pruning below 3: %v, want 2 tx records and every hash index record", count)
	}
	checkReads(t, l, got, 3)
	for h := uint64(1); h < 3; h++ {
		th := got[h].blk.Txs[0].Hash()
		_, err1 := l.store.TxHashes(h)
		_, err2 := l.store.Receipts(h)
		_, err3 := l.store.Receipt(store.TxLocation{Height: h})
		_, err4 := l.store.Block(h)
		_, _, err5 := l.store.Tx(th)
		for i, err := range []error{err1, err2, err3, err4, err5} {
			var pe *store.PrunedError
			if !errors.As(err, &pe) || pe.Oldest != 3 {
				t.Fatalf("height %d read %d after pruning: %v, want PrunedError", h, i, err)
			}
		}
		if ok, err := l.store.HasTx(th); err != nil || !ok {
			t.Fatalf("HasTx after pruning: %v %v", ok, err)
		}
		if ok, err := l.store.BodyStored(th); err != nil || ok {
			t.Fatalf("BodyStored after pruning: %v %v", ok, err)
		}
	}
}

// TestTxRecordCorrupt: a record whose receipt length runs past its end
// is an error, not a short read.
func TestTxRecordCorrupt(t *testing.T) {
	l, got := layoutChain(t)
	defer l.Close()
	k := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64([]byte{'Y'}, 1), 0)
	th := got[1].blk.Txs[0].Hash()
	bad := binary.BigEndian.AppendUint32(bytes.Clone(th[:]), 1<<20)
	if err := l.db.Set(k, bad, pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	if _, err := l.store.Receipts(1); err == nil {
		t.Fatal("Receipts read a corrupt record")
	}
	if _, err := l.store.Block(1); err == nil {
		t.Fatal("Block read a corrupt record")
	}
	if hs, err := l.store.TxHashes(1); err == nil {
		t.Fatalf("TxHashes read a corrupt record: %v", hs)
	}
}

// TestRefusesStorageFormat2: a ledger whose format record says 2 (the
// block store's separate 'X', 'R' and 'Y' records) is refused with
// state.ErrStorageFormat and left as it was.
func TestRefusesStorageFormat2(t *testing.T) {
	n := newNet(3, 1000)
	fs := vfs.NewMem()
	l := n.open(t, fs, "db")
	n.commit(t, l, n.tx(n.users[0], &types.Transfer{To: n.users[1].Public().Address(), Amount: 1}))
	if err := l.db.Set([]byte("smformat"), binary.BigEndian.AppendUint64(nil, 2), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Options{Dir: "db", FS: fs, CacheBytes: 8 << 20}, n.g)
	if !errors.Is(err, state.ErrStorageFormat) {
		t.Fatalf("opening a format 2 ledger: %v, want ErrStorageFormat", err)
	}
	db, err := pebble.Open("db", &pebble.Options{FS: fs, Logger: pebbleLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, c, err := db.Get([]byte("smformat"))
	if err != nil || binary.BigEndian.Uint64(v) != 2 {
		t.Fatalf("format record after the refusal: %x %v", v, err)
	}
	c.Close()
}

// keyFamily is the family splitByFamily keeps tables within.
func keyFamily(k []byte) string {
	if len(k) > 1 && k[0] == 's' {
		return string(k[:2])
	}
	return string(k[:min(len(k), 1)])
}

// TestTablesHoldOneKeyFamily: whatever a flush or compaction writes, no
// table holds keys of two families, so a table of a family keyed by height
// (tx records, tree nodes) never overlaps the spread-out families' older
// tables, and compactions move it instead of rewriting it.
func TestTablesHoldOneKeyFamily(t *testing.T) {
	n := newNet(20, 1000)
	l := n.open(t, vfs.NewMem(), "db")
	defer l.Close()
	for i := range 30 {
		var txs []*types.Tx
		for j := range 10 {
			txs = append(txs, n.tx(n.users[(i+j)%20], &types.Transfer{To: n.users[(i+j+1)%20].Public().Address(), Amount: 1}))
		}
		n.commit(t, l, txs...)
		if i%10 == 9 {
			if err := l.db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(after string) {
		t.Helper()
		levels, err := l.db.SSTables()
		if err != nil {
			t.Fatal(err)
		}
		families := map[string]bool{}
		for lvl, tables := range levels {
			for _, tb := range tables {
				a, z := keyFamily(tb.Smallest.UserKey), keyFamily(tb.Largest.UserKey)
				if a != z {
					t.Errorf("after %s: level %d table %s holds keys from %q to %q", after, lvl, tb.FileNum, tb.Smallest.UserKey, tb.Largest.UserKey)
				}
				families[a] = true
			}
		}
		for _, f := range []string{"H", "T", "Y", "sh", "sl", "sn", "sr"} {
			if !families[f] {
				t.Errorf("after %s: no table holds family %q (tables of %v): the test wrote less than it should", after, f, families)
			}
		}
	}
	check("flushes")
	if err := l.db.Compact(t.Context(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	check("a compaction")
}
