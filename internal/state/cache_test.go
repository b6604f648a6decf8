package state

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/smt"
)

func testHash(i int) crypto.Hash {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return crypto.Sum(b[:])
}

func TestNodeCache(t *testing.T) {
	const capacity = 1 << 14
	c := newNodeCache(capacity)
	if c.maxSets != capacity/cacheWays {
		t.Fatalf("maxSets %d", c.maxSets)
	}
	// Fill to half capacity, one node per call: the table grows from its
	// initial size and keeps (nearly) every entry, leaves and internal
	// nodes alike.
	const n = capacity / 2
	for i := 0; i < n; i++ {
		nd := treeNode{tag: byte(i % 2), a: testHash(-i), b: testHash(i)}
		c.apply(nil, []newNode{{hash: testHash(i), n: nd}})
	}
	if got := len(c.tab.Load().sets); got <= cacheMinSets {
		t.Fatalf("table did not grow: %d sets", got)
	}
	missing := 0
	for i := 0; i < n; i++ {
		got, ok := c.get(testHash(i))
		if !ok {
			missing++
			continue
		}
		if got != (treeNode{tag: byte(i % 2), a: testHash(-i), b: testHash(i)}) {
			t.Fatalf("entry %d: wrong node %+v", i, got)
		}
		if owner, _ := c.getOwner(testHash(i)); owner != got {
			t.Fatalf("entry %d: getOwner and get disagree", i)
		}
	}
	// At half load, buddy sets absorb full sets' overflow.
	if missing > n/1000 {
		t.Fatalf("%d of %d entries missing at half load", missing, n)
	}
	// Removal and re-insertion.
	h := testHash(5)
	c.apply([]staleNode{{hash: h}}, nil)
	if _, ok := c.get(h); ok {
		t.Fatal("dropped entry still cached")
	}
	c.apply(nil, []newNode{{hash: h, n: treeNode{tag: tagInternal}}})
	if got, ok := c.get(h); !ok || got.tag != tagInternal {
		t.Fatal("added entry missing")
	}
	// Overfilling in one large batch stays bounded.
	var many []newNode
	for i := 0; i < 100_000; i++ {
		many = append(many, newNode{hash: testHash(1_000_000 + i)})
	}
	c.apply(nil, many)
	if got := len(c.tab.Load().sets) * cacheWays; got > capacity {
		t.Fatalf("cache grew to %d slots, capacity %d", got, capacity)
	}
	if c.count > capacity {
		t.Fatalf("count %d exceeds capacity", c.count)
	}

	off := newNodeCache(0)
	off.apply(nil, []newNode{{hash: h}})
	if _, ok := off.get(h); ok {
		t.Fatal("disabled cache returned an entry")
	}
}

// TestNodeCacheConcurrent: readers on other goroutines while the writer
// inserts, evicts and grows the table; run with -race. A reader must never
// see a node under the wrong hash.
func TestNodeCacheConcurrent(t *testing.T) {
	c := newNodeCache(1 << 15)
	want := func(i int) treeNode { return treeNode{tag: byte(i % 2), a: testHash(-i)} }
	done := make(chan struct{})
	errs := make(chan string, 2)
	for g := 0; g < 2; g++ {
		go func() {
			result := ""
			defer func() { errs <- result }()
			for j := 0; j < 200_000; j++ {
				select {
				case <-done:
					return
				default:
				}
				i := j % 20_000
				if got, ok := c.get(testHash(i)); ok && got != want(i) {
					result = "wrong node"
					return
				}
			}
		}()
	}
	for b := 0; b < 40; b++ {
		var add []newNode
		var drop []staleNode
		for i := b * 500; i < (b+1)*500; i++ {
			add = append(add, newNode{hash: testHash(i), n: want(i)})
			if i%3 == 0 {
				drop = append(drop, staleNode{hash: testHash(i / 2)})
			}
		}
		c.apply(drop, add)
	}
	close(done)
	for g := 0; g < 2; g++ {
		if e := <-errs; e != "" {
			t.Fatal(e)
		}
	}
}

// TestNodeCacheBuddy: with two sets, a full set overflows into its buddy,
// so all 32 slots fill before anything is evicted.
func TestNodeCacheBuddy(t *testing.T) {
	c := newNodeCache(2 * cacheWays)
	var add []newNode
	for i := 0; i < 2*cacheWays; i++ {
		add = append(add, newNode{hash: testHash(i), n: treeNode{tag: byte(i % 2), a: testHash(-i)}})
	}
	c.apply(nil, add)
	if c.count != 2*cacheWays {
		t.Fatalf("count %d, want %d", c.count, 2*cacheWays)
	}
	for _, nn := range add {
		if got, ok := c.get(nn.hash); !ok || got != nn.n {
			t.Fatalf("entry %s missing or wrong", nn.hash)
		}
	}
	// Removing entries, wherever they live, frees their slots.
	c.apply([]staleNode{{hash: add[0].hash}, {hash: add[1].hash}, {hash: add[31].hash}}, nil)
	if c.count != 2*cacheWays-3 {
		t.Fatalf("count after removal %d", c.count)
	}
	for i, nn := range add {
		_, ok := c.get(nn.hash)
		if want := i != 0 && i != 1 && i != 31; ok != want {
			t.Fatalf("entry %d cached=%v after removal", i, ok)
		}
	}
	// A 33rd entry evicts exactly one other.
	c.apply(nil, []newNode{{hash: testHash(100)}, {hash: testHash(101)}, {hash: testHash(102)}, {hash: testHash(103)}})
	found := 0
	for _, nn := range append(add, newNode{hash: testHash(100)}, newNode{hash: testHash(101)}, newNode{hash: testHash(102)}, newNode{hash: testHash(103)}) {
		if _, ok := c.get(nn.hash); ok {
			found++
		}
	}
	if found != 2*cacheWays {
		t.Fatalf("%d entries cached in a full 32-slot cache", found)
	}
}

func TestSortNodesByPos(t *testing.T) {
	for _, n := range []int{0, 1, 2, 1000, 200_000} {
		nodes := make([]newNode, n)
		for i := range nodes {
			h := testHash(i)
			d := int(h[31]) % 40
			if i%7 == 0 {
				d = 17 // crowd one depth
			}
			if i%1001 == 0 {
				d = smt.MaxDepth // the deepest a leaf can sit
			}
			if i%13 == 0 {
				d = 100 // deep, with the first 8 bytes shared: ordered by the rest
				copy(h[:8], "cairn-db")
			}
			nodes[i].pos = posOf(d, &h)
			nodes[i].hash = h
			nodes[i].n.a = testHash(-i) // payload travels with its node
		}
		want := map[crypto.Hash]crypto.Hash{}
		for _, nn := range nodes {
			want[nn.hash] = nn.n.a
		}
		order := sortNodesByPos(nodes)
		if len(order) != n {
			t.Fatalf("n=%d: got %d nodes", n, len(order))
		}
		var prev []byte
		for k, i := range order {
			nn := nodes[i]
			if want[nn.hash] != nn.n.a {
				t.Fatalf("n=%d: node %d lost its payload", n, k)
			}
			delete(want, nn.hash)
			key := nodeKey(7, nn.pos)
			if k > 0 && bytes.Compare(prev, key) > 0 {
				t.Fatalf("n=%d: out of order at %d", n, k)
			}
			prev = key
		}
		if len(want) != 0 {
			t.Fatalf("n=%d: %d nodes missing", n, len(want))
		}
	}
}

func TestStageSortsKeys(t *testing.T) {
	// Stage puts keys into the batch in ascending order (a performance
	// property Pebble's memtable relies on); check it on awkward keys.
	db := openMemDB(t)
	s := openState(t, db, Options{})
	ws := []Write{
		{Key: []byte("b"), Value: []byte("1")}, {Key: []byte("a\x00"), Value: []byte("2")},
		{Key: []byte("a"), Value: []byte("3")}, {Key: []byte("abcdefghij"), Value: []byte("4")},
		{Key: []byte("abcdefghi"), Value: []byte("5")}, {Key: []byte("b"), Value: []byte("6")},
		{Key: []byte(""), Value: []byte("7")}, {Key: []byte("zz"), Value: []byte("8")},
	}
	u, err := s.Prepare(0, ws)
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	if err := s.Stage(b, u); err != nil {
		t.Fatal(err)
	}
	r := b.Reader()
	var prev []byte
	count := 0
	for {
		_, k, _, ok, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if count > 0 && bytes.Compare(prev, k) >= 0 {
			t.Fatalf("batch key %x after %x", k, prev)
		}
		prev = append(prev[:0], k...)
		count++
	}
	if want := len(ws) + 7 + u.NodeCount() + 1; count != want {
		t.Fatalf("batch has %d keys, want %d", count, want)
	}
}
