package search

// Query language, compiling range terms: numeric field:N, field:>N and
// field:lo..hi, and the date forms of time terms.

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2/search/query"
)

// bound is one end of a numeric term: f always, and u as well when it
// was written as an unsigned integer (exact for integer fields beyond
// float64's 2^53).
type bound struct {
	f     float64
	u     uint64
	exact bool
}

func parseNum(field, s string, pos int) (*bound, error) {
	if s == "*" {
		return nil, nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
		return nil, qerr(pos, "%s: %q is not a number", field, s)
	}
	b := &bound{f: n}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		b.u, b.exact = u, true
	}
	return b, nil
}

// above reports whether a is greater than b.
func (a *bound) above(b *bound) bool {
	if a.exact && b.exact {
		return a.u > b.u
	}
	return a.f > b.f
}

// numRange compiles field:N, field:>N (>=, <, <=) and field:lo..hi
// (inclusive; * leaves a side open) on a uintField (isUint) or a Bleve
// numeric field.
func numRange(field string, t token, isUint bool) (compiled, error) {
	if t.quoted {
		return compiled{}, qerr(t.valuePos, "%s is numeric: give a number without quotes", t.field)
	}
	var lo, hi *bound
	loIn, hiIn := true, true
	v := t.value
	switch t.op {
	case "", "=":
		if a, b, ok := strings.Cut(v, ".."); ok && t.op == "" {
			var err error
			if lo, err = parseNum(t.field, a, t.valuePos); err != nil {
				return compiled{}, err
			}
			if hi, err = parseNum(t.field, b, t.valuePos+len(a)+2); err != nil {
				return compiled{}, err
			}
			if lo == nil && hi == nil {
				return compiled{}, qerr(t.valuePos, "%s: a range needs at least one bound", t.field)
			}
			if lo != nil && hi != nil && lo.above(hi) {
				return compiled{}, qerr(t.valuePos, "%s: empty range %s (low end above high end)", t.field, v)
			}
			break
		}
		n, err := parseNum(t.field, v, t.valuePos)
		if err != nil {
			return compiled{}, err
		}
		if n == nil {
			return compiled{}, qerr(t.valuePos, "%s:* is not supported; give a number or a range", t.field)
		}
		lo, hi = n, n
	default:
		n, err := parseNum(t.field, v, t.valuePos)
		if err != nil {
			return compiled{}, err
		}
		if n == nil {
			return compiled{}, qerr(t.valuePos, "%s: give a number after %q", t.field, t.op)
		}
		switch t.op {
		case ">":
			lo, loIn = n, false
		case ">=":
			lo = n
		case "<":
			hi, hiIn = n, false
		case "<=":
			hi = n
		}
	}
	if isUint {
		l, h, ok := uintBounds(lo, hi, loIn, hiIn)
		if !ok {
			return matchNone, nil
		}
		return compiled{q: plain{uintRangeQuery{field: field, lo: l, hi: h}}}, nil
	}
	var flo, fhi *float64
	if lo != nil {
		flo = &lo.f
	}
	if hi != nil {
		fhi = &hi.f
	}
	q := query.NewNumericRangeInclusiveQuery(flo, fhi, &loIn, &hiIn)
	q.SetField(field)
	return compiled{q: plain{q}}, nil
}

// Date forms accepted in time terms; a form without a zone is UTC.
var dateLayouts = []struct {
	layout string
	span   time.Duration // how long a bare value of this form lasts
}{
	{time.RFC3339Nano, 0},
	{"2006-01-02T15:04:05Z07:00", time.Second},
	{"2006-01-02T15:04:05", time.Second},
	{"2006-01-02T15:04Z07:00", time.Minute},
	{"2006-01-02T15:04", time.Minute},
	{"2006-01-02", 24 * time.Hour},
}

var (
	minDate = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDate = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// parseDate reads a date: one of dateLayouts, or an integer of Unix
// milliseconds. span is the length of the period the value names (a day for
// 2026-01-02), so that time:2026-01-02 means that whole day.
func parseDate(field, s string, pos int) (t time.Time, span time.Duration, open bool, err error) {
	if s == "*" {
		return time.Time{}, 0, true, nil
	}
	if ms, e := strconv.ParseInt(s, 10, 64); e == nil {
		t, span = time.UnixMilli(ms).UTC(), time.Millisecond
	} else {
		for _, l := range dateLayouts {
			if t, e = time.ParseInLocation(l.layout, s, time.UTC); e == nil {
				span = l.span
				if span == 0 {
					span = time.Nanosecond
				}
				break
			}
		}
		if e != nil {
			return t, 0, false, qerr(pos, "%s: %q is not a date (use 2026-01-02, 2026-01-02T15:04:05Z or Unix milliseconds)", field, s)
		}
	}
	if t.Before(minDate) || !t.Before(maxDate) {
		return t, 0, false, qerr(pos, "%s: %q is out of range (1970 to 2261)", field, s)
	}
	return t, span, false, nil
}

// dateRange reads time:D (the whole period D names), time:>D, time:>=D,
// time:<D, time:<=D and time:A..B (inclusive of both periods) as the
// half-open range [start, end); a zero time is an open end.
func dateRange(t token) (start, end time.Time, err error) {
	if t.quoted {
		return start, end, qerr(t.valuePos, "%s is a date: give it without quotes", t.field)
	}
	fail := func(err error) (time.Time, time.Time, error) { return time.Time{}, time.Time{}, err }
	v := t.value
	switch t.op {
	case "", "=":
		if a, b, ok := strings.Cut(v, ".."); ok && t.op == "" {
			s, _, openS, err := parseDate(t.field, a, t.valuePos)
			if err != nil {
				return fail(err)
			}
			e, spanE, openE, err := parseDate(t.field, b, t.valuePos+len(a)+2)
			if err != nil {
				return fail(err)
			}
			if openS && openE {
				return fail(qerr(t.valuePos, "%s: a range needs at least one bound", t.field))
			}
			if !openS {
				start = s
			}
			if !openE {
				end = e.Add(spanE)
			}
			if !openS && !openE && !start.Before(end) {
				return fail(qerr(t.valuePos, "%s: empty range %s (start after end)", t.field, v))
			}
			break
		}
		d, span, open, err := parseDate(t.field, v, t.valuePos)
		if err != nil {
			return fail(err)
		}
		if open {
			return fail(qerr(t.valuePos, "%s:* is not supported; give a date or a range", t.field))
		}
		start, end = d, d.Add(span)
	default:
		d, span, open, err := parseDate(t.field, v, t.valuePos)
		if err != nil {
			return fail(err)
		}
		if open {
			return fail(qerr(t.valuePos, "%s: give a date after %q", t.field, t.op))
		}
		switch t.op {
		case ">": // after the whole period
			start = d.Add(span)
		case ">=":
			start = d
		case "<":
			end = d
		case "<=": // up to the end of the period
			end = d.Add(span)
		}
	}
	return start, end, nil
}
