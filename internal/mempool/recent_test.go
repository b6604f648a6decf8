package mempool

import (
	"testing"

	"github.com/cairn-db/cairn/crypto"
)

func TestRecentSetForgetsOldestFirst(t *testing.T) {
	h := func(i int) crypto.Hash { return crypto.Sum([]byte{byte(i)}) }
	r := newRecentSet(3)
	for i := 0; i < 3; i++ {
		r.add(h(i))
	}
	r.add(h(1)) // already there: no effect on order
	for i := 3; i < 5; i++ {
		r.add(h(i))
	}
	for i, want := range []bool{false, false, true, true, true} {
		if r.has(h(i)) != want {
			t.Fatalf("hash %d: has=%v, want %v", i, !want, want)
		}
	}
	if r.len() != 3 {
		t.Fatalf("len %d, want 3", r.len())
	}
	// Many more wraps keep it bounded.
	for i := 5; i < 100; i++ {
		r.add(h(i))
	}
	if r.len() != 3 || len(r.ring) != 3 || !r.has(h(99)) || !r.has(h(97)) || r.has(h(96)) {
		t.Fatalf("after wrapping: len %d ring %d", r.len(), len(r.ring))
	}
	zero := newRecentSet(0)
	zero.add(h(1))
	if zero.has(h(1)) {
		t.Fatal("a zero-capacity set remembered a hash")
	}
}
