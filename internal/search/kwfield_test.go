package search

import (
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/blevesearch/bleve/v2/document"
	index "github.com/blevesearch/bleve_index_api"
)

// kwField must index exactly what Bleve's own keyword text field indexes:
// same value, terms, frequencies, locations and options, for every option
// set the builder uses, with and without array positions.
func TestKwFieldMatchesTextField(t *testing.T) {
	opts := []index.FieldIndexingOptions{optID, optIDMarked, optIDHidden, optEnum, optPos}
	for _, opt := range opts {
		for _, pos := range [][]uint64{nil, {0, 3}} {
			for _, v := range []string{"", "transfer", "0f3a", "acct/ab12/7", "naïve"} {
				want := document.NewTextFieldWithIndexingOptions("f", pos, []byte(v), opt)
				got := newKwField("f", pos, v, opt)
				want.Analyze()
				got.Analyze()
				if got.Name() != want.Name() || string(got.Value()) != string(want.Value()) ||
					!reflect.DeepEqual(got.ArrayPositions(), want.ArrayPositions()) ||
					got.EncodedFieldType() != want.EncodedFieldType() || got.Options() != want.Options() ||
					got.AnalyzedLength() != want.AnalyzedLength() || got.NumPlainTextBytes() != want.NumPlainTextBytes() {
					t.Fatalf("opt %v pos %v value %q: field differs", opt, pos, v)
				}
				gf, wf := got.AnalyzedTokenFrequencies(), want.AnalyzedTokenFrequencies()
				if len(gf) != len(wf) {
					t.Fatalf("opt %v value %q: %d terms, want %d", opt, v, len(gf), len(wf))
				}
				for term, w := range wf {
					g := gf[term]
					if g == nil || string(g.Term) != string(w.Term) || g.Frequency() != w.Frequency() ||
						!reflect.DeepEqual(g.Locations, w.Locations) {
						t.Fatalf("opt %v pos %v value %q: term %q = %+v, want %+v", opt, pos, v, term, g, w)
					}
				}
			}
		}
	}
}

func TestPosKey(t *testing.T) {
	for _, h := range []uint64{0, 1, 15, 16, 616_190, 1 << 40, math.MaxUint64} {
		for _, i := range []int64{-1, 0, 9, 9_999, math.MaxUint32 - 1} {
			if got, want := posKey(h, i), fmt.Sprintf("%016x%08x", h, uint32(i+1)); got != want {
				t.Fatalf("posKey(%d, %d) = %s, want %s", h, i, got, want)
			}
		}
	}
}
