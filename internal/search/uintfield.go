package search

import (
	"context"
	"math"
	"strconv"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/numeric"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/searcher"
	index "github.com/blevesearch/bleve_index_api"
)

// Unsigned integer fields (amount, height, version, tx_count).
//
// Bleve's numeric fields index a float64's sortable bits as a trie of
// prefix terms, 4 bits per level, 16 terms per value. For an integer
// those bits are mostly exponent and the top of the mantissa, so values
// that differ a little still differ in ten or more levels, and every
// term is a posting to write: a transfer's amount was about half of all
// its indexing work. Here the trie is over the integer itself, and it
// stops at the first level where the value is 0: v indexes the terms
// v>>s for s = 0, 4, ... up to the smallest such s (an amount below 4,096
// costs four terms, a height below 2^20 six). A range query then lists
// the trie terms covering the range, as Bleve's numeric range searcher
// does; a covering term "0 at level s" stands for every value below 2^s,
// and those values carry their zero term at their own, lower level, so it
// is asked for at every level up to s.
//
// The terms use Bleve's prefix coding (order-preserving, recognised as
// numeric), so sorting through doc values works unchanged: the sort reads
// each document's level-0 term. The stored value is the decimal text.

// uintStep is the trie's bits per level (Bleve's precision step).
const uintStep = 4

// uintTerm is the trie term of v's top 64-shift bits. Bleve's prefix
// coding flips the sign bit of an int64; flipping it first makes the
// coded bits v's own, so terms sort as unsigned values.
func uintTerm(v uint64, shift uint) []byte {
	return numeric.MustNewPrefixCodedInt64(int64(v^(1<<63)), shift)
}

// uintField is an indexed unsigned integer: one term per trie level, the
// decimal text as its stored value.
type uintField struct {
	name string
	v    uint64
	opt  index.FieldIndexingOptions
	text []byte
	freq index.TokenFrequencies
}

func newUintField(name string, v uint64, opt index.FieldIndexingOptions) *uintField {
	return &uintField{name: name, v: v, opt: opt, text: strconv.AppendUint(nil, v, 10)}
}

func (f *uintField) Name() string                                     { return f.name }
func (f *uintField) Value() []byte                                    { return f.text }
func (f *uintField) ArrayPositions() []uint64                         { return nil }
func (f *uintField) EncodedFieldType() byte                           { return 't' }
func (f *uintField) Options() index.FieldIndexingOptions              { return f.opt }
func (f *uintField) AnalyzedLength() int                              { return len(f.freq) }
func (f *uintField) AnalyzedTokenFrequencies() index.TokenFrequencies { return f.freq }
func (f *uintField) NumPlainTextBytes() uint64                        { return uint64(len(f.text)) }
func (f *uintField) Size() int                                        { return 96 + len(f.name) + len(f.text) }

func (f *uintField) Analyze() {
	if f.opt.IncludeTermVectors() {
		f.freq = analysis.TokenFrequency(f.tokens(), nil, f.opt)
		return
	}
	// What analysis.TokenFrequency makes of f.tokens(), in three
	// allocations instead of one per term and token: the terms share one
	// buffer, and the map keys are substrings of one string of it.
	var buf [64 / uintStep * 11]byte
	var ends [64 / uintStep]int
	rest, n, end := buf[:], 0, 0
	for shift := uint(0); shift < 64 && (shift == 0 || f.v>>(shift-uintStep) != 0); shift += uintStep {
		// uintTerm, written into buf.
		t, r, err := numeric.NewPrefixCodedInt64Prealloc(int64(f.v^(1<<63)), shift, rest)
		if err != nil {
			panic(err) // shift < 64
		}
		end += len(t)
		ends[n], rest, n = end, r, n+1
	}
	keys := string(buf[:end])
	tfs := make([]index.TokenFreq, n)
	f.freq = make(index.TokenFrequencies, n)
	start := 0
	for i := range n {
		key := keys[start:ends[i]]
		tfs[i].Term = []byte(key)
		if !f.opt.SkipFreqNorm() {
			tfs[i].SetFrequency(1)
		}
		f.freq[key] = &tfs[i]
		start = ends[i]
	}
}

// tokens are the field's terms, one per trie level.
func (f *uintField) tokens() analysis.TokenStream {
	ts := make(analysis.TokenStream, 0, 64/uintStep)
	// One allocation for every level's term (at most 11 bytes each).
	buf := make([]byte, 0, 64/uintStep*11)
	for shift := uint(0); shift < 64 && (shift == 0 || f.v>>(shift-uintStep) != 0); shift += uintStep {
		start := len(buf)
		buf = append(buf, uintTerm(f.v, shift)...)
		term := buf[start:len(buf):len(buf)]
		ts = append(ts, &analysis.Token{Term: term, Start: 0, End: len(term), Position: 1, Type: analysis.Numeric})
	}
	return ts
}

// uintRangeTerms lists the trie terms that together match exactly the
// values in [lo, hi]: at each level the partial groups at the two edges,
// then the full groups in between one level up. At most 2*15 terms per
// level, 16 at the top.
func uintRangeTerms(lo, hi uint64) [][]byte {
	var terms [][]byte
	emit := func(a, b uint64, shift uint) {
		if a == 0 && shift > 0 {
			// Values below 2^shift: each has its zero term at its own
			// level (see uintField).
			for s := uint(0); s <= shift; s += uintStep {
				terms = append(terms, uintTerm(0, s))
			}
			a++
		}
		for v := a; v <= b; v++ {
			terms = append(terms, uintTerm(v<<shift, shift))
			if v == b {
				return
			}
		}
	}
	const mask = 1<<uintStep - 1
	// a and b bound the range in units of 2^shift.
	a, b := lo, hi
	for shift := uint(0); ; shift += uintStep {
		if shift+uintStep >= 64 {
			emit(a, b, shift)
			return terms
		}
		// [na, nb]: the groups of the next level wholly inside [a, b].
		na := a >> uintStep
		if a&mask != 0 {
			na++
		}
		nb := b >> uintStep
		if b&mask != mask {
			if nb == 0 {
				emit(a, b, shift)
				return terms
			}
			nb--
		}
		if na > nb {
			emit(a, b, shift)
			return terms
		}
		if a&mask != 0 {
			emit(a, na<<uintStep-1, shift)
		}
		if b&mask != mask {
			emit((nb+1)<<uintStep, b, shift)
		}
		a, b = na, nb
	}
}

// uintRangeQuery matches documents whose uintField is in [lo, hi].
type uintRangeQuery struct {
	field  string
	lo, hi uint64
}

func (q uintRangeQuery) Searcher(ctx context.Context, r index.IndexReader, _ mapping.IndexMapping, opts search.SearcherOptions) (search.Searcher, error) {
	terms := uintRangeTerms(q.lo, q.hi)
	// Leave out terms that are not in the index: most of an edge's terms
	// usually are not, and each would otherwise cost a posting lookup.
	if rc, ok := r.(index.IndexReaderContains); ok {
		d, err := rc.FieldDictContains(q.field)
		if err != nil {
			return nil, err
		}
		kept := terms[:0]
		for _, t := range terms {
			if found, err := d.Contains(t); err == nil && found {
				kept = append(kept, t)
			}
		}
		terms = kept
		if c, ok := d.(index.FieldDict); ok {
			if err := c.Close(); err != nil {
				return nil, err
			}
		}
	}
	return searcher.NewMultiTermSearcherBytes(ctx, r, terms, q.field, 1, opts, true)
}

// uintBounds turns the bounds of a numeric term into an inclusive range
// of unsigned integers; ok is false when no integer is in it. A nil bound
// is open. Bounds written as integers are exact over the whole uint64
// range; others (fractions, negatives, exponents) are rounded inward.
func uintBounds(lo, hi *bound, loIn, hiIn bool) (l, h uint64, ok bool) {
	const two64 = 1 << 64
	l, h = 0, math.MaxUint64
	switch {
	case lo == nil:
	case lo.exact && loIn:
		l = lo.u
	case lo.exact:
		if lo.u == math.MaxUint64 {
			return 0, 0, false
		}
		l = lo.u + 1
	case loIn && lo.f <= 0, !loIn && lo.f < 0:
		l = 0
	default:
		c := math.Ceil(lo.f)
		if !loIn {
			c = math.Floor(lo.f) + 1
		}
		if c >= two64 {
			return 0, 0, false
		}
		l = uint64(c)
	}
	switch {
	case hi == nil:
	case hi.exact && hiIn:
		h = hi.u
	case hi.exact:
		if hi.u == 0 {
			return 0, 0, false
		}
		h = hi.u - 1
	case hiIn && hi.f < 0, !hiIn && hi.f <= 0:
		return 0, 0, false
	default:
		c := math.Floor(hi.f)
		if !hiIn {
			c = math.Ceil(hi.f) - 1
		}
		if c < two64 {
			h = uint64(c)
		}
	}
	return l, h, l <= h
}
