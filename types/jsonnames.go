package types

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// RFC 8259 leaves an object that names a member twice to the parser: Go
// keeps the last value, other parsers the first, some refuse. A signed or
// consensus-relevant JSON text with a repeated name would mean different
// things to a Go validator and to a verifier written in another language,
// so Cairn refuses them (record documents, the transaction JSON form,
// genesis).

// checkUniqueNames returns an error naming the first member name that
// appears twice in one object, at any depth, of doc. Names are compared
// as Go's decoder reads them: after resolving escapes, so "a" and "\u0061"
// are the same name, and with a lone surrogate escape or an invalid UTF-8
// byte read as U+FFFD (which can only refuse more; record documents must be
// UTF-8 anyway). doc must already be known to be valid JSON: the scan tracks only
// strings and brackets and trusts the grammar for the rest.
func checkUniqueNames(doc []byte) error {
	var (
		inObject []bool    // per open container: is it an object
		objs     []nameSet // per open object, reused across siblings
		nObj     int       // open objects
		isName   bool      // the next string is a member name
	)
	for i := 0; i < len(doc); i++ {
		switch doc[i] {
		case '{':
			inObject = append(inObject, true)
			if nObj == len(objs) {
				objs = append(objs, nameSet{})
			}
			objs[nObj].reset()
			nObj++
			isName = true
		case '[':
			inObject = append(inObject, false)
			isName = false
		case '}', ']':
			if inObject[len(inObject)-1] {
				nObj--
			}
			inObject = inObject[:len(inObject)-1]
			isName = false
		case ',':
			isName = inObject[len(inObject)-1]
		case '"':
			end, escaped := stringEnd(doc, i)
			if isName {
				name := doc[i+1 : end]
				if escaped || !utf8.Valid(name) {
					var s string
					if err := json.Unmarshal(doc[i:end+1], &s); err != nil {
						return fmt.Errorf("member name %s: %v", clip(doc[i:end+1]), err)
					}
					name = []byte(s)
				}
				if !objs[nObj-1].add(name) {
					return fmt.Errorf("duplicate member name %s", clip(doc[i:end+1]))
				}
				isName = false
			}
			i = end
		}
	}
	return nil
}

// stringEnd returns the index of the quote closing the JSON string that
// opens at doc[open], and whether the string holds any escape.
func stringEnd(doc []byte, open int) (end int, escaped bool) {
	j := open + 1
	for {
		q := bytes.IndexByte(doc[j:], '"')
		if q < 0 { // cannot happen in valid JSON
			return len(doc) - 1, escaped
		}
		bs := bytes.IndexByte(doc[j:j+q], '\\')
		if bs < 0 {
			return j + q, escaped
		}
		// Skip the escape and everything up to it, then look again.
		escaped = true
		j += bs + 2
	}
}

// clip quotes a (possibly huge) member name for an error message.
func clip(name []byte) string {
	const max = 64
	if len(name) > max {
		return string(name[:max]) + "..."
	}
	return string(name)
}

// nameSet holds one object's member names: a short list searched in order
// (most objects are small), then a map once the object has many members.
type nameSet struct {
	names [][]byte
	set   map[string]struct{} // in use when len(names) reached nameSetLinear
}

const nameSetLinear = 16

func (s *nameSet) reset() {
	s.names = s.names[:0]
	clear(s.set)
}

// add records name and reports whether it was new.
func (s *nameSet) add(name []byte) bool {
	if len(s.names) < nameSetLinear {
		for _, n := range s.names {
			if bytes.Equal(n, name) {
				return false
			}
		}
		s.names = append(s.names, name)
		return true
	}
	if len(s.set) == 0 {
		if s.set == nil {
			s.set = make(map[string]struct{}, 4*nameSetLinear)
		}
		for _, n := range s.names {
			s.set[string(n)] = struct{}{}
		}
	}
	if _, ok := s.set[string(name)]; ok {
		return false
	}
	s.set[string(name)] = struct{}{}
	return true
}
