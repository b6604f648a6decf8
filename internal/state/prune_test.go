package state

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/smt"
)

// TestPruneModel runs random blocks over a few keys and fewer values, so
// that identical values, leaves and whole subtrees come back again and
// again, with Prune called between blocks at random oldest heights and
// batch sizes. After every step, every retained height must still have its
// reference root, a complete and canonical tree, a verifying proof for
// every key and the model's value; pruned heights answer *PrunedError; and
// the stored nodes are exactly the union of the retained trees' nodes
// (nothing live deleted, nothing dead left).
func TestPruneModel(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { pruneModel(t, seed) })
	}
}

func pruneModel(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 99))
	db := openMemDB(t)
	s := openState(t, db, Options{Track: true, NodeCacheSize: 64})
	nKeys := 3 + r.IntN(6)
	keys := make([]string, nKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	values := []string{"a", "b", "c"}
	var model []map[string]string // model[h]: the state after height h
	cur := map[string]string{}
	commit := func(n int) {
		var ws []Write
		for range n {
			k, v := keys[r.IntN(nKeys)], values[r.IntN(len(values))]
			ws = append(ws, Write{Key: []byte(k), Value: []byte(v)})
			cur[k] = v
		}
		commitWrites(t, s, db, ws)
		model = append(model, maps.Clone(cur))
	}
	commit(2) // genesis
	for step := 0; step < 120; step++ {
		commit(r.IntN(4))
		if r.IntN(3) == 0 {
			h := s.Height()
			oldest := s.Oldest() + uint64(r.IntN(int(h-s.Oldest())+1))
			complete := false
			for {
				res, err := s.Prune(oldest, 1+r.IntN(6), nil)
				if err != nil {
					t.Fatalf("prune to %d: %v", oldest, err)
				}
				if complete = !res.More; complete || r.IntN(4) == 0 {
					break // sometimes leave work for later, with commits between
				}
			}
			checkRetained(t, s, db, keys, model, complete)
		}
	}
	for {
		res, err := s.Prune(s.Height(), 1000, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !res.More {
			break
		}
	}
	checkRetained(t, s, db, keys, model, true)
}

// checkRetained checks every retained height; with complete (Prune said
// nothing is left), also that no dead node is left.
// TestPruneConcurrent prunes on one goroutine while another commits, as a
// node does (Stage and commit under the lock Prune writes under), with
// values that come back all the time: a node that comes back while Prune
// reads is a new copy, and every retained height stays whole.
func TestPruneConcurrent(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			db := openMemDB(t)
			s := openState(t, db, Options{Track: true, NodeCacheSize: 64})
			keys := []string{"a", "b", "c", "d", "e", "f"}
			values := []string{"x", "y"}
			var mu sync.Mutex
			var model []map[string]string
			cur := map[string]string{}
			commit := func() {
				var ws []Write
				for range 1 + r.IntN(3) {
					k, v := keys[r.IntN(len(keys))], values[r.IntN(len(values))]
					ws = append(ws, Write{Key: []byte(k), Value: []byte(v)})
					cur[k] = v
				}
				mu.Lock()
				commitWrites(t, s, db, ws)
				mu.Unlock()
				model = append(model, maps.Clone(cur))
			}
			commit()
			stop, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				for {
					select {
					case <-stop:
						return
					default:
					}
					h := s.Height()
					if h < 3 {
						continue
					}
					if _, err := s.Prune(h-2, 4, &mu); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			for range 400 {
				commit()
			}
			close(stop)
			<-done
			checkRetained(t, s, db, keys, model, false)
		})
	}
}

func checkRetained(t *testing.T, s *Tree, db *pebble.DB, keys []string, model []map[string]string, complete bool) {
	t.Helper()
	oldest, height := s.Oldest(), s.Height()
	want := map[string]bool{} // storage keys of the retained trees' nodes
	for h := uint64(0); h <= height; h++ {
		if h < oldest {
			var pe *PrunedError
			if _, err := s.RootAt(h); !errors.As(err, &pe) || pe.Oldest != oldest {
				t.Fatalf("root at pruned height %d (oldest %d): %v", h, oldest, err)
			}
			if _, _, err := s.GetAt([]byte(keys[0]), h); !errors.As(err, &pe) {
				t.Fatalf("get at pruned height %d: %v", h, err)
			}
			continue
		}
		root, err := s.RootAt(h)
		if err != nil {
			t.Fatalf("root at %d (oldest %d): %v", h, oldest, err)
		}
		if ref := refRoot(model[h]); root != ref {
			t.Fatalf("root at %d is %s, reference %s", h, root, ref)
		}
		if err := s.CheckTree(h); err != nil {
			t.Fatalf("height %d (oldest %d, head %d): %v", h, oldest, height, err)
		}
		_, rootVer, err := s.rootRefAt(h)
		if err != nil {
			t.Fatal(err)
		}
		collectNodes(t, s, root, rootVer, nodePos{}, want)
		for _, k := range keys {
			mv, inModel := model[h][k]
			v, found, p, err := s.Prove([]byte(k), h)
			if err != nil {
				t.Fatalf("prove %s at %d: %v", k, h, err)
			}
			if found != inModel || (found && string(v) != mv) {
				t.Fatalf("prove %s at %d: found %v %q, model %v %q", k, h, found, v, inModel, mv)
			}
			var val []byte
			if found {
				val = v
			}
			if err := smt.Verify(root, []byte(k), val, p); err != nil {
				t.Fatalf("proof of %s at %d: %v", k, h, err)
			}
			gv, gok, err := s.GetAt([]byte(k), h)
			if err != nil || gok != inModel || string(gv) != mv {
				t.Fatalf("get %s at %d: %q %v %v, model %q", k, h, gv, gok, err, mv)
			}
		}
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState, prefixNode}, UpperBound: []byte{prefixState, prefixNode + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	stored := 0
	for ok := it.First(); ok; ok = it.Next() {
		if !want[string(it.Key())] && complete {
			t.Fatalf("node %x is stored but in no retained tree (oldest %d, head %d)", it.Key(), oldest, height)
		}
		stored++
	}
	if complete && stored != len(want) {
		t.Fatalf("%d nodes stored, retained trees have %d", stored, len(want))
	}
}

func collectNodes(t *testing.T, s *Tree, h crypto.Hash, ver uint64, pos nodePos, into map[string]bool) {
	k := string(nodeKey(ver, pos))
	if h.IsZero() || into[k] {
		return
	}
	into[k] = true
	n, err := s.readNode(h, ver, pos)
	if err != nil {
		t.Fatalf("node %s: %v", h, err)
	}
	if n.hash() != h {
		t.Fatalf("node stored at %x hashes to %s, its parent names %s", k, n.hash(), h)
	}
	if !n.isLeaf() {
		collectNodes(t, s, n.a, n.va, pos.child(0), into)
		collectNodes(t, s, n.b, n.vb, pos.child(1), into)
	}
}

// TestPruneHistory checks that history below the oldest height goes, but
// the version current at the oldest height stays, and that KeepHistory
// keys keep all of theirs.
func TestPruneHistory(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{Track: true, KeepHistory: func(k []byte) bool { return k[0] == 'c' }})
	commitWrites(t, s, db, []Write{{Key: []byte("k"), Value: []byte("v0")}, {Key: []byte("c"), Value: []byte("c0")}})
	for i := 1; i <= 5; i++ {
		commitWrites(t, s, db, []Write{{Key: []byte("k"), Value: []byte(fmt.Sprint("v", i))}, {Key: []byte("c"), Value: []byte(fmt.Sprint("c", i))}})
	}
	commitWrites(t, s, db, []Write{{Key: []byte("other"), Value: []byte("x")}}) // height 6
	if _, err := s.Prune(6, 100, nil); err != nil {
		t.Fatal(err)
	}
	vs, err := s.HistoryNewest([]byte("k"), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Height != 5 || string(vs[0].Value) != "v5" {
		t.Fatalf("history of k after pruning to 6: %+v, want only v5 at 5", vs)
	}
	if v, ok, err := s.GetAt([]byte("k"), 6); err != nil || !ok || string(v) != "v5" {
		t.Fatalf("k at 6: %q %v %v", v, ok, err)
	}
	cs, err := s.HistoryNewest([]byte("c"), 10)
	if err != nil || len(cs) != 6 {
		t.Fatalf("history of a kept key: %d versions (%v), want 6", len(cs), err)
	}
	var pe *PrunedError
	if _, err := s.History([]byte("k"), 2, 10); !errors.As(err, &pe) || pe.Oldest != 6 || pe.Height != 2 {
		t.Fatalf("history from a pruned height: %v", err)
	}
	if err := s.CheckTree(6); err != nil {
		t.Fatal(err)
	}
}

// TestPruneRefusals: no pruning without records, above the head, or
// lowering the oldest height.
func TestPruneRefusals(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{})
	commitWrites(t, s, db, []Write{{Key: []byte("k"), Value: []byte("v")}})
	if _, err := s.Prune(0, 10, nil); err == nil {
		t.Fatal("pruned a tree without records")
	}
	s = openState(t, db, Options{Track: true})
	commitWrites(t, s, db, []Write{{Key: []byte("k"), Value: []byte("w")}})
	if _, err := s.Prune(5, 10, nil); err == nil {
		t.Fatal("pruned above the head")
	}
	if _, err := s.Prune(1, 10, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(0, 10, nil); err != nil || s.Oldest() != 1 {
		t.Fatalf("oldest after asking for 0: %d (%v), want it to stay 1", s.Oldest(), err)
	}
	// Reopened without Track: tracking and the oldest height persist.
	s = openState(t, db, Options{})
	if !s.Tracking() || s.Oldest() != 1 {
		t.Fatalf("reopened: tracking %v oldest %d", s.Tracking(), s.Oldest())
	}
}
