package search

import (
	index "github.com/blevesearch/bleve_index_api"
)

// kwField is a keyword field: its whole value is its one term. It indexes
// exactly what document.NewTextFieldWithIndexingOptions (no analyser)
// indexes, with less work per field: Bleve's text field builds a token
// stream, a token, a term-vector slice and a frequency entry, and copies
// the term into a new map key, for every field of every document. Most of
// a transaction's fields are keywords, so that was a large part of the
// analysis each transaction costs; here one allocation holds the field,
// its frequency entry and its location, and the map key is the value's
// own string.
type kwField struct {
	name string
	pos  []uint64
	opt  index.FieldIndexingOptions
	key  string
	val  []byte
	freq index.TokenFrequencies
	tf   index.TokenFreq
	loc  index.TokenLocation
	locs [1]*index.TokenLocation
}

func newKwField(name string, pos []uint64, v string, opt index.FieldIndexingOptions) *kwField {
	return &kwField{name: name, pos: pos, opt: opt, key: v, val: []byte(v)}
}

func (f *kwField) Name() string                                     { return f.name }
func (f *kwField) Value() []byte                                    { return f.val }
func (f *kwField) ArrayPositions() []uint64                         { return f.pos }
func (f *kwField) EncodedFieldType() byte                           { return 't' }
func (f *kwField) Options() index.FieldIndexingOptions              { return f.opt }
func (f *kwField) AnalyzedLength() int                              { return 1 }
func (f *kwField) AnalyzedTokenFrequencies() index.TokenFrequencies { return f.freq }
func (f *kwField) NumPlainTextBytes() uint64                        { return uint64(len(f.val)) }

// Size is Bleve's estimate of the memory a field holds (batch accounting).
func (f *kwField) Size() int {
	return 200 + len(f.name) + 8*len(f.pos) + 2*len(f.val)
}

// Analyze yields what analysis.TokenFrequency yields for the one token
// {Term: value, Start: 0, End: len(value), Position: 1}.
func (f *kwField) Analyze() {
	f.tf = index.TokenFreq{Term: f.val}
	if f.opt.IncludeTermVectors() {
		f.loc = index.TokenLocation{ArrayPositions: f.pos, Start: 0, End: len(f.val), Position: 1}
		f.locs[0] = &f.loc
		f.tf.Locations = f.locs[:]
	}
	if !f.opt.SkipFreqNorm() {
		f.tf.SetFrequency(1)
	}
	f.freq = index.TokenFrequencies{f.key: &f.tf}
}
