package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/smt"
)

// nodeKeys returns every stored node key, in order.
func nodeKeys(t *testing.T, db *pebble.DB) [][]byte {
	t.Helper()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState, prefixNode}, UpperBound: []byte{prefixState, prefixNode + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, bytes.Clone(it.Key()))
	}
	return out
}

func keyVersion(k []byte) uint64 { return binary.BigEndian.Uint64(k[2:]) }

// TestNodeKeysAppend: the nodes each height stores are keyed by that
// height, after every node stored before, which is what keeps compaction
// from rewriting older nodes (BenchmarkWriteAmp measures it).
func TestNodeKeysAppend(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{})
	r := rand.New(rand.NewPCG(3, 3))
	var keys [][]byte
	for h := 0; h < 30; h++ {
		before := nodeKeys(t, db)
		var ws []Write
		for i := 0; i < 40; i++ {
			if len(keys) == 0 || i%4 == 0 {
				keys = append(keys, fmt.Appendf(nil, "k%d", r.Uint64()))
			}
			ws = append(ws, Write{Key: keys[r.IntN(len(keys))], Value: value16(r)})
		}
		u := commitWrites(t, s, db, ws)
		after := nodeKeys(t, db)
		if len(after) != len(before)+u.NodeCount() {
			t.Fatalf("height %d: %d node keys after, %d before, %d new", h, len(after), len(before), u.NodeCount())
		}
		for i, k := range after {
			if i < len(before) {
				if !bytes.Equal(k, before[i]) {
					t.Fatalf("height %d: node key %x written among older ones", h, k)
				}
			} else if keyVersion(k) != uint64(h) {
				t.Fatalf("height %d: new node key %x has version %d", h, k, keyVersion(k))
			}
		}
		if err := s.CheckTree(uint64(h)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNodeComesBackWithPruning: a key set back to an earlier value brings
// back the same node hashes (and roots) as before, stored again at the new
// height; pruning the heights between deletes the old copies and keeps
// every retained height provable, and nothing unreachable stays stored.
func TestNodeComesBackWithPruning(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{Track: true, NodeCacheSize: 64})
	base := []Write{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("1")}, {Key: []byte("c"), Value: []byte("1")}}
	commitWrites(t, s, db, base) // 0
	r0 := s.Root()
	model := []map[string]string{{"a": "1", "b": "1", "c": "1"}}
	flip := []string{"2", "1", "2", "1", "1", "2", "1"}
	for _, v := range flip {
		commitWrites(t, s, db, []Write{{Key: []byte("a"), Value: []byte(v)}})
		m := maps.Clone(model[len(model)-1])
		m["a"] = v
		model = append(model, m)
		if v == "1" && s.Root() != r0 {
			t.Fatalf("height %d: a back to 1 gives root %s, want %s", s.Height(), s.Root(), r0)
		}
	}
	keys := []string{"a", "b", "c"}
	checkRetained(t, s, db, keys, model, false)
	for _, oldest := range []uint64{1, 2, 4, 7} {
		for {
			res, err := s.Prune(oldest, 3, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !res.More {
				break
			}
		}
		checkRetained(t, s, db, keys, model, true)
	}
}

// TestRestartAndPushDown: a reopened tree (empty cache) reads its nodes by
// version and position, including leaves pushed down by new keys next to
// them, and goes on producing the reference roots; old heights stay
// provable through nodes stored at many versions.
func TestRestartAndPushDown(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{NodeCacheSize: -1})
	r := rand.New(rand.NewPCG(5, 5))
	cur := map[string]string{}
	var model []map[string]string
	for h := 0; h < 40; h++ {
		var ws []Write
		for i := 0; i < 1+r.IntN(5); i++ {
			k, v := fmt.Sprintf("k%d", r.IntN(60)), fmt.Sprint(r.IntN(3))
			ws = append(ws, Write{Key: []byte(k), Value: []byte(v)})
			cur[k] = v
		}
		commitWrites(t, s, db, ws)
		model = append(model, maps.Clone(cur))
		if h%7 == 0 {
			s = openState(t, db, Options{NodeCacheSize: -1 + 2*(h%2)*1000})
		}
		if s.Root() != refRoot(cur) {
			t.Fatalf("height %d: root %s, reference %s", h, s.Root(), refRoot(cur))
		}
	}
	for h := range model {
		for k := 0; k < 60; k += 7 {
			key := fmt.Sprintf("k%d", k)
			v, found, p, err := s.Prove([]byte(key), uint64(h))
			if err != nil {
				t.Fatal(err)
			}
			mv, ok := model[h][key]
			if found != ok || string(v) != mv {
				t.Fatalf("prove %s at %d: %q %v, want %q %v", key, h, v, found, mv, ok)
			}
			root, _ := s.RootAt(uint64(h))
			var val []byte
			if found {
				val = v
			}
			if err := smt.Verify(root, []byte(key), val, p); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CheckTree(uint64(h)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRollbackDeletesLaterNodes: rolling back to a height deletes the
// nodes stored above it (one key range) and leaves a tree that continues
// from that height with the reference roots.
func TestRollbackDeletesLaterNodes(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{Track: true})
	cur := map[string]string{}
	var model []map[string]string
	for h := 0; h < 8; h++ {
		var ws []Write
		for i := 0; i <= h%3; i++ {
			k, v := fmt.Sprintf("k%d", (h*5+i)%11), fmt.Sprint(h)
			ws = append(ws, Write{Key: []byte(k), Value: []byte(v)})
			cur[k] = v
		}
		commitWrites(t, s, db, ws)
		model = append(model, maps.Clone(cur))
	}
	b := db.NewBatch()
	if err := s.StageRollback(b, 4); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s = openState(t, db, Options{Track: true})
	if s.Height() != 4 || s.Root() != refRoot(model[4]) {
		t.Fatalf("after rollback: height %d root %s, want 4 %s", s.Height(), s.Root(), refRoot(model[4]))
	}
	for _, k := range nodeKeys(t, db) {
		if keyVersion(k) > 4 {
			t.Fatalf("node %x stored above the rollback height", k)
		}
	}
	model = model[:5]
	cur = maps.Clone(model[4])
	for h := 5; h < 9; h++ {
		k := fmt.Sprintf("n%d", h)
		cur[k] = "x"
		cur["k1"] = fmt.Sprint("again", h)
		commitWrites(t, s, db, []Write{{Key: []byte(k), Value: []byte("x")}, {Key: []byte("k1"), Value: []byte(cur["k1"])}})
		model = append(model, maps.Clone(cur))
	}
	keys := []string{"k1", "k2", "k3", "n5", "n8"}
	checkRetained(t, s, db, keys, model, false)
	for {
		res, err := s.Prune(8, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !res.More {
			break
		}
	}
	checkRetained(t, s, db, keys, model, true)
}

// TestBulkLoadThenUpdatesAndPrune: a bulk-loaded tree takes blocks,
// rewrites of the loaded keys included, and prunes the load's nodes once
// no retained height needs them.
func TestBulkLoadThenUpdatesAndPrune(t *testing.T) {
	db := openMemDB(t)
	const h0 = 100
	l := NewBulkLoader(db, h0)
	cur := map[string]string{}
	var keys []string
	for i := 0; i < 300; i++ {
		k := fmt.Sprintf("key%04d", i)
		keys = append(keys, k)
		cur[k] = "0"
		if err := l.Add([]byte(k), []byte("0")); err != nil {
			t.Fatal(err)
		}
	}
	root, err := l.Finish()
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	if err := StageOldest(b, h0); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if root != refRoot(cur) {
		t.Fatalf("bulk root %s, reference %s", root, refRoot(cur))
	}
	s := openState(t, db, Options{Track: true, NodeCacheSize: 128})
	model := make([]map[string]string, h0) // heights below the load: nil, pruned
	model = append(model, maps.Clone(cur))
	r := rand.New(rand.NewPCG(9, 9))
	for h := h0 + 1; h < h0+30; h++ {
		var ws []Write
		for i := 0; i < 20; i++ {
			k := keys[r.IntN(len(keys))]
			if i%5 == 0 {
				k = fmt.Sprintf("new%d-%d", h, i)
				keys = append(keys, k)
			}
			v := fmt.Sprint(r.IntN(2))
			ws = append(ws, Write{Key: []byte(k), Value: []byte(v)})
			cur[k] = v
		}
		commitWrites(t, s, db, ws)
		model = append(model, maps.Clone(cur))
	}
	sample := []string{keys[0], keys[150], keys[299], keys[len(keys)-1]}
	checkRetained(t, s, db, sample, model, false)
	for {
		res, err := s.Prune(h0+20, 50, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !res.More {
			break
		}
	}
	checkRetained(t, s, db, sample, model, true)
}

// TestStorageFormat: a database without state gets the format record; one
// holding state of the hash-keyed layout (no record), or a record of
// another format, is refused with ErrStorageFormat and left unchanged.
func TestStorageFormat(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{})
	commitWrites(t, s, db, []Write{{Key: []byte("k"), Value: []byte("v")}})
	if v, err := readU64(db, keyFormat); err != nil || v != storageFormat {
		t.Fatalf("format record %d, %v", v, err)
	}
	openState(t, db, Options{}) // reopens fine

	old := openMemDB(t)
	// The old layout: a root record holding only a hash, nodes by hash.
	if err := old.Set(rootKey(0), make([]byte, 32), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	before := dbDump(t, old)
	if _, err := Open(old, Options{Track: true}); !errors.Is(err, ErrStorageFormat) {
		t.Fatalf("opening the old layout: %v, want ErrStorageFormat", err)
	}
	if dbDump(t, old) != before {
		t.Fatal("refused open changed the database")
	}

	other := openMemDB(t)
	if err := other.Set(keyFormat, binary.BigEndian.AppendUint64(nil, 99), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(other, Options{}); !errors.Is(err, ErrStorageFormat) {
		t.Fatalf("opening format 99: %v, want ErrStorageFormat", err)
	}
}
