package search

import (
	"path/filepath"
	"slices"
	"testing"
)

// status:ok is every transaction that is not status:failed, never a
// block, alone, combined and negated.
func TestStatusOKIsEveryTxNotFailed(t *testing.T) {
	f := newFixture(t)
	ix := openIndex(t, f.chain, filepath.Join(t.TempDir(), "search"), Options{})
	ok := []string{id(f.del), id(f.rec2), id(f.putBob), id(f.t0to3), id(f.rec1), id(f.put), id(f.t1to2), id(f.t0to1)}
	failed := []string{id(f.replay) + "@4.0", id(f.conflict), id(f.over)}
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"status:ok", ok},
		{"status:OK", ok},
		{"status:ok type:block", nil},
		{"status:ok OR type:block", []string{"block:4", id(f.del), id(f.rec2), id(f.putBob), "block:3", id(f.t0to3), id(f.rec1), "block:2", id(f.put), id(f.t1to2), id(f.t0to1), "block:1"}},
		{"-type:block NOT status:ok", failed},
		{"NOT status:ok NOT type:block", failed},
		{"status:ok apples", []string{id(f.rec2), id(f.putBob), id(f.put)}},
		{"status:ok key:user/*", []string{id(f.del), id(f.putBob), id(f.put)}},
	} {
		if got, _ := searchAll(t, ix, c.q, "", 3); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.q, got, c.want)
		}
	}
}
