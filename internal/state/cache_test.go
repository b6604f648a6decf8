package state

import (
	"encoding/binary"
	"testing"

	"github.com/cairn-db/cairn/crypto"
)

func testHash(i int) crypto.Hash {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return crypto.Sum(b[:])
}

func TestNodeCache(t *testing.T) {
	c := newNodeCache(1 << 14)
	if c.maxSets != 1<<10 {
		t.Fatalf("maxSets %d", c.maxSets)
	}
	// Fill to half capacity: the table grows from its initial size and
	// keeps every entry.
	for i := 0; i < 8192; i++ {
		c.put(testHash(i), node{tag: tagLeaf, a: testHash(-i)})
	}
	if got := len(c.tab.Load().sets); got <= cacheMinSets {
		t.Fatalf("table did not grow: %d sets", got)
	}
	missing := 0
	for i := 0; i < 8192; i++ {
		n, ok := c.get(testHash(i))
		if !ok {
			missing++
			continue
		}
		if n.a != testHash(-i) {
			t.Fatalf("entry %d has the wrong node", i)
		}
	}
	// A 16-way table at half load loses only a few entries to full sets.
	if missing > 8192/20 {
		t.Fatalf("%d of 8192 entries missing at half load", missing)
	}
	// Removal and re-insertion via apply.
	h := testHash(5)
	if _, ok := c.get(h); !ok {
		c.put(h, node{})
	}
	c.apply([]crypto.Hash{h}, nil)
	if _, ok := c.get(h); ok {
		t.Fatal("dropped entry still cached")
	}
	c.apply(nil, []newNode{{hash: h, n: node{tag: tagInternal}}})
	if n, ok := c.get(h); !ok || n.tag != tagInternal {
		t.Fatal("added entry missing")
	}
	// Overfilling stays bounded.
	for i := 0; i < 100_000; i++ {
		c.put(testHash(1_000_000+i), node{})
	}
	if got := len(c.tab.Load().sets) * cacheWays; got > 1<<14 {
		t.Fatalf("cache grew to %d slots, capacity %d", got, 1<<14)
	}
	if c.count.Load() > 1<<14 {
		t.Fatalf("count %d exceeds capacity", c.count.Load())
	}

	off := newNodeCache(0)
	off.put(h, node{})
	if _, ok := off.get(h); ok {
		t.Fatal("disabled cache returned an entry")
	}
}
