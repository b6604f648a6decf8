package search

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"html"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	htmlhl "github.com/blevesearch/bleve/v2/search/highlight/highlighter/html"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/cairn-db/cairn/client"
)

// sortSpec is a named sort order; every order ends with the unique
// position key so that cursors see a total order.
type sortSpec struct {
	name  string
	order search.SortOrder
	score bool
}

func sortField(f string, desc bool) *search.SortField {
	// Auto type: the cursor carries the raw sort terms, which Bleve then
	// compares as they are (see encodeSearchAfter in bleve's collector).
	return &search.SortField{Field: f, Desc: desc, Missing: search.SortFieldMissingLast}
}

func parseSort(s string) (sortSpec, error) {
	if s == "" {
		s = "-height"
	}
	desc := strings.HasPrefix(s, "-")
	name := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	switch name {
	case "height", "time":
		// Block time never decreases with height, so time order is chain order.
		return sortSpec{name: s, order: search.SortOrder{sortField(fPos, desc)}}, nil
	case "amount":
		return sortSpec{name: s, order: search.SortOrder{sortField(fAmount, desc), sortField(fPos, desc)}}, nil
	case "_score", "score":
		// Best first whatever the sign: worst-first relevance is not useful.
		return sortSpec{name: "-_score", score: true, order: search.SortOrder{&search.SortScore{Desc: true}, sortField(fPos, true)}}, nil
	}
	return sortSpec{}, qerr(0, "unknown sort %q: use -height, height, -time, time, -amount, amount or _score", s)
}

// cursor is what NextCursor encodes: the sort key of the last hit, bound
// to the query and sort it came from.
type cursor struct {
	V     int      `json:"v"`
	Query uint64   `json:"q"`
	Sort  string   `json:"s"`
	After []string `json:"a"`
}

func queryHash(q, sort string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(q))
	h.Write([]byte{0})
	h.Write([]byte(sort))
	return h.Sum64()
}

func encodeCursor(c cursor) string {
	// After holds raw index terms (binary); JSON would mangle invalid
	// UTF-8, so each is base64 inside.
	enc := make([]string, len(c.After))
	for i, a := range c.After {
		enc[i] = base64.RawURLEncoding.EncodeToString([]byte(a))
	}
	c.After = enc
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, q string, sp sortSpec) ([]string, error) {
	bad := func(why string) error { return qerr(0, "bad cursor: %s", why) }
	if len(s) > 4096 {
		return nil, bad("too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad("not a cursor from this API")
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.V != 1 {
		return nil, bad("not a cursor from this API")
	}
	if c.Sort != sp.name || c.Query != queryHash(q, sp.name) {
		return nil, bad("it belongs to another query or sort; start again without a cursor")
	}
	if len(c.After) != len(sp.order) {
		return nil, bad("wrong length")
	}
	out := make([]string, len(c.After))
	for i, a := range c.After {
		v, err := base64.RawURLEncoding.DecodeString(a)
		if err != nil {
			return nil, bad("not a cursor from this API")
		}
		out[i] = string(v)
	}
	if sp.score {
		if f, err := strconv.ParseFloat(out[0], 64); err != nil || math.IsNaN(f) {
			return nil, bad("bad score")
		}
	}
	return out, nil
}

// storedFields are loaded for each hit.
var storedFields = []string{"*"}

// Search runs one query. Errors: *QueryError for a bad request (query,
// sort or cursor), ErrBusy, ErrTimeout, ErrClosed, or another error (the
// index's fault).
func (ix *Index) Search(ctx context.Context, r client.SearchRequest) (*client.SearchResult, error) {
	start := time.Now()
	if len(r.Query) > ix.opts.MaxQueryBytes {
		return nil, qerr(0, "query is %d bytes, limit %d", len(r.Query), ix.opts.MaxQueryBytes)
	}
	limit := r.Limit
	switch {
	case limit == 0:
		limit = ix.opts.DefaultLimit
	case limit < 0 || limit > ix.opts.MaxLimit:
		return nil, qerr(0, "limit must be 1..%d, got %d", ix.opts.MaxLimit, r.Limit)
	}
	sp, err := parseSort(r.Sort)
	if err != nil {
		return nil, err
	}
	var after []string
	if r.Cursor != "" {
		if after, err = decodeCursor(r.Cursor, r.Query, sp); err != nil {
			return nil, err
		}
	}
	tree, err := parse(r.Query, ix.opts.MaxDepth)
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(ctx, ix.opts.QueryTimeout)
	defer cancel()
	select {
	case ix.sem <- struct{}{}:
		defer func() { <-ix.sem }()
	case <-ctx.Done():
		return nil, ErrBusy
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return nil, ErrClosed
	}
	res := &client.SearchResult{Hits: []client.SearchHit{}, IndexedHeight: ix.indexed.Load()}
	c := &compiler{std: ix.b.std, maxClauses: ix.opts.MaxClauses, minPrefix: ix.opts.MinPrefix,
		checkPrefix: ix.checkPrefix, heights: ix.heightsBetween, exists: ix.termExists}
	q, err := c.compile(tree)
	if err != nil {
		return nil, err
	}
	if q.none {
		res.TookMs = msSince(start)
		return res, nil
	}
	req := bleve.NewSearchRequestOptions(q.q, limit+1, 0, false)
	req.SortByCustom(sp.order)
	if !sp.score {
		req.Score = "none"
	}
	if after != nil {
		req.SetSearchAfter(after)
	}
	req.Fields = storedFields
	sr, err := ix.idx.SearchInContext(ctx, req)
	if err != nil {
		return nil, ix.searchErr(ctx, err)
	}
	res.Total = sr.Total
	hits := sr.Hits
	if len(hits) > limit {
		hits = hits[:limit]
		last := hits[limit-1]
		ca := cursor{V: 1, Query: queryHash(r.Query, sp.name), Sort: sp.name, After: append([]string(nil), last.Sort...)}
		if sp.score {
			ca.After[0] = strconv.FormatFloat(last.Score, 'g', -1, 64)
		}
		res.NextCursor = encodeCursor(ca)
	}
	frags, err := ix.highlight(ctx, q.marks, hits)
	if err != nil {
		return nil, err
	}
	for _, h := range hits {
		h.Fragments = frags[h.ID]
		res.Hits = append(res.Hits, ix.toHit(h, sp.score))
	}
	res.TookMs = msSince(start)
	return res, nil
}

func (ix *Index) searchErr(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return fmt.Errorf("%w after %s", ErrTimeout, ix.opts.QueryTimeout)
	}
	return fmt.Errorf("search: %w", err)
}

// highlight returns the highlighted fragments of the page's hits. It is a
// second search, for the highlighted clauses of the query (marks) among
// those documents only, so that term positions are read for a page of
// documents rather than for every match (the first search reads none),
// and the exact clauses, already satisfied, are not evaluated again.
func (ix *Index) highlight(ctx context.Context, marks []query.Query, hits search.DocumentMatchCollection) (map[string]search.FieldFragmentMap, error) {
	if len(hits) == 0 || len(marks) == 0 {
		return nil, nil
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	var m query.Query = query.NewDisjunctionQuery(marks)
	if len(marks) == 1 {
		m = marks[0]
	}
	hq := query.NewConjunctionQuery([]query.Query{query.NewDocIDQuery(ids), m})
	req := bleve.NewSearchRequestOptions(hq, len(ids), 0, false)
	req.Score = "none"
	req.SortBy([]string{"_id"})
	req.Highlight = bleve.NewHighlightWithStyle(htmlhl.Name)
	sr, err := ix.idx.SearchInContext(ctx, req)
	if err != nil {
		return nil, ix.searchErr(ctx, err)
	}
	out := make(map[string]search.FieldFragmentMap, len(sr.Hits))
	for _, h := range sr.Hits {
		if len(h.Fragments) > 0 {
			out[h.ID] = h.Fragments
		}
	}
	return out, nil
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// heightsBetween returns the indexed heights lo..hi whose block time is in
// [start, end) (a zero time is an open end); ok is false when there are
// none. Block time never decreases with height, so this is two binary
// searches over block headers, and a time range becomes a height range:
// no per-transaction time terms are needed in the index.
func (ix *Index) heightsBetween(start, end time.Time) (lo, hi uint64, ok bool, err error) {
	top := ix.indexed.Load()
	if top == 0 || ix.blockTime == nil {
		return 0, 0, false, nil
	}
	// first returns the first height in 1..top with time >= t, or top+1.
	first := func(t time.Time) (uint64, error) {
		ms := t.UnixMilli()
		if t.After(time.UnixMilli(ms)) {
			ms++ // block times are whole milliseconds
		}
		a, b := uint64(1), top+1
		for a < b {
			mid := a + (b-a)/2
			bt, err := ix.blockTime(mid)
			if err != nil {
				return 0, fmt.Errorf("search: time of block %d: %w", mid, err)
			}
			if bt < ms {
				a = mid + 1
			} else {
				b = mid
			}
		}
		return a, nil
	}
	lo, hi = 1, top
	if !start.IsZero() {
		if lo, err = first(start); err != nil {
			return 0, 0, false, err
		}
	}
	if !end.IsZero() {
		f, err := first(end)
		if err != nil {
			return 0, 0, false, err
		}
		hi = f - 1
	}
	return lo, hi, lo <= hi && lo <= top, nil
}

// termExists reports whether field has term in any segment.
func (ix *Index) termExists(field, term string) (bool, error) {
	d, err := ix.idx.FieldDictPrefix(field, []byte(term))
	if err != nil {
		return false, fmt.Errorf("search: dictionary of %s: %w", field, err)
	}
	defer d.Close()
	e, err := d.Next()
	if err != nil {
		return false, fmt.Errorf("search: dictionary of %s: %w", field, err)
	}
	return e != nil && e.Term == term, nil
}

// checkPrefix refuses a prefix that expands to more than MaxPrefixTerms
// terms of field: each term becomes a clause of the query.
func (ix *Index) checkPrefix(field, prefix string, pos int) error {
	d, err := ix.idx.FieldDictPrefix(field, []byte(prefix))
	if err != nil {
		return fmt.Errorf("search: dictionary of %s: %w", field, err)
	}
	defer d.Close()
	n := 0
	for {
		e, err := d.Next()
		if err != nil {
			return fmt.Errorf("search: dictionary of %s: %w", field, err)
		}
		if e == nil {
			return nil
		}
		if n++; n > ix.opts.MaxPrefixTerms {
			return qerr(pos, "prefix %s* matches more than %d distinct values; make it longer", prefix, ix.opts.MaxPrefixTerms)
		}
	}
}

func str(f map[string]any, k string) string {
	switch v := f[k].(type) {
	case string:
		return v
	case []any:
		if len(v) > 0 {
			s, _ := v[0].(string)
			return s
		}
	}
	return ""
}

// fieldOrder ranks highlighted fields in a snippet: free text first.
func fieldOrder(f string) int {
	switch {
	case f == fReason:
		return 0
	case f == fValue:
		return 1
	case strings.HasPrefix(f, docPrefix):
		return 2
	case f == fKey:
		return 3
	}
	return 4
}

// parsePos reads a sort key (posKey) back: height and index+1 (0 for the
// block itself).
func parsePos(p string) (uint64, uint32, bool) {
	if len(p) != 24 {
		return 0, 0, false
	}
	h, err1 := strconv.ParseUint(p[:16], 16, 64)
	i, err2 := strconv.ParseUint(p[16:], 16, 32)
	return h, uint32(i), err1 == nil && err2 == nil
}

// toHit builds a hit from a match: stored fields, the sort key (always the
// last sort value) for height and index, the id for a tx's hash, the
// ledger for the block time.
func (ix *Index) toHit(d *search.DocumentMatch, withScore bool) client.SearchHit {
	f := d.Fields
	h := client.SearchHit{ID: d.ID, Type: str(f, fType), Code: str(f, fCode)}
	if len(d.Sort) > 0 {
		if height, i, ok := parsePos(d.Sort[len(d.Sort)-1]); ok {
			h.Height = height
			if i > 0 {
				i--
				h.Index = &i
			}
		}
	}
	if h.Type == typeBlock {
		h.Hash = str(f, fHash)
	} else {
		h.Hash, _, _ = strings.Cut(d.ID, "@")
		h.Status = statusOK
		if h.Code != "" {
			h.Status = statusFailed
		}
	}
	if ix.blockTime != nil {
		if ms, err := ix.blockTime(h.Height); err == nil {
			h.Time = time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
		}
	}
	if withScore && !math.IsNaN(d.Score) && !math.IsInf(d.Score, 0) {
		h.Score = d.Score // JSON has no NaN
	}
	if len(d.Fragments) > 0 {
		h.Fragments = make(map[string][]string, len(d.Fragments))
		names := make([]string, 0, len(d.Fragments))
		for k, v := range d.Fragments {
			if len(v) == 0 {
				continue
			}
			h.Fragments[k] = v
			names = append(names, k)
		}
		sort.Slice(names, func(i, j int) bool {
			a, b := fieldOrder(names[i]), fieldOrder(names[j])
			if a != b {
				return a < b
			}
			return names[i] < names[j]
		})
		var parts []string
		for _, n := range names[:min(3, len(names))] {
			parts = append(parts, html.EscapeString(n)+": "+h.Fragments[n][0])
		}
		h.Snippet = strings.Join(parts, " … ")
	}
	if h.Snippet == "" {
		h.Snippet = html.EscapeString(describe(h, f))
	}
	return h
}

// describe is the fallback snippet: what the block or transaction is.
func describe(h client.SearchHit, f map[string]any) string {
	var s string
	switch h.Type {
	case typeBlock:
		s = fmt.Sprintf("block %d with %s txs, proposer %s", h.Height, str(f, fTxCount), short(str(f, fProposer)))
		if ev := str(f, fFieldEvent); ev != "" {
			s += fmt.Sprintf("; field %s %s", short(str(f, fField)), ev)
		}
		if r := str(f, fReward); r != "" {
			s += fmt.Sprintf("; reward %s", r)
		}
	case "transfer":
		s = fmt.Sprintf("transfer of %s from %s to %s", str(f, fAmount), short(str(f, fFrom)), short(str(f, fTo)))
	case "kv.put", "kv.delete":
		s = fmt.Sprintf("%s key %s by %s", h.Type, truncate(str(f, fKey), 80), short(str(f, fFrom)))
	case "record", "blob.record":
		var parts []string
		keys := make([]string, 0, len(f))
		for k := range f {
			if strings.HasPrefix(k, docPrefix+".") || k == docPrefix {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys[:min(3, len(keys))] {
			parts = append(parts, fmt.Sprintf("%s=%q", k, truncate(str(f, k), 40)))
		}
		s = h.Type + " by " + short(str(f, fFrom))
		if len(parts) > 0 {
			s += ": " + strings.Join(parts, ", ")
		}
	case "field.open":
		s = fmt.Sprintf("field.open of field %s by %s, deposits %s", short(str(f, fField)), short(str(f, fFrom)), str(f, fAmount))
	case "field.close", "field.close_unilateral", "field.challenge":
		s = fmt.Sprintf("%s of field %s at state %s by %s", h.Type, short(str(f, fField)), str(f, fFieldState), short(str(f, fFrom)))
	case "role.grant", "role.revoke":
		s = fmt.Sprintf("%s of role %s to %s by %s", h.Type, str(f, fRole), short(str(f, fTo)), short(str(f, fFrom)))
	case "validator.update":
		s = fmt.Sprintf("validator.update of validator %s to power %s by %s", short(str(f, fTo)), str(f, fAmount), short(str(f, fFrom)))
	case "field.dispute":
		s = fmt.Sprintf("field.dispute of field %s proving payment %s by %s", short(str(f, fField)), str(f, fFieldState), short(str(f, fFrom)))
	case "contract.deploy":
		s = fmt.Sprintf("contract.deploy of %s bytes of code by %s", str(f, fAmount), short(str(f, fFrom)))
	case "contract.instantiate", "contract.upgrade":
		s = fmt.Sprintf("%s of contract %s to code %s by %s", h.Type, str(f, fContract), short(str(f, fCodeHash)), short(str(f, fFrom)))
	case "validator.register":
		s = fmt.Sprintf("validator.register of %s (%s) by %s", short(str(f, fValidator)), truncate(str(f, fValue), 40), short(str(f, fFrom)))
	case "stake.delegate", "stake.undelegate":
		s = fmt.Sprintf("%s of %s to %s by %s", h.Type, str(f, fAmount), short(str(f, fValidator)), short(str(f, fFrom)))
	case "stake.vote":
		s = fmt.Sprintf("stake.vote for %s by %s", short(str(f, fValidator)), short(str(f, fFrom)))
	case "validator.unjail", "evidence.submit":
		s = fmt.Sprintf("%s of %s by %s", h.Type, short(str(f, fValidator)), short(str(f, fFrom)))
	case "contract.invoke":
		s = fmt.Sprintf("contract.invoke of %s.%s by %s", str(f, fContract), str(f, fFunction), short(str(f, fFrom)))
		if g := str(f, fGasUsed); g != "" {
			s += ", gas " + g
		}
		if ev := str(f, fEvent); ev != "" {
			s += ", events " + ev
		}
	default:
		s = h.Type
	}
	if h.Status == statusFailed {
		// A receipt's reason starts with its code.
		r := str(f, fReason)
		if r == "" {
			r = h.Code
		}
		s += "; failed: " + truncate(r, 160)
	}
	return s
}

func short(hexs string) string {
	if len(hexs) > 12 {
		return hexs[:12] + "…"
	}
	return hexs
}
