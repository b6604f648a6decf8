package state

import (
	"bufio"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/smt"
)

// docVectors reads the "name = hex" lines of the first text block after
// the "### 7.4 Test vectors" heading of docs/encoding.md.
func docVectors(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../../docs/encoding.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := regexp.MustCompile(`^([a-z][a-z0-9_.]*)\s+=\s+([0-9a-f]*)$`)
	out := map[string]string{}
	section, inBlock := false, false
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "### 7.4 Test vectors"):
			section = true
		case section && strings.HasPrefix(l, "```"):
			if inBlock {
				return out
			}
			inBlock = true
		case inBlock:
			m := line.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("encoding.md vectors: line %q is not name = hex", l)
			}
			out[m[1]] = m[2]
		}
	}
	t.Fatal("encoding.md: no test vector block under 7.4")
	return nil
}

// TestEncodingDocVectors checks the state tree vectors of docs/encoding.md
// 7.4 against the code that builds and proves the real state: the tree of
// four pairs committed through Prepare/Stage/Committed, its root, and the
// proofs Prove returns, byte for byte; each proof verifies for what the
// doc says it proves and fails for a different claim.
func TestEncodingDocVectors(t *testing.T) {
	v := docVectors(t)
	want := func(name string) string {
		t.Helper()
		s, ok := v[name]
		if !ok {
			t.Fatalf("encoding.md 7.4 has no vector %q", name)
		}
		return s
	}
	pa := smt.Path([]byte("a"))
	va := crypto.Sum([]byte("1"))
	la := smt.LeafHash(pa, va)
	for name, got := range map[string]string{
		"path.a": pa.String(), "value_hash.a": va.String(), "leaf.a": la.String(), "root.empty": crypto.Hash{}.String(),
	} {
		if w := want(name); got != w {
			t.Errorf("%s: code gives %s, doc says %s", name, got, w)
		}
	}

	db := openMemDB(t)
	s := openState(t, db, Options{})
	if s.Initialized() {
		t.Fatal("fresh state is initialized")
	}
	// Height 0: a alone; height 1: all four.
	commitWrites(t, s, db, []Write{{Key: []byte("a"), Value: []byte("1")}})
	if got := s.Root().String(); got != want("root.single_a") {
		t.Errorf("root of {a:1}: code %s, doc %s", got, want("root.single_a"))
	}
	commitWrites(t, s, db, []Write{{Key: []byte("b"), Value: []byte("2")}, {Key: []byte("c"), Value: []byte("3")}, {Key: []byte("d"), Value: []byte("4")}})
	root := s.Root()
	if root.String() != want("root") {
		t.Fatalf("root: code %s, doc %s", root, want("root"))
	}
	for _, c := range []struct {
		key   string
		value []byte // nil: absent
	}{{"b", []byte("2")}, {"m", nil}, {"e", nil}} {
		v, found, p, err := s.Prove([]byte(c.key), s.Height())
		if err != nil {
			t.Fatal(err)
		}
		if found != (c.value != nil) || (found && string(v) != string(c.value)) {
			t.Fatalf("prove %q: found %v value %q", c.key, found, v)
		}
		if got := hex.EncodeToString(p.Encode()); got != want("proof."+c.key) {
			t.Errorf("proof of %q: code\n  %s\ndoc\n  %s", c.key, got, want("proof."+c.key))
		}
		b, _ := hex.DecodeString(want("proof." + c.key))
		dp, err := smt.DecodeProof(b)
		if err != nil {
			t.Fatalf("doc proof of %q does not decode: %v", c.key, err)
		}
		if err := smt.Verify(root, []byte(c.key), c.value, dp); err != nil {
			t.Errorf("doc proof of %q does not verify: %v", c.key, err)
		}
		other := []byte("x")
		if c.value == nil {
			other = nil
			if err := smt.Verify(root, []byte(c.key), []byte("2"), dp); err == nil {
				t.Errorf("doc absence proof of %q also proves a value", c.key)
			}
		}
		if err := smt.Verify(root, []byte(c.key), other, dp); err == nil && c.value != nil {
			t.Errorf("doc proof of %q also proves another value", c.key)
		}
	}
}
