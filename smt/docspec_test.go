package smt_test

// This file is a verifier written from docs/encoding.md section 7 alone,
// with SHA-256 from the standard library and no Cairn package: it shows
// the section is complete enough to implement the state tree and its
// proofs without the Go source, on the section's own test vectors.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
)

func specSum(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func specBit(p []byte, i int) byte { return (p[i/8] >> (7 - uint(i%8))) & 1 }

// specRoot is 7.1: the subtree of pairs (paths) at depth d.
func specRoot(pairs [][2][]byte, d int) []byte {
	switch len(pairs) {
	case 0:
		return make([]byte, 32)
	case 1:
		p := specSum(pairs[0][0])
		return specSum([]byte{0}, p, specSum(pairs[0][1]))
	}
	var l, r [][2][]byte
	for _, kv := range pairs {
		if specBit(specSum(kv[0]), d) == 0 {
			l = append(l, kv)
		} else {
			r = append(r, kv)
		}
	}
	return specSum([]byte{1}, specRoot(l, d+1), specRoot(r, d+1))
}

type specProof struct {
	siblings [][]byte
	leafKey  []byte // nil: no leaf
	leafVal  []byte
}

// specDecode is the binary layout of 7.3.
func specDecode(b []byte) (*specProof, error) {
	if len(b) < 3 || b[0]&^1 != 0 {
		return nil, errors.New("flags")
	}
	depth := int(b[1])<<8 | int(b[2])
	if depth > 256 {
		return nil, errors.New("depth")
	}
	rest := b[3:]
	n := (depth + 7) / 8
	if len(rest) < n {
		return nil, errors.New("bitmap")
	}
	bm, rest := rest[:n], rest[n:]
	if depth%8 != 0 && bm[n-1]&(0xff>>uint(depth%8)) != 0 {
		return nil, errors.New("padding")
	}
	p := &specProof{}
	for i := 0; i < depth; i++ {
		if bm[i/8]&(0x80>>uint(i%8)) == 0 {
			if i == depth-1 {
				return nil, errors.New("deepest sibling empty")
			}
			p.siblings = append(p.siblings, make([]byte, 32))
			continue
		}
		if len(rest) < 32 || bytes.Equal(rest[:32], make([]byte, 32)) {
			return nil, errors.New("sibling")
		}
		p.siblings = append(p.siblings, rest[:32])
		rest = rest[32:]
	}
	if b[0]&1 == 1 {
		if len(rest) < 64 {
			return nil, errors.New("leaf")
		}
		p.leafKey, p.leafVal, rest = rest[:32], rest[32:64], rest[64:]
	}
	if len(rest) != 0 {
		return nil, errors.New("trailing bytes")
	}
	return p, nil
}

// specVerify is 7.2; value nil means absence.
func specVerify(root, key, value []byte, p *specProof) error {
	depth := len(p.siblings)
	if depth > 256 || (depth > 0 && bytes.Equal(p.siblings[depth-1], make([]byte, 32))) {
		return errors.New("shape")
	}
	P := specSum(key)
	var h []byte
	switch {
	case value != nil:
		if p.leafKey != nil {
			return errors.New("membership proof with a leaf")
		}
		h = specSum([]byte{0}, P, specSum(value))
	case p.leafKey != nil:
		if bytes.Equal(p.leafKey, P) {
			return errors.New("leaf is the key")
		}
		for i := 0; i < depth; i++ {
			if specBit(p.leafKey, i) != specBit(P, i) {
				return errors.New("leaf off the path")
			}
		}
		h = specSum([]byte{0}, p.leafKey, p.leafVal)
	default:
		h = make([]byte, 32)
	}
	for i := depth - 1; i >= 0; i-- {
		if specBit(P, i) == 0 {
			h = specSum([]byte{1}, h, p.siblings[i])
		} else {
			h = specSum([]byte{1}, p.siblings[i], h)
		}
	}
	if !bytes.Equal(h, root) {
		return errors.New("root mismatch")
	}
	return nil
}

func specVectors(t *testing.T) map[string]string {
	f, err := os.Open("../docs/encoding.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	re := regexp.MustCompile(`^([a-z][a-z0-9_.]*)\s+=\s+([0-9a-f]*)$`)
	out := map[string]string{}
	in, block := false, false
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "### 7.4"):
			in = true
		case in && strings.HasPrefix(l, "```"):
			if block {
				return out
			}
			block = true
		case block:
			if m := re.FindStringSubmatch(l); m != nil {
				out[m[1]] = m[2]
			}
		}
	}
	t.Fatal("no vectors under 7.4")
	return nil
}

// TestSpecFromDocs re-derives every vector of encoding.md 7.4 by following
// the text of section 7 only, and checks that tampered proofs fail.
func TestSpecFromDocs(t *testing.T) {
	v := specVectors(t)
	hx := func(b []byte) string { return hex.EncodeToString(b) }
	pairs := [][2][]byte{{[]byte("a"), []byte("1")}, {[]byte("b"), []byte("2")}, {[]byte("c"), []byte("3")}, {[]byte("d"), []byte("4")}}
	root := specRoot(pairs, 0)
	for name, got := range map[string]string{
		"path.a":        hx(specSum([]byte("a"))),
		"value_hash.a":  hx(specSum([]byte("1"))),
		"leaf.a":        hx(specSum([]byte{0}, specSum([]byte("a")), specSum([]byte("1")))),
		"root.single_a": hx(specRoot(pairs[:1], 0)),
		"root.empty":    hx(specRoot(nil, 0)),
		"root":          hx(root),
	} {
		if v[name] != got {
			t.Errorf("%s: doc %q, derived from the text %s", name, v[name], got)
		}
	}
	for _, c := range []struct {
		name, key string
		value     []byte
	}{{"proof.b", "b", []byte("2")}, {"proof.m", "m", nil}, {"proof.e", "e", nil}} {
		b, err := hex.DecodeString(v[c.name])
		if err != nil || len(b) == 0 {
			t.Fatalf("%s missing from the doc", c.name)
		}
		p, err := specDecode(b)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := specVerify(root, []byte(c.key), c.value, p); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		// Tampered: any flipped byte must make the proof fail to decode or
		// to verify.
		for i := range b {
			bad := bytes.Clone(b)
			bad[i] ^= 0x10
			if q, err := specDecode(bad); err == nil && specVerify(root, []byte(c.key), c.value, q) == nil {
				t.Errorf("%s with byte %d changed still verifies", c.name, i)
			}
		}
	}
}
