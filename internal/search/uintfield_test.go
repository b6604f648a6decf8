package search

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/numeric"
	index "github.com/blevesearch/bleve_index_api"
)

// uintTermValue decodes a level-0 term back to its value, as Bleve's
// sort reads it.
func uintTermValue(term []byte) (uint64, bool) {
	ok, shift := numeric.ValidPrefixCodedTermBytes(term)
	if !ok || shift != 0 {
		return 0, false
	}
	i, err := numeric.PrefixCoded(term).Int64()
	if err != nil {
		return 0, false
	}
	return uint64(i) ^ (1 << 63), true
}

// docTerms are the terms a uintField of v indexes.
func docTerms(v uint64) map[string]bool {
	f := newUintField("f", v, optNum)
	f.Analyze()
	out := map[string]bool{}
	for t := range f.AnalyzedTokenFrequencies() {
		out[t] = true
	}
	return out
}

// matches reports whether the range query's terms match a document of v.
func matches(terms [][]byte, v uint64) bool {
	dt := docTerms(v)
	for _, t := range terms {
		if dt[string(t)] {
			return true
		}
	}
	return false
}

func TestUintRangeTermsMatchExactlyTheRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Values near the edges of every level, and random ones of every size.
	var values []uint64
	for s := 0; s < 64; s++ {
		p := uint64(1) << s
		values = append(values, p-1, p, p+1, p+15, p-16, p+16)
	}
	values = append(values, 0, 1, 2, 15, 16, 17, 255, 256, 4095, 4096, math.MaxUint64, math.MaxUint64-1, math.MaxUint64-16)
	for i := 0; i < 200; i++ {
		values = append(values, rng.Uint64()>>rng.IntN(64))
	}
	pick := func() uint64 {
		if rng.IntN(3) == 0 {
			return values[rng.IntN(len(values))]
		}
		return rng.Uint64() >> rng.IntN(64)
	}
	ranges := [][2]uint64{{0, 0}, {0, math.MaxUint64}, {math.MaxUint64, math.MaxUint64}, {1, math.MaxUint64}, {0, 99}, {100, math.MaxUint64}, {16, 31}, {15, 32}}
	for i := 0; i < 300; i++ {
		a, b := pick(), pick()
		if a > b {
			a, b = b, a
		}
		ranges = append(ranges, [2]uint64{a, b})
	}
	for _, r := range ranges {
		terms := uintRangeTerms(r[0], r[1])
		if len(terms) > 2*15*16+17 {
			t.Errorf("[%d, %d]: %d terms", r[0], r[1], len(terms))
		}
		for _, v := range append(values, r[0], r[1], r[0]-1, r[1]+1, r[0]+(r[1]-r[0])/2) {
			want := v >= r[0] && v <= r[1]
			if got := matches(terms, v); got != want {
				t.Fatalf("[%d, %d] on %d: match %v, want %v", r[0], r[1], v, got, want)
			}
		}
	}
}

func TestUintFieldTermsAndOrder(t *testing.T) {
	// A value costs one term per level up to its first zero level.
	for _, c := range []struct {
		v     uint64
		terms int
	}{{0, 1}, {1, 2}, {15, 2}, {16, 3}, {4095, 4}, {4096, 5}, {1 << 20, 7}, {math.MaxUint64, 16}} {
		if n := len(docTerms(c.v)); n != c.terms {
			t.Errorf("%d: %d terms, want %d", c.v, n, c.terms)
		}
	}
	// Level-0 terms sort as the values do and decode back.
	vals := []uint64{0, 1, 9, 10, 255, 256, 1 << 40, 1<<63 - 1, 1 << 63, math.MaxUint64}
	for i, v := range vals {
		got, ok := uintTermValue(uintTerm(v, 0))
		if !ok || got != v {
			t.Errorf("decode %d: %d %v", v, got, ok)
		}
		if i > 0 && string(uintTerm(vals[i-1], 0)) >= string(uintTerm(v, 0)) {
			t.Errorf("term of %d does not sort before %d", vals[i-1], v)
		}
	}
}

func TestUintBounds(t *testing.T) {
	ex := func(u uint64) *bound { return &bound{f: float64(u), u: u, exact: true} }
	fl := func(f float64) *bound { return &bound{f: f} }
	max := uint64(math.MaxUint64)
	for _, c := range []struct {
		name       string
		lo, hi     *bound
		loIn, hiIn bool
		l, h       uint64
		ok         bool
	}{
		{"=5", ex(5), ex(5), true, true, 5, 5, true},
		{">5", ex(5), nil, false, true, 6, max, true},
		{"<5", nil, ex(5), true, false, 0, 4, true},
		{"<0", nil, ex(0), true, false, 0, 0, false},
		{">max", ex(max), nil, false, true, 0, 0, false},
		{"=max", ex(max), ex(max), true, true, max, max, true},
		{">=2.5", fl(2.5), nil, true, true, 3, max, true},
		{">2.5", fl(2.5), nil, false, true, 3, max, true},
		{">2.0 as float", fl(2), nil, false, true, 3, max, true},
		{"<=2.5", nil, fl(2.5), true, true, 0, 2, true},
		{"<2.5", nil, fl(2.5), true, false, 0, 2, true},
		{"<2.0 as float", nil, fl(2), true, false, 0, 1, true},
		{">-3", fl(-3), nil, false, true, 0, max, true},
		{"<=-1", nil, fl(-1), true, true, 0, 0, false},
		{"=2.5", fl(2.5), fl(2.5), true, true, 0, 0, false},
		{"<=1e30", nil, fl(1e30), true, true, 0, max, true},
		{">=1e30", fl(1e30), nil, true, true, 0, 0, false},
	} {
		l, h, ok := uintBounds(c.lo, c.hi, c.loIn, c.hiIn)
		if ok != c.ok || ok && (l != c.l || h != c.h) {
			t.Errorf("%s: [%d, %d] %v, want [%d, %d] %v", c.name, l, h, ok, c.l, c.h, c.ok)
		}
	}
}

// uintField's analysis must yield what Bleve's token frequencies of its
// trie terms yield (the index is the same whichever builds it).
func TestUintFieldAnalyzeMatchesTokenFrequency(t *testing.T) {
	for _, opt := range []index.FieldIndexingOptions{optNum, optNumSort, optNum | index.SkipFreqNorm} {
		for _, v := range []uint64{0, 1, 15, 16, 255, 4096, 616_190, 1<<40 + 3, math.MaxUint64} {
			f := newUintField("amount", v, opt)
			f.Analyze()
			want := analysis.TokenFrequency(f.tokens(), nil, opt)
			got := f.AnalyzedTokenFrequencies()
			if len(got) != len(want) || f.AnalyzedLength() != len(want) {
				t.Fatalf("%d: %d terms, want %d", v, len(got), len(want))
			}
			for term, w := range want {
				g := got[term]
				if g == nil || string(g.Term) != string(w.Term) || g.Frequency() != w.Frequency() || len(g.Locations) != 0 {
					t.Fatalf("%d opt %v: term %x = %+v, want %+v", v, opt, term, g, w)
				}
			}
		}
	}
}
