package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/smt"
)

func openMemDB(t testing.TB) *pebble.DB {
	t.Helper()
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatalf("open pebble: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openState(t testing.TB, db *pebble.DB, opts Options) *Tree {
	t.Helper()
	s, err := Open(db, opts)
	if err != nil {
		t.Fatalf("open state: %v", err)
	}
	return s
}

func nextHeight(s *Tree) uint64 {
	if !s.Initialized() {
		return 0
	}
	return s.Height() + 1
}

// commitWrites runs one block through Prepare, Stage, a synced batch commit
// and Committed, as the ledger does.
func commitWrites(t testing.TB, s *Tree, db *pebble.DB, writes []Write) *Update {
	t.Helper()
	u, err := s.Prepare(nextHeight(s), writes)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	b := db.NewBatch()
	if err := s.Stage(b, u); err != nil {
		t.Fatalf("stage: %v", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatalf("commit batch: %v", err)
	}
	s.Committed(u)
	if s.Root() != u.Root() || s.Height() != u.Height() {
		t.Fatalf("after commit: state at height %d root %s, update height %d root %s", s.Height(), s.Root(), u.Height(), u.Root())
	}
	return u
}

// refRoot computes the root of the tree holding kv from its definition,
// independently of the package's incremental code: paths as bit strings,
// recursively split until a subtree holds at most one key.
func refRoot(kv map[string]string) crypto.Hash {
	type leaf struct {
		bits string
		h    crypto.Hash
	}
	var leaves []leaf
	for k, v := range kv {
		kh := sha256.Sum256([]byte(k))
		vh := sha256.Sum256([]byte(v))
		var sb strings.Builder
		for _, c := range kh {
			fmt.Fprintf(&sb, "%08b", c)
		}
		pre := append([]byte{0}, kh[:]...)
		lh := sha256.Sum256(append(pre, vh[:]...))
		leaves = append(leaves, leaf{bits: sb.String(), h: lh})
	}
	var rec func(depth int, ls []leaf) crypto.Hash
	rec = func(depth int, ls []leaf) crypto.Hash {
		switch len(ls) {
		case 0:
			return crypto.Hash{}
		case 1:
			return ls[0].h
		}
		var l, r []leaf
		for _, x := range ls {
			if x.bits[depth] == '0' {
				l = append(l, x)
			} else {
				r = append(r, x)
			}
		}
		lh, rh := rec(depth+1, l), rec(depth+1, r)
		return sha256.Sum256(append(append([]byte{1}, lh[:]...), rh[:]...))
	}
	return rec(0, leaves)
}

func randKey(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestEmptyAndSingleKeyRoots(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{})
	if s.Initialized() || s.Height() != 0 || !s.Root().IsZero() {
		t.Fatalf("fresh state: initialized %v height %d root %s", s.Initialized(), s.Height(), s.Root())
	}
	if _, err := s.RootAt(0); err == nil {
		t.Fatal("RootAt(0) before genesis succeeded")
	}
	commitWrites(t, s, db, nil)
	if !s.Initialized() || s.Height() != 0 || !s.Root().IsZero() {
		t.Fatalf("empty genesis: initialized %v height %d root %s", s.Initialized(), s.Height(), s.Root())
	}
	commitWrites(t, s, db, []Write{{Key: []byte("k"), Value: []byte("v")}})
	want := smt.LeafHash(sha256.Sum256([]byte("k")), sha256.Sum256([]byte("v")))
	if s.Root() != want {
		t.Fatalf("one-key root %s, want leaf hash %s", s.Root(), want)
	}
	if r, err := s.RootAt(0); err != nil || !r.IsZero() {
		t.Fatalf("RootAt(0) = %s, %v; want zero", r, err)
	}
	// An empty value is a value, distinct from absence.
	commitWrites(t, s, db, []Write{{Key: []byte("e"), Value: []byte{}}})
	if v, ok, err := s.Get([]byte("e")); err != nil || !ok || v == nil || len(v) != 0 {
		t.Fatalf("Get empty value = %#v, %v, %v", v, ok, err)
	}
	v, found, p, err := s.Prove([]byte("e"), s.Height())
	if err != nil || !found || v == nil {
		t.Fatalf("Prove empty value = %#v, %v, %v", v, found, err)
	}
	if err := smt.Verify(s.Root(), []byte("e"), v, p); err != nil {
		t.Fatalf("verify empty value: %v", err)
	}
	if smt.Verify(s.Root(), []byte("e"), nil, p) == nil {
		t.Fatal("membership proof of an empty value verifies as absence")
	}
	if hist, err := s.History([]byte("e"), 0, 5); err != nil || len(hist) != 1 || hist[0].Value == nil {
		t.Fatalf("History of empty value = %#v, %v", hist, err)
	}
}

// TestRootMatchesReference checks the incremental tree against the
// reference definition for random key sets, and that the root depends only
// on the final key set, not on how writes were ordered or split into blocks.
func TestRootMatchesReference(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 99))
			n := 1 + r.IntN(400)
			keys := make([][]byte, n)
			for i := range keys {
				keys[i] = randKey(r, 1+r.IntN(6)) // short keys: some repeat
			}
			kv := map[string]string{}
			var all []Write
			for i := 0; i < 2*n; i++ {
				k := keys[r.IntN(n)]
				v := randKey(r, r.IntN(4))
				all = append(all, Write{Key: k, Value: v})
			}

			// A: random batching into blocks, checking each block's root.
			dbA := openMemDB(t)
			a := openState(t, dbA, Options{})
			commitWrites(t, a, dbA, nil)
			for i := 0; i < len(all); {
				j := min(len(all), i+1+r.IntN(50))
				commitWrites(t, a, dbA, all[i:j])
				for _, w := range all[i:j] {
					kv[string(w.Key)] = string(w.Value)
				}
				if want := refRoot(kv); a.Root() != want {
					t.Fatalf("after writes [%d,%d): root %s, reference %s", i, j, a.Root(), want)
				}
				i = j
			}
			if err := a.CheckTree(a.Height()); err != nil {
				t.Fatal(err)
			}

			// B: only the final value of each key, shuffled, in one block,
			// with no node cache.
			var final []Write
			for k, v := range kv {
				final = append(final, Write{Key: []byte(k), Value: []byte(v)})
			}
			r.Shuffle(len(final), func(i, j int) { final[i], final[j] = final[j], final[i] })
			dbB := openMemDB(t)
			b := openState(t, dbB, Options{NodeCacheSize: -1})
			commitWrites(t, b, dbB, final)
			if a.Root() != b.Root() {
				t.Fatalf("batched root %s != single-block root %s", a.Root(), b.Root())
			}

			// C: keys inserted one per block in reverse order.
			dbC := openMemDB(t)
			c := openState(t, dbC, Options{NodeCacheSize: 8}) // tiny cache: exercises eviction
			for i := len(final) - 1; i >= 0; i-- {
				commitWrites(t, c, dbC, final[i:i+1])
			}
			if a.Root() != c.Root() {
				t.Fatalf("batched root %s != one-key-per-block root %s", a.Root(), c.Root())
			}
			if err := c.CheckTree(c.Height()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestIdenticalRewrite: writing a key's current value leaves the root as is.
func TestIdenticalRewrite(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{})
	var ws []Write
	for i := 0; i < 50; i++ {
		ws = append(ws, Write{Key: []byte{byte(i)}, Value: []byte{byte(i), 1}})
	}
	commitWrites(t, s, db, ws)
	before := s.Root()
	u := commitWrites(t, s, db, ws[10:20])
	if u.Root() != before {
		t.Fatalf("rewriting same values changed root %s -> %s", before, u.Root())
	}
	if err := s.CheckTree(s.Height()); err != nil {
		t.Fatal(err)
	}
}

func TestGetAtAndHistory(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{})
	k := []byte("key")
	other := []byte("ke") // a prefix of k: the histories must not mix
	blocks := [][]Write{
		{{Key: other, Value: []byte("o0")}},                          // h0
		{{Key: k, Value: []byte("a")}, {Key: k, Value: []byte("b")}}, // h1
		{{Key: other, Value: []byte("o2")}},                          // h2
		{ // h3
			{Key: []byte("x"), Value: []byte("1")}, {Key: k, Value: []byte("c")}, {Key: []byte("y"), Value: []byte("2")},
			{Key: k, Value: []byte("d")}, {Key: k, Value: []byte("e")},
		},
	}
	for _, b := range blocks {
		commitWrites(t, s, db, b)
	}

	wantAt := map[uint64]string{0: "", 1: "b", 2: "b", 3: "e"}
	for h, want := range wantAt {
		v, ok, err := s.GetAt(k, h)
		if err != nil {
			t.Fatalf("GetAt(%d): %v", h, err)
		}
		if ok != (want != "") || string(v) != want {
			t.Fatalf("GetAt(%d) = %q, %v; want %q", h, v, ok, want)
		}
	}
	if _, _, err := s.GetAt(k, 4); err == nil {
		t.Fatal("GetAt above the committed height succeeded")
	}
	if v, ok, _ := s.GetAt(other, 1); !ok || string(v) != "o0" {
		t.Fatalf("GetAt(other, 1) = %q, %v", v, ok)
	}
	if v, ok, err := s.Get(k); err != nil || !ok || string(v) != "e" {
		t.Fatalf("Get = %q, %v, %v", v, ok, err)
	}
	if _, ok, _ := s.Get([]byte("missing")); ok {
		t.Fatal("Get of a missing key found it")
	}

	hist, err := s.History(k, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []Version{{1, 0, []byte("a")}, {1, 1, []byte("b")}, {3, 1, []byte("c")}, {3, 3, []byte("d")}, {3, 4, []byte("e")}}
	if fmt.Sprint(hist) != fmt.Sprint(want) {
		t.Fatalf("History = %v, want %v", hist, want)
	}
	if hist, _ := s.History(k, 2, 2); fmt.Sprint(hist) != fmt.Sprint(want[2:4]) {
		t.Fatalf("History(from 2, limit 2) = %v, want %v", hist, want[2:4])
	}
	if hist, _ := s.History(k, 4, 10); len(hist) != 0 {
		t.Fatalf("History beyond height = %v", hist)
	}
	if hist, _ := s.History(other, 0, 10); len(hist) != 2 {
		t.Fatalf("History(other) = %v, want 2 versions", hist)
	}
	if _, err := s.History(k, 0, 0); err == nil {
		t.Fatal("History with limit 0 succeeded")
	}

	newest, err := s.HistoryNewest(k, 100)
	if err != nil {
		t.Fatal(err)
	}
	rev := slices.Clone(want)
	slices.Reverse(rev)
	if fmt.Sprint(newest) != fmt.Sprint(rev) {
		t.Fatalf("HistoryNewest = %v, want %v", newest, rev)
	}
	if newest, _ := s.HistoryNewest(k, 2); fmt.Sprint(newest) != fmt.Sprint(rev[:2]) {
		t.Fatalf("HistoryNewest(limit 2) = %v, want %v", newest, rev[:2])
	}
	if newest, _ := s.HistoryNewest(other, 10); fmt.Sprint(newest) != fmt.Sprint([]Version{{2, 0, []byte("o2")}, {0, 0, []byte("o0")}}) {
		t.Fatalf("HistoryNewest(other) = %v", newest)
	}
	if newest, _ := s.HistoryNewest([]byte("missing"), 10); len(newest) != 0 {
		t.Fatalf("HistoryNewest(missing) = %v", newest)
	}
	if _, err := s.HistoryNewest(k, 0); err == nil {
		t.Fatal("HistoryNewest with limit 0 succeeded")
	}
}

func TestScan(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{})
	commitWrites(t, s, db, []Write{
		{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b/1"), Value: []byte("2")},
		{Key: []byte("b/2"), Value: []byte("")}, {Key: []byte("b\xff"), Value: []byte("4")},
		{Key: []byte("c"), Value: []byte("5")},
	})
	commitWrites(t, s, db, []Write{{Key: []byte("b/1"), Value: []byte("2'")}})
	scan := func(start, end []byte, stopAfter int) string {
		t.Helper()
		var out []string
		err := s.Scan(start, end, func(k, v []byte) (bool, error) {
			out = append(out, string(k)+"="+string(v))
			return len(out) < stopAfter, nil
		})
		if err != nil {
			t.Fatalf("Scan(%q, %q): %v", start, end, err)
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		start, end []byte
		stop       int
		want       string
	}{
		{[]byte("b"), []byte("c"), 100, "b/1=2' b/2= b\xff=4"},
		{[]byte("b/"), []byte("b0"), 100, "b/1=2' b/2="},
		{[]byte("b"), []byte("c"), 2, "b/1=2' b/2="},
		{nil, nil, 100, "a=1 b/1=2' b/2= b\xff=4 c=5"},
		{[]byte("b\xff"), nil, 100, "b\xff=4 c=5"},
		{[]byte("d"), nil, 100, ""},
	} {
		if got := scan(c.start, c.end, c.stop); got != c.want {
			t.Errorf("Scan(%q, %q) stopping after %d = %q, want %q", c.start, c.end, c.stop, got, c.want)
		}
	}
	stop := errors.New("stop")
	if err := s.Scan(nil, nil, func(k, v []byte) (bool, error) { return true, stop }); !errors.Is(err, stop) {
		t.Fatalf("Scan returned %v, want the callback's error", err)
	}
}

func TestReopen(t *testing.T) {
	fs := vfs.NewMem()
	db, err := pebble.Open("db", &pebble.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	s := openState(t, db, Options{})
	r := rand.New(rand.NewPCG(5, 5))
	var keys [][]byte
	for h := 0; h < 5; h++ {
		var ws []Write
		for i := 0; i < 30; i++ {
			k := randKey(r, 8)
			keys = append(keys, k)
			ws = append(ws, Write{Key: k, Value: randKey(r, 4)})
		}
		commitWrites(t, s, db, ws)
	}
	height, root := s.Height(), s.Root()
	root2, _ := s.RootAt(2)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = pebble.Open("db", &pebble.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s2 := openState(t, db, Options{})
	if !s2.Initialized() || s2.Height() != height || s2.Root() != root {
		t.Fatalf("reopened at height %d root %s, want %d %s", s2.Height(), s2.Root(), height, root)
	}
	if got, _ := s2.RootAt(2); got != root2 {
		t.Fatalf("reopened RootAt(2) = %s, want %s", got, root2)
	}
	for _, k := range keys {
		v, ok, err := s2.Get(k)
		if err != nil || !ok {
			t.Fatalf("reopened Get(%x) = %v, %v", k, ok, err)
		}
		pv, found, p, err := s2.Prove(k, height)
		if err != nil || !found || !bytes.Equal(pv, v) {
			t.Fatalf("reopened Prove(%x) = %x, %v, %v", k, pv, found, err)
		}
		if err := smt.Verify(root, k, v, p); err != nil {
			t.Fatal(err)
		}
	}
	// The reopened state continues the chain.
	commitWrites(t, s2, db, []Write{{Key: []byte("after"), Value: []byte("reopen")}})
	if s2.Height() != height+1 {
		t.Fatalf("height after reopen+commit %d", s2.Height())
	}
	if err := s2.CheckTree(s2.Height()); err != nil {
		t.Fatal(err)
	}
}

// dbKeys returns every key/value in db, for comparing observable state.
func dbDump(t *testing.T, db *pebble.DB) string {
	t.Helper()
	it, err := db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var sb strings.Builder
	for ok := it.First(); ok; ok = it.Next() {
		fmt.Fprintf(&sb, "%x=%x\n", it.Key(), it.Value())
	}
	return sb.String()
}

func TestPrepareHasNoEffect(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{})
	commitWrites(t, s, db, []Write{{Key: []byte("a"), Value: []byte("1")}})
	commitWrites(t, s, db, []Write{{Key: []byte("b"), Value: []byte("2")}})
	before := dbDump(t, db)
	height, root := s.Height(), s.Root()

	u, err := s.Prepare(height+1, []Write{{Key: []byte("a"), Value: []byte("changed")}, {Key: []byte("c"), Value: []byte("3")}})
	if err != nil {
		t.Fatal(err)
	}
	if u.Root() == root {
		t.Fatal("prepared root equals the current root")
	}
	if dbDump(t, db) != before || s.Height() != height || s.Root() != root {
		t.Fatal("Prepare changed the database or the in-memory state")
	}
	if v, _, _ := s.Get([]byte("a")); string(v) != "1" {
		t.Fatalf("Get after Prepare = %q", v)
	}
	if _, found, _, _ := s.Prove([]byte("c"), height); found {
		t.Fatal("prepared key is provable")
	}

	// Wrong heights are refused.
	if _, err := s.Prepare(height, nil); err == nil {
		t.Fatal("Prepare for the committed height succeeded")
	}
	if _, err := s.Prepare(height+2, nil); err == nil {
		t.Fatal("Prepare skipping a height succeeded")
	}
	if _, err := s.Prepare(height+1, []Write{{Key: []byte("n"), Value: nil}}); err == nil {
		t.Fatal("Prepare with a nil value succeeded")
	}

	// Another block commits instead: the abandoned update is now stale.
	commitWrites(t, s, db, []Write{{Key: []byte("d"), Value: []byte("4")}})
	b := db.NewBatch()
	if err := s.Stage(b, u); err == nil {
		t.Fatal("Stage of a stale update succeeded")
	}
	if b.Count() != 0 {
		t.Fatal("stale Stage wrote to the batch")
	}
	root = s.Root()
	s.Committed(u) // ignored
	if s.Root() != root {
		t.Fatal("Committed of a stale update changed the root")
	}
}

// TestPrepareCopiesWrites: the caller may reuse its buffers after Prepare.
func TestPrepareCopiesWrites(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{})
	k, v := []byte("key"), []byte("val")
	u, err := s.Prepare(0, []Write{{Key: k, Value: v}})
	if err != nil {
		t.Fatal(err)
	}
	copy(k, "XXX")
	copy(v, "YYY")
	b := db.NewBatch()
	if err := s.Stage(b, u); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s.Committed(u)
	if got, ok, _ := s.Get([]byte("key")); !ok || string(got) != "val" {
		t.Fatalf("Get = %q, %v", got, ok)
	}
}

func TestCheckTreeDetectsCorruption(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{})
	var ws []Write
	for i := 0; i < 100; i++ {
		ws = append(ws, Write{Key: []byte(fmt.Sprint(i)), Value: []byte("v")})
	}
	u := commitWrites(t, s, db, ws)
	if err := s.CheckTree(0); err != nil {
		t.Fatalf("CheckTree of a good tree: %v", err)
	}
	// Overwrite one stored leaf with a different (well-formed) leaf.
	var victim newNode
	for _, nn := range u.nodes {
		if nn.n.isLeaf() {
			victim = nn
			break
		}
	}
	bad := victim.n
	bad.b[0] ^= 1
	if err := db.Set(nodeKey(0, victim.pos), bad.appendStored(nil), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	err := s.CheckTree(0)
	if err == nil || !strings.Contains(err.Error(), victim.hash.String()) {
		t.Fatalf("CheckTree after corrupting node %s: %v", victim.hash, err)
	}
	// A missing node is reported too.
	if err := db.Delete(nodeKey(0, victim.pos), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckTree(0); err == nil {
		t.Fatal("CheckTree with a missing node passed")
	}
}

// TestCheckTreeShape: a tree with a correct hash chain but a non-canonical
// shape (an internal node over a lone leaf) is rejected.
func TestCheckTreeShape(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{})
	commitWrites(t, s, db, []Write{{Key: []byte("only"), Value: []byte("v")}})
	kh := crypto.Hash(sha256.Sum256([]byte("only")))
	leaf := treeNode{tag: tagLeaf, a: kh, b: sha256.Sum256([]byte("v"))}
	lh := leaf.hash()
	in := treeNode{tag: tagInternal, a: lh}
	if smt.Bit(&kh, 0) == 1 {
		in = treeNode{tag: tagInternal, b: lh}
	}
	ih := in.hash()
	b := db.NewBatch()
	_ = b.Set(nodeKey(0, nodePos{}), in.appendStored(nil), nil)
	_ = b.Set(nodeKey(0, posOf(1, &kh)), leaf.appendStored(nil), nil)
	_ = b.Set(rootKey(0), rootValue(ih, 0), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckTree(0); err == nil || !strings.Contains(err.Error(), "collapse") {
		t.Fatalf("CheckTree of a non-canonical tree: %v", err)
	}
}

// TestConcurrentReads runs readers against a writer; run with -race.
func TestConcurrentReads(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{NodeCacheSize: 256})
	commitWrites(t, s, db, []Write{{Key: []byte("k0"), Value: []byte("v")}})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				h := s.Height()
				root, err := s.RootAt(h)
				if err != nil {
					errs <- err
					return
				}
				k := []byte(fmt.Sprintf("k%d", i%50))
				v, found, p, err := s.Prove(k, h)
				if err != nil {
					errs <- err
					return
				}
				if !found {
					v = nil
				}
				if err := smt.Verify(root, k, v, p); err != nil {
					errs <- fmt.Errorf("height %d key %s: %w", h, k, err)
					return
				}
			}
		}()
	}
	for h := 1; h <= 40; h++ {
		var ws []Write
		for i := 0; i < 10; i++ {
			ws = append(ws, Write{Key: []byte(fmt.Sprintf("k%d", (h*7+i)%50)), Value: []byte(fmt.Sprint(h))})
		}
		commitWrites(t, s, db, ws)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestVersionJSON(t *testing.T) {
	b, err := json.Marshal(Version{Height: 3, Seq: 1, Value: []byte("x")})
	if err != nil || string(b) != `{"height":3,"seq":1,"value":"eA=="}` {
		t.Fatalf("Version JSON = %s, %v", b, err)
	}
}
