package search

// Query language, stage one: splitting a query string into tokens
// (operators, parentheses, terms with their field, operator and value).

import (
	"strings"
)

type tokKind int

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tAnd
	tOr
	tNot
	tPlus
	tTerm
)

// token is one lexical item; for tTerm, field/op/value describe the term.
type token struct {
	kind     tokKind
	pos      int // 1-based
	field    string
	op       string
	value    string
	valuePos int
	quoted   bool
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tLParen:
		return `"("`
	case tRParen:
		return `")"`
	case tAnd:
		return "AND"
	case tOr:
		return "OR"
	case tNot:
		return "NOT"
	case tPlus:
		return `"+"`
	}
	return "term"
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// lex splits a query into tokens.
func lex(s string) ([]token, error) {
	var out []token
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			out = append(out, token{kind: tEOF, pos: len(s) + 1})
			return out, nil
		}
		c := s[i]
		switch {
		case c == '(':
			out = append(out, token{kind: tLParen, pos: i + 1})
			i++
			continue
		case c == ')':
			out = append(out, token{kind: tRParen, pos: i + 1})
			i++
			continue
		case (c == '-' || c == '+') && i+1 < len(s) && !isSpace(s[i+1]) && s[i+1] != ')':
			k := tNot
			if c == '+' {
				k = tPlus
			}
			out = append(out, token{kind: k, pos: i + 1})
			i++
			continue
		case c == '"':
			v, n, err := phrase(s, i)
			if err != nil {
				return nil, err
			}
			out = append(out, token{kind: tTerm, pos: i + 1, value: v, valuePos: i + 1, quoted: true})
			i = n
			continue
		}
		start := i
		for i < len(s) && !isSpace(s[i]) && s[i] != '(' && s[i] != ')' && s[i] != '"' && s[i] != ':' {
			i++
		}
		if i < len(s) && s[i] == ':' {
			field := s[start:i]
			if field == "" {
				return nil, qerr(start+1, "missing field name before ':'")
			}
			i++
			op := ""
			for _, o := range []string{">=", "<=", "=", ">", "<"} {
				if strings.HasPrefix(s[i:], o) {
					op, i = o, i+len(o)
					break
				}
			}
			t := token{kind: tTerm, pos: start + 1, field: field, op: op, valuePos: i + 1}
			if i < len(s) && s[i] == '"' {
				v, n, err := phrase(s, i)
				if err != nil {
					return nil, err
				}
				t.value, t.quoted, i = v, true, n
			} else {
				vs := i
				for i < len(s) && !isSpace(s[i]) && s[i] != '(' && s[i] != ')' && s[i] != '"' {
					i++
				}
				t.value = s[vs:i]
				if t.value == "" {
					return nil, qerr(t.valuePos, "missing value after %q", field+":"+op)
				}
			}
			out = append(out, t)
			continue
		}
		w := s[start:i]
		if w == "" {
			// a stray quote right after a word is handled as a phrase next.
			continue
		}
		switch w {
		case "AND":
			out = append(out, token{kind: tAnd, pos: start + 1})
		case "OR":
			out = append(out, token{kind: tOr, pos: start + 1})
		case "NOT":
			out = append(out, token{kind: tNot, pos: start + 1})
		default:
			out = append(out, token{kind: tTerm, pos: start + 1, value: w, valuePos: start + 1})
		}
	}
}

// phrase reads a double-quoted string starting at s[i] == '"', with \" and
// \\ escapes. It returns the contents and the offset after the closing quote.
func phrase(s string, i int) (string, int, error) {
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
				b.WriteByte(s[j+1])
				j++
				continue
			}
			b.WriteByte('\\')
		case '"':
			return b.String(), j + 1, nil
		default:
			b.WriteByte(s[j])
		}
	}
	return "", 0, qerr(i+1, "unterminated phrase: missing closing '\"'")
}
