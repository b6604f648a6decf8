package vm

import (
	"fmt"
	"strings"
	"testing"
)

// TestRangePageMergesPendingWrites: a range page sees the block's earlier
// writes and deletes, in key order, and never skips a committed key.
func TestRangePageMergesPendingWrites(t *testing.T) {
	base := newMemState()
	for c := 'a'; c <= 'z'; c++ {
		base.kv[okey("k", []byte{byte(c)})] = []byte("v")
	}
	base.kv[okey("other", []byte("b"))] = []byte("not mine")
	ov := NewOverlay(base)
	ov.del("k", []byte("c"))
	ov.put("k", []byte("bb"), []byte("new"))
	ov.put("k", []byte("d"), []byte("changed"))
	ov.put("k", []byte("zz"), []byte("last"))
	ov.put("other", []byte("ba"), []byte("not mine either"))

	page := func(start, end string, limit int) string {
		var e []byte
		if end != "" {
			e = []byte(end)
		}
		kvs, more, err := ov.rangePage("k", []byte(start), e, limit)
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, kv := range kvs {
			parts = append(parts, fmt.Sprintf("%s=%s", kv.Key, kv.Value))
		}
		return fmt.Sprintf("%s more=%v", strings.Join(parts, ","), more)
	}
	for _, c := range []struct {
		start, end string
		limit      int
		want       string
	}{
		{"a", "", 3, "a=v,b=v,bb=new more=true"},
		{"bb\x00", "", 3, "d=changed,e=v,f=v more=true"},
		{"x", "", 5, "x=v,y=v,z=v,zz=last more=false"},
		{"a", "e", 10, "a=v,b=v,bb=new,d=changed more=false"},
		{"c", "d", 10, " more=false"},
	} {
		if got := page(c.start, c.end, c.limit); got != c.want {
			t.Errorf("range [%q, %q) limit %d = %q, want %q", c.start, c.end, c.limit, got, c.want)
		}
	}
	// Walking every page from the start visits every live key once.
	var seen []string
	start := []byte("\x00")
	for {
		kvs, more, err := ov.rangePage("k", start, nil, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range kvs {
			seen = append(seen, string(kv.Key))
		}
		if !more {
			break
		}
		start = append(append([]byte(nil), kvs[len(kvs)-1].Key...), 0)
	}
	if len(seen) != 27 || seen[0] != "a" || seen[26] != "zz" {
		t.Fatalf("pages visited %d keys: %v", len(seen), seen)
	}
	// Rolling back to a savepoint forgets later writes, and what an undone
	// write replaced is visible again.
	sp := ov.save()
	ov.put("k", []byte("a"), []byte("gone"))
	ov.put("k", []byte("d"), []byte("gone too"))
	ov.del("k", []byte("bb"))
	ov.rollback(sp)
	for k, want := range map[string]string{"a": "v", "d": "changed", "bb": "new"} {
		if v, ok, _ := ov.get("k", []byte(k)); !ok || string(v) != want {
			t.Fatalf("after rollback %s=%q (%v), want %q", k, v, ok, want)
		}
	}
	if len(ov.Writes) != sp.writes || ov.pendingKeys("k") != 4 {
		t.Fatalf("after rollback: %d writes, %d pending keys", len(ov.Writes), ov.pendingKeys("k"))
	}
}
