package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/crypto"
)

// TestBulkLoadMatchesIncremental builds states of several sizes both ways
// (block by block through Prepare/Stage, and in one bulk load from the
// exported pairs) and requires the same root, a tree that passes
// CheckTree, proofs that verify, and GetAt at the load's height.
func TestBulkLoadMatchesIncremental(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 17, 1000, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(n), 7))
			src := openMemDB(t)
			s := openState(t, src, Options{})
			commitWrites(t, s, src, nil) // genesis, empty
			var writes []Write
			for i := 0; i < n; i++ {
				k := fmt.Appendf(nil, "k%d-%d", i, rng.Uint32())
				writes = append(writes, Write{Key: k, Value: fmt.Appendf(nil, "v%d", rng.Uint64())})
				if len(writes) == 700 || i == n-1 {
					commitWrites(t, s, src, writes)
					writes = nil
				}
			}
			want := s.Root()
			h := s.Height()

			dst := openMemDB(t)
			l := NewBulkLoader(dst, h)
			var keys [][]byte
			if err := ExportLatest(src, func(k, v []byte) error {
				keys = append(keys, bytes.Clone(k))
				return l.Add(k, v)
			}); err != nil {
				t.Fatal(err)
			}
			got, err := l.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("bulk root %s, incremental root %s", got, want)
			}
			bt := openState(t, dst, Options{})
			if bt.Height() != h || bt.Root() != want {
				t.Fatalf("reopened at %d root %s, want %d %s", bt.Height(), bt.Root(), h, want)
			}
			if err := bt.CheckTree(h); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
			for _, i := range []int{0, len(keys) / 2, len(keys) - 1} {
				k := keys[i]
				wantV, _, _ := s.Get(k)
				v, ok, err := bt.GetAt(k, h)
				if err != nil || !ok || !bytes.Equal(v, wantV) {
					t.Fatalf("GetAt(%q) = %q %v %v, want %q", k, v, ok, err, wantV)
				}
				_, _, p1, err := s.Prove(k, h)
				if err != nil {
					t.Fatal(err)
				}
				_, _, p2, err := bt.Prove(k, h)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(p1.Encode(), p2.Encode()) {
					t.Fatalf("proof of %q differs", k)
				}
			}
			it, _ := dst.NewIter(&pebble.IterOptions{LowerBound: []byte{'s', 'p'}, UpperBound: []byte{'s', 'q'}})
			if it.First() {
				t.Fatalf("scratch entry %x left behind", it.Key())
			}
			it.Close()
			// The loaded tree keeps working: one more block on top of it
			// gives the same root as on the source.
			more := []Write{{Key: keys[0], Value: []byte("changed")}, {Key: []byte("new"), Value: []byte("x")}}
			commitWrites(t, s, src, more)
			commitWrites(t, bt, dst, more)
			if s.Root() != bt.Root() {
				t.Fatalf("after one more block: %s vs %s", s.Root(), bt.Root())
			}
		})
	}
}

// TestBulkLoadRefusesDisorder: keys out of order or repeated are an error,
// not a wrong tree.
func TestBulkLoadRefusesDisorder(t *testing.T) {
	l := NewBulkLoader(openMemDB(t), 5)
	if err := l.Add([]byte("b"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b"} {
		if err := l.Add([]byte(k), []byte("1")); err == nil {
			t.Fatalf("key %q after \"b\" accepted", k)
		}
	}
}

// TestTreeBuilderSorted: the builder refuses paths out of order.
func TestTreeBuilderSorted(t *testing.T) {
	b := treeBuilder{emit: func(treeNode, nodePos) error { return nil }}
	p := []crypto.Hash{{2}, {1}}
	if err := b.add(p[0], crypto.Hash{}); err != nil {
		t.Fatal(err)
	}
	if err := b.add(p[1], crypto.Hash{}); err == nil {
		t.Fatal("descending path accepted")
	}
}
