package search

// Query language, the overview below and stage three: the queryable fields
// and compiling a parsed tree into a Bleve query. Lexing is in querylex.go,
// parsing in queryparse.go, range and date terms in queryrange.go.

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/ledger"
)

// The query language (docs/search.md is the reference):
//
//	query   = or
//	or      = and { "OR" and }
//	and     = unary { ["AND"] unary }        juxtaposition means AND
//	unary   = ("NOT" | "-") unary | ["+"] primary
//	primary = "(" or ")" | term
//	term    = word | "phrase" | field ":" [op] value | field ":" lo ".." hi | "*"
//	op      = "=" | ">" | ">=" | "<" | "<="
//
// AND, OR and NOT are operators only in upper case. Parsing builds a small
// tree; compiling it against the field table yields a Bleve query.

// QueryError is a problem with a query string. Pos is the 1-based byte
// offset of the problem in the query (0 when it is not tied to a place).
type QueryError struct {
	Pos int
	Msg string
}

func (e *QueryError) Error() string {
	if e.Pos > 0 {
		return fmt.Sprintf("%s (at position %d)", e.Msg, e.Pos)
	}
	return e.Msg
}

func qerr(pos int, format string, args ...any) *QueryError {
	return &QueryError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// fieldKind says how a field is matched.
type fieldKind int

const (
	kHex     fieldKind = iota // exact, lower-cased hex identifier
	kExact                    // exact, case-sensitive
	kEnum                     // exact, one of a fixed set, lower-cased
	kText                     // analysed text
	kUint                     // unsigned integer (uintField)
	kDate                     // datetime (block time: compiled to a height range)
	kInt                      // exact non-negative integer, kept as a decimal term
	kAddress                  // pseudo field: from OR to
	kPubKey                   // sender public key: matched through its address (from)
)

type fieldSpec struct {
	name    string // index field
	kind    fieldKind
	hexLen  int      // kHex: full length in hex digits (0: any)
	allowed []string // kEnum
}

// fieldSpecs are the queryable fields and their aliases; doc.* fields are
// handled separately.
var fieldSpecs = map[string]fieldSpec{
	"hash":           {name: fHash, kind: kHex, hexLen: 64},
	"type":           {name: fType, kind: kEnum, allowed: typeNames},
	"sender":         {name: fFrom, kind: kPubKey, hexLen: 64},
	"from":           {name: fFrom, kind: kHex, hexLen: 40},
	"sender_address": {name: fFrom, kind: kHex, hexLen: 40},
	"to":             {name: fTo, kind: kHex, hexLen: 40},
	"recipient":      {name: fTo, kind: kHex, hexLen: 40},
	"address":        {kind: kAddress, hexLen: 40},
	"amount":         {name: fAmount, kind: kUint},
	"key":            {name: fKey, kind: kExact},
	"value":          {name: fValue, kind: kText},
	"nonce":          {name: fNonce, kind: kInt},
	"height":         {name: fHeight, kind: kUint},
	"index":          {name: fIndex, kind: kInt},
	"time":           {kind: kDate},
	"status":         {name: fStatus, kind: kEnum, allowed: []string{statusOK, statusFailed}},
	"code":           {name: fCode, kind: kExact},
	"reason":         {name: fReason, kind: kText},
	"version":        {name: fVersion, kind: kUint},
	"proposer":       {name: fProposer, kind: kHex, hexLen: 64},
	"tx_count":       {name: fTxCount, kind: kUint},
	"field":          {name: fField, kind: kHex, hexLen: 64},
	"field_state":    {name: fFieldState, kind: kUint},
	"member":         {name: fMember, kind: kHex, hexLen: 40},
	"role":           {name: fRole, kind: kExact},
	"field_event":    {name: fFieldEvent, kind: kEnum, allowed: []string{ledger.FieldStepExpired, ledger.FieldStepSettled}},
	"contract":       {name: fContract, kind: kExact},
	"function":       {name: fFunction, kind: kExact},
	"code_hash":      {name: fCodeHash, kind: kHex, hexLen: 64},
	"event":          {name: fEvent, kind: kExact},
	"event_data":     {name: fEventData, kind: kText},
	"gas_used":       {name: fGasUsed, kind: kUint},
	"validator":      {name: fValidator, kind: kHex, hexLen: 64},
	"reward":         {name: fReward, kind: kUint},
}

// compiler turns a parsed tree into a Bleve query.
type compiler struct {
	std        analysis.Analyzer
	clauses    int
	maxClauses int
	minPrefix  int
	// checkPrefix, when set, refuses a prefix that expands to too many terms.
	checkPrefix func(field, prefix string, pos int) error
	// heights maps a block-time range [start, end) (zero: open) to the
	// heights it covers; ok is false when none.
	heights func(start, end time.Time) (lo, hi uint64, ok bool, err error)
	// exists, when set, reports whether field has the term in the index.
	// A bare word is also tried as a key, code, hash or address; clauses
	// for terms that are nowhere in the index are left out, so that the
	// common word query is a single term search, not a disjunction.
	exists func(field, term string) (bool, error)
}

// compiled is a query or the knowledge that it matches nothing (Bleve
// treats a MatchNone inside a boolean query as absent, which would turn
// "nothing AND NOT x" into "everything but x").
type compiled struct {
	q    query.Query
	none bool
	// marks are the clauses whose matches are highlighted: the positive
	// (not negated) clauses on text fields, key and code.
	marks []query.Query
}

var (
	matchNone = compiled{none: true}
	trueVal   = true
)

func all() query.Query { return query.NewMatchAllQuery() }

// isPlain reports whether q needs neither positions nor scores (see plain).
func isPlain(q query.Query) bool {
	switch q.(type) {
	case plain, *query.MatchAllQuery:
		return true
	}
	return false
}

// group builds the conjunction (or disjunction) of qs, with the plain ones
// gathered into one plain conjunction (disjunction) of their own: Bleve
// then combines their postings as bitmaps, without reading positions or
// scoring, whatever the rest of the query needs. The result is plain when
// every part is.
func group(qs []query.Query, and bool) query.Query {
	join := func(qs []query.Query) query.Query {
		if len(qs) == 1 {
			return qs[0]
		}
		if and {
			return query.NewConjunctionQuery(qs)
		}
		return query.NewDisjunctionQuery(qs)
	}
	var p, o []query.Query
	for _, q := range qs {
		if isPlain(q) {
			p = append(p, q)
		} else {
			o = append(o, q)
		}
	}
	if len(p) > 1 {
		p = []query.Query{plain{join(p)}}
	}
	return join(append(p, o...))
}

// without builds "must AND NOT (any of not)".
func without(must query.Query, not []query.Query) query.Query {
	n := group(not, false)
	b := query.NewBooleanQuery([]query.Query{must}, nil, []query.Query{n})
	if isPlain(must) && isPlain(n) {
		return plain{b}
	}
	return b
}

func (c *compiler) compile(n *expr) (compiled, error) {
	switch n.kind {
	case nTerm:
		c.clauses++
		if c.clauses > c.maxClauses {
			return compiled{}, qerr(n.tok.pos, "too many terms: at most %d", c.maxClauses)
		}
		return c.term(n.tok)
	case nNot:
		in, err := c.compile(n.kids[0])
		if err != nil {
			return compiled{}, err
		}
		if in.none {
			return compiled{q: all()}, nil
		}
		return compiled{q: without(all(), []query.Query{in.q})}, nil
	case nAnd:
		var must, not, marks []query.Query
		none := false
		for _, k := range n.kids {
			if k.kind == nNot {
				in, err := c.compile(k.kids[0])
				if err != nil {
					return compiled{}, err
				}
				if !in.none {
					not = append(not, in.q)
				}
				continue
			}
			in, err := c.compile(k)
			if err != nil {
				return compiled{}, err
			}
			if in.none {
				none = true // keep compiling: errors later in the query still count
			} else if _, isAll := in.q.(*query.MatchAllQuery); !isAll {
				must = append(must, in.q)
				marks = append(marks, in.marks...)
			}
		}
		if none {
			return matchNone, nil
		}
		if len(must) == 0 {
			must = []query.Query{all()}
		}
		if len(not) == 0 {
			return compiled{q: group(must, true), marks: marks}, nil
		}
		return compiled{q: without(group(must, true), not), marks: marks}, nil
	case nOr:
		var alts, marks []query.Query
		for _, k := range n.kids {
			in, err := c.compile(k)
			if err != nil {
				return compiled{}, err
			}
			if !in.none {
				alts = append(alts, in.q)
				marks = append(marks, in.marks...)
			}
		}
		if len(alts) == 0 {
			return matchNone, nil
		}
		return compiled{q: group(alts, false), marks: marks}, nil
	}
	return compiled{}, fmt.Errorf("search: unknown node kind %d", n.kind)
}

// marked is a clause whose matches are highlighted.
func marked(q query.Query) compiled { return compiled{q: q, marks: []query.Query{q}} }

func termQ(field, v string) query.Query {
	q := query.NewTermQuery(v)
	q.SetField(field)
	return plainQ(field, q)
}

// plain runs a clause on a field that is neither highlighted nor ranked
// without term vectors and without scoring. It matters for speed: Bleve
// reads a postings list entry by entry when it needs frequencies or
// positions, but skips through it when it does not, so "type:transfer
// from:X" costs the few postings of X, not the million of type:transfer.
type plain struct{ query.Query }

func (p plain) Searcher(ctx context.Context, i index.IndexReader, m mapping.IndexMapping, o search.SearcherOptions) (search.Searcher, error) {
	o.IncludeTermVectors, o.Score = false, "none"
	return p.Query.Searcher(ctx, i, m, o)
}

// plainQ wraps q in plain unless field is one whose matches are
// highlighted (text fields, key, code).
func plainQ(field string, q query.Query) query.Query {
	if field == fKey || field == fCode {
		return q
	}
	return plain{q}
}

func (c *compiler) prefixQ(field, prefix string, pos int) (query.Query, error) {
	if utf8.RuneCountInString(prefix) < c.minPrefix {
		return nil, qerr(pos, "prefix %q is too short: give at least %d characters before '*'", prefix, c.minPrefix)
	}
	if c.checkPrefix != nil {
		if err := c.checkPrefix(field, prefix, pos); err != nil {
			return nil, err
		}
	}
	q := query.NewPrefixQuery(prefix)
	q.SetField(field)
	return plainQ(field, q), nil
}

// analyse returns the terms the standard analyser makes of s.
func (c *compiler) analyse(s string) []string {
	var out []string
	for _, t := range c.std.Analyze([]byte(s)) {
		out = append(out, string(t.Term))
	}
	return out
}

// text matches analysed text: every word (AND), or the words in order when
// quoted.
func (c *compiler) text(field, v string, quoted bool) compiled {
	if len(c.analyse(v)) == 0 {
		return matchNone // only stop words or punctuation
	}
	if quoted {
		q := query.NewMatchPhraseQuery(v)
		q.SetField(field)
		q.Analyzer = standard.Name
		return marked(q)
	}
	q := query.NewMatchQuery(v)
	q.SetField(field)
	q.Analyzer = standard.Name
	q.SetOperator(query.MatchQueryOperatorAnd)
	return marked(q)
}

func isHexDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (c *compiler) term(t token) (compiled, error) {
	if t.field == "" {
		return c.bare(t)
	}
	if strings.HasPrefix(t.field, docPrefix+".") && len(t.field) > len(docPrefix)+1 || t.field == docPrefix {
		return c.doc(t)
	}
	spec, ok := fieldSpecs[t.field]
	if !ok {
		return compiled{}, qerr(t.pos, "unknown field %q (fields: %s, or doc.<json path>)", t.field, fieldList())
	}
	v := t.value
	prefix := !t.quoted && len(v) > 1 && strings.HasSuffix(v, "*")
	if v == "*" && !t.quoted {
		return compiled{}, qerr(t.valuePos, "%s:* is not supported; use a value, a prefix like %s:ab12*, or a range", t.field, t.field)
	}
	switch spec.kind {
	case kPubKey:
		if t.op != "" && t.op != "=" || prefix {
			return compiled{}, qerr(t.valuePos, "%s takes a whole public key (for a prefix, use from: with an address)", t.field)
		}
		a, ok := pubKeyAddress(v)
		if !ok {
			return compiled{}, qerr(t.valuePos, "%s must be a public key of 64 hex digits, got %q", t.field, t.value)
		}
		return compiled{q: termQ(fFrom, a)}, nil
	case kHex, kAddress:
		if t.op != "" && t.op != "=" {
			return compiled{}, qerr(t.valuePos, "field %s takes an exact value, not a comparison %q", t.field, t.op)
		}
		v = strings.ToLower(v)
		body := strings.TrimSuffix(v, "*")
		if !prefix {
			body = v
		}
		if !isHexDigits(body) {
			return compiled{}, qerr(t.valuePos, "%s must be hexadecimal, got %q", t.field, t.value)
		}
		if !prefix && spec.hexLen > 0 && len(body) != spec.hexLen {
			return compiled{}, qerr(t.valuePos, "%s must be %d hex digits, got %d (end it with * to match a prefix)", t.field, spec.hexLen, len(body))
		}
		if spec.name == fHash {
			qs, err := c.hash(body, prefix, t.valuePos)
			return compiled{q: group(qs, false)}, err
		}
		fields := []string{spec.name}
		if spec.kind == kAddress {
			fields = []string{fFrom, fTo}
		}
		var qs []query.Query
		for _, f := range fields {
			if prefix {
				q, err := c.prefixQ(f, body, t.valuePos)
				if err != nil {
					return compiled{}, err
				}
				qs = append(qs, q)
			} else {
				qs = append(qs, termQ(f, body))
			}
		}
		return compiled{q: group(qs, false)}, nil
	case kExact:
		if t.op != "" && t.op != "=" {
			return compiled{}, qerr(t.valuePos, "field %s takes an exact value, not a comparison %q", t.field, t.op)
		}
		if prefix {
			q, err := c.prefixQ(spec.name, strings.TrimSuffix(v, "*"), t.valuePos)
			return marked(q), err
		}
		return marked(termQ(spec.name, v)), nil
	case kEnum:
		if t.op != "" && t.op != "=" {
			return compiled{}, qerr(t.valuePos, "field %s takes one of %s, not a comparison %q", t.field, strings.Join(spec.allowed, ", "), t.op)
		}
		v = strings.ToLower(v)
		for _, a := range spec.allowed {
			if a == v {
				return compiled{q: termQ(spec.name, v)}, nil
			}
		}
		return compiled{}, qerr(t.valuePos, "%s must be one of %s, got %q", t.field, strings.Join(spec.allowed, ", "), t.value)
	case kText:
		if t.op != "" {
			return compiled{}, qerr(t.valuePos, "field %s is text: give words or a \"phrase\", not %q", t.field, t.op)
		}
		return c.text(spec.name, v, t.quoted), nil
	case kUint:
		return numRange(spec.name, t, true)
	case kDate:
		start, end, err := dateRange(t)
		if err != nil {
			return compiled{}, err
		}
		if c.heights == nil {
			return matchNone, nil
		}
		lo, hi, ok, err := c.heights(start, end)
		if err != nil || !ok {
			return matchNone, err
		}
		return compiled{q: plain{uintRangeQuery{field: fHeight, lo: lo, hi: hi}}}, nil
	case kInt:
		if t.op != "" && t.op != "=" || t.quoted || strings.Contains(v, "..") {
			return compiled{}, qerr(t.valuePos, "field %s takes an exact number, not a range or comparison", t.field)
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return compiled{}, qerr(t.valuePos, "%s: %q is not a non-negative integer", t.field, v)
		}
		return compiled{q: termQ(spec.name, strconv.FormatUint(n, 10))}, nil
	}
	return compiled{}, fmt.Errorf("search: field %s has unknown kind", t.field)
}

// hash matches a hash (or a prefix of one): a transaction's document id
// (HASH, or HASH@HEIGHT.INDEX for a replayed copy) or a block's hash field.
func (c *compiler) hash(h string, prefix bool, pos int) ([]query.Query, error) {
	if prefix {
		var qs []query.Query
		for _, f := range []string{fID, fHash} {
			q, err := c.prefixQ(f, h, pos)
			if err != nil {
				return nil, err
			}
			qs = append(qs, q)
		}
		return qs, nil
	}
	replays, err := c.prefixQ(fID, h+"@", pos)
	if err != nil {
		return nil, err
	}
	return []query.Query{termQ(fID, h), replays, termQ(fHash, h)}, nil
}

// pubKeyAddress returns the address (hex) of a public key given in hex.
func pubKeyAddress(s string) (string, bool) {
	pk, err := crypto.ParsePublicKey(strings.ToLower(s))
	if err != nil {
		return "", false
	}
	return pk.Address().String(), true
}

func fieldList() string {
	return "hash, type, sender, from, to, address, amount, key, value, nonce, height, index, time, status, code, reason, version, proposer, tx_count"
}

// bare compiles a word or phrase without a field: analysed text of every
// text field (_all), or an identifier given whole (hash, address, public
// key, key, code).
func (c *compiler) bare(t token) (compiled, error) {
	v := t.value
	if v == "*" && !t.quoted {
		return compiled{q: all()}, nil
	}
	if !t.quoted && strings.HasSuffix(v, "*") {
		return compiled{}, qerr(t.pos, "a prefix (%s) needs a field: hash:, from:, to:, sender:, key: or code:", v)
	}
	var qs, marks []query.Query
	if tx := c.text(fAll, v, t.quoted); !tx.none {
		qs, marks = append(qs, tx.q), tx.marks
	}
	type exact struct{ field, term string }
	cands := []exact{{fKey, v}, {fCode, v}}
	lv := strings.ToLower(v)
	if isHexDigits(lv) {
		switch len(lv) {
		case 64:
			hq, err := c.hash(lv, false, t.pos)
			if err != nil {
				return compiled{}, err
			}
			qs = append(qs, hq...)
			cands = append(cands, exact{fProposer, lv})
			if a, ok := pubKeyAddress(lv); ok {
				cands = append(cands, exact{fFrom, a})
			}
		case 40:
			cands = append(cands, exact{fFrom, lv}, exact{fTo, lv})
		}
	}
	for _, e := range cands {
		if c.exists != nil {
			ok, err := c.exists(e.field, e.term)
			if err != nil {
				return compiled{}, err
			}
			if !ok {
				continue
			}
		}
		q := termQ(e.field, e.term)
		qs = append(qs, q)
		if e.field == fKey || e.field == fCode {
			marks = append(marks, q)
		}
	}
	if len(qs) == 0 {
		return matchNone, nil
	}
	return compiled{q: group(qs, false), marks: marks}, nil
}

// doc compiles a term on a record field: doc.a.b:word (analysed),
// doc.a.b:"a phrase", doc.a.b:="whole value" (exact), doc.a.b:>5 and
// doc.a.b:1..9 (numeric). A bare number matches the number or the word.
func (c *compiler) doc(t token) (compiled, error) {
	f := t.field
	v := t.value
	switch {
	case t.op == "=":
		if !t.quoted && len(v) > 1 && strings.HasSuffix(v, "*") {
			q, err := c.prefixQ(exactPrefix+f, strings.TrimSuffix(v, "*"), t.valuePos)
			return compiled{q: q}, err
		}
		return compiled{q: termQ(exactPrefix+f, v)}, nil
	case t.op != "" || (!t.quoted && strings.Contains(v, "..")):
		return numRange(f, t, false)
	}
	if !t.quoted {
		if n, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(n, 0) && !math.IsNaN(n) {
			num := query.NewNumericRangeInclusiveQuery(&n, &n, &trueVal, &trueVal)
			num.SetField(f)
			qs := []query.Query{plain{num}}
			tx := c.text(f, v, false)
			if !tx.none {
				qs = append(qs, tx.q)
			}
			return compiled{q: group(qs, false), marks: tx.marks}, nil
		}
	}
	return c.text(f, v, t.quoted), nil
}
