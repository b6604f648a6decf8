//go:build wasip1

package main

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// A small JSON codec for the voucher's flat objects. encoding/json works
// too, but it finds its way by reflection, which inside a metered
// WebAssembly guest costs several times the rest of a call; these few
// functions are what every call of the contract runs instead.

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// marshal encodes a voucher as encoding/json would (fields in order,
// redeemed_at omitted when zero).
func (v *Voucher) marshal() []byte {
	b := make([]byte, 0, 160)
	b = append(b, `{"id":`...)
	b = appendString(b, v.ID)
	b = append(b, `,"issuer":`...)
	b = appendString(b, v.Issuer)
	b = append(b, `,"owner":`...)
	b = appendString(b, v.Owner)
	b = append(b, `,"value":`...)
	b = strconv.AppendUint(b, v.Value, 10)
	b = append(b, `,"redeemed":`...)
	b = strconv.AppendBool(b, v.Redeemed)
	if v.RedeemedAt != 0 {
		b = append(b, `,"redeemed_at":`...)
		b = strconv.AppendUint(b, v.RedeemedAt, 10)
	}
	return append(b, '}')
}

// scanner reads one flat JSON object: string, number and boolean members.
type scanner struct {
	b []byte
	i int
}

var errSyntax = errors.New("not a flat JSON object of strings, numbers and booleans")

func (s *scanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *scanner) byte(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) str() (string, error) {
	if !s.byte('"') {
		return "", errSyntax
	}
	var out []byte
	for s.i < len(s.b) {
		c := s.b[s.i]
		s.i++
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return "", errors.New("string is not UTF-8")
			}
			return string(out), nil
		case c < 0x20:
			return "", errSyntax
		case c != '\\':
			out = append(out, c)
		case s.i >= len(s.b):
			return "", errSyntax
		default:
			e := s.b[s.i]
			s.i++
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				if s.i+4 > len(s.b) {
					return "", errSyntax
				}
				r, err := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 16)
				if err != nil {
					return "", errSyntax
				}
				s.i += 4
				out = utf8.AppendRune(out, rune(r)) // a lone surrogate becomes U+FFFD
			default:
				return "", errSyntax
			}
		}
	}
	return "", errSyntax
}

// value reads a member's value: a string, an unsigned integer, or a
// boolean (raw is its text; isStr says which).
func (s *scanner) value() (raw string, isStr bool, err error) {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '"' {
		v, err := s.str()
		return v, true, err
	}
	start := s.i
	for s.i < len(s.b) && (s.b[s.i] >= '0' && s.b[s.i] <= '9' || s.b[s.i] >= 'a' && s.b[s.i] <= 'z' || s.b[s.i] == '-' || s.b[s.i] == '.' || s.b[s.i] == '+' || s.b[s.i] == 'E') {
		s.i++
	}
	if s.i == start {
		return "", false, errSyntax
	}
	return string(s.b[start:s.i]), false, nil
}

// parseObject calls member for every member of a flat JSON object.
func parseObject(b []byte, member func(name, raw string, isStr bool) error) error {
	s := &scanner{b: b}
	if !s.byte('{') {
		return errSyntax
	}
	if s.byte('}') {
		s.space()
		if s.i != len(s.b) {
			return errSyntax
		}
		return nil
	}
	for {
		name, err := s.str()
		if err != nil {
			return err
		}
		if !s.byte(':') {
			return errSyntax
		}
		raw, isStr, err := s.value()
		if err != nil {
			return err
		}
		if err := member(name, raw, isStr); err != nil {
			return err
		}
		if s.byte(',') {
			continue
		}
		if !s.byte('}') {
			return errSyntax
		}
		s.space()
		if s.i != len(s.b) {
			return errSyntax
		}
		return nil
	}
}

// unmarshalArgs parses a call's arguments.
func unmarshalArgs(b []byte, a *args) error {
	return parseObject(b, func(name, raw string, isStr bool) error {
		switch name {
		case "id", "owner", "to":
			if !isStr {
				return errors.New(name + " must be a string")
			}
			switch name {
			case "id":
				a.ID = raw
			case "owner":
				a.Owner = raw
			default:
				a.To = raw
			}
		case "value":
			n, err := strconv.ParseUint(raw, 10, 64)
			if isStr || err != nil {
				return errors.New("value must be an unsigned integer")
			}
			a.Value = n
		}
		return nil // other members are ignored, as encoding/json does
	})
}

// unmarshal parses a stored voucher.
func (v *Voucher) unmarshal(b []byte) error {
	return parseObject(b, func(name, raw string, isStr bool) error {
		var err error
		switch name {
		case "id":
			v.ID = raw
		case "issuer":
			v.Issuer = raw
		case "owner":
			v.Owner = raw
		case "value":
			v.Value, err = strconv.ParseUint(raw, 10, 64)
		case "redeemed":
			v.Redeemed, err = strconv.ParseBool(raw)
		case "redeemed_at":
			v.RedeemedAt, err = strconv.ParseUint(raw, 10, 64)
		}
		return err
	})
}
