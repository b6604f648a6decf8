package search

// Query language, stage two: parsing the tokens into a tree of AND, OR,
// NOT and terms, with a depth limit.

import (
	"strings"
	"unicode/utf8"
)

type exprKind int

const (
	nAnd exprKind = iota
	nOr
	nNot
	nTerm
)

// expr is the parsed query tree.
type expr struct {
	kind exprKind
	kids []*expr
	tok  token // for nTerm, and the position of operators
}

type parser struct {
	toks     []token
	i        int
	depth    int
	maxDepth int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// parse builds the tree of a query string.
func parse(s string, maxDepth int) (*expr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, qerr(0, "empty query: give words, field:value terms, or * for everything")
	}
	if !utf8.ValidString(s) {
		return nil, qerr(0, "query is not valid UTF-8")
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, maxDepth: maxDepth}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tRParen {
			return nil, qerr(t.pos, "unmatched ')'")
		}
		return nil, qerr(t.pos, "unexpected %s", t)
	}
	return n, nil
}

func (p *parser) or() (*expr, error) {
	first, err := p.and()
	if err != nil {
		return nil, err
	}
	kids := []*expr{first}
	for p.peek().kind == tOr {
		op := p.next()
		if k := p.peek().kind; k == tEOF || k == tRParen || k == tOr || k == tAnd {
			return nil, qerr(op.pos, "OR needs a term after it")
		}
		n, err := p.and()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &expr{kind: nOr, kids: kids}, nil
}

func (p *parser) and() (*expr, error) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	kids := []*expr{first}
	for {
		t := p.peek()
		switch t.kind {
		case tEOF, tRParen, tOr:
			if len(kids) == 1 {
				return first, nil
			}
			return &expr{kind: nAnd, kids: kids}, nil
		case tAnd:
			p.next()
			if k := p.peek().kind; k == tEOF || k == tRParen || k == tOr || k == tAnd {
				return nil, qerr(t.pos, "AND needs a term after it")
			}
		}
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
}

func (p *parser) unary() (*expr, error) {
	t := p.peek()
	switch t.kind {
	case tNot:
		p.next()
		if k := p.peek().kind; k == tEOF || k == tRParen || k == tOr || k == tAnd {
			return nil, qerr(t.pos, "NOT needs a term after it")
		}
		p.depth++
		if p.depth > p.maxDepth {
			return nil, qerr(t.pos, "query nests deeper than %d levels", p.maxDepth)
		}
		n, err := p.unary()
		p.depth--
		if err != nil {
			return nil, err
		}
		return &expr{kind: nNot, kids: []*expr{n}, tok: t}, nil
	case tPlus:
		p.next()
		return p.primary()
	}
	return p.primary()
}

func (p *parser) primary() (*expr, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		p.depth++
		if p.depth > p.maxDepth {
			return nil, qerr(t.pos, "query nests deeper than %d levels", p.maxDepth)
		}
		if p.peek().kind == tRParen {
			return nil, qerr(t.pos, "empty parentheses")
		}
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		p.depth--
		if c := p.next(); c.kind != tRParen {
			return nil, qerr(t.pos, "missing ')' for this '('")
		}
		return n, nil
	case tTerm:
		return &expr{kind: nTerm, tok: t}, nil
	case tEOF:
		return nil, qerr(t.pos, "query ends where a term was expected")
	case tRParen:
		return nil, qerr(t.pos, "unexpected ')'")
	default:
		return nil, qerr(t.pos, "%s needs a term before it", t)
	}
}
