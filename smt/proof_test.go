package smt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/cairn-db/cairn/crypto"
)

// refTree is a reference tree written straight from the shape rules in the
// package documentation, with its own hashing and bit arithmetic, so that
// the tests check Verify against the specification rather than against
// itself. internal/state tests its stored tree against Verify.
type refTree struct {
	leaves []refLeaf
}

type refLeaf struct {
	path, valueHash [32]byte
}

func newRefTree(kv map[string]string) *refTree {
	t := &refTree{}
	for k, v := range kv {
		t.leaves = append(t.leaves, refLeaf{sha256.Sum256([]byte(k)), sha256.Sum256([]byte(v))})
	}
	return t
}

func refBit(p *[32]byte, i int) byte { return p[i/8] >> (7 - i%8) & 1 }

func refHash(tag byte, a, b [32]byte) crypto.Hash {
	return sha256.Sum256(slices.Concat([]byte{tag}, a[:], b[:]))
}

func refSplit(ls []refLeaf, depth int) (l, r []refLeaf) {
	for _, x := range ls {
		if refBit(&x.path, depth) == 0 {
			l = append(l, x)
		} else {
			r = append(r, x)
		}
	}
	return l, r
}

func refRoot(ls []refLeaf, depth int) crypto.Hash {
	switch len(ls) {
	case 0:
		return crypto.Hash{}
	case 1:
		return refHash(0, ls[0].path, ls[0].valueHash)
	}
	l, r := refSplit(ls, depth)
	return refHash(1, refRoot(l, depth+1), refRoot(r, depth+1))
}

func (t *refTree) root() crypto.Hash { return refRoot(t.leaves, 0) }

// prove walks key's path down to its leaf, an empty subtree or another
// key's leaf, collecting the subtree roots beside it.
func (t *refTree) prove(key string) *Proof {
	path := sha256.Sum256([]byte(key))
	p := &Proof{Siblings: []crypto.Hash{}}
	ls := t.leaves
	for depth := 0; ; depth++ {
		switch {
		case len(ls) == 0:
			return p
		case len(ls) == 1:
			if ls[0].path != path {
				p.Leaf = &ProofLeaf{KeyHash: ls[0].path, ValueHash: ls[0].valueHash}
			}
			return p
		}
		l, r := refSplit(ls, depth)
		if refBit(&path, depth) == 0 {
			p.Siblings = append(p.Siblings, refRoot(r, depth+1))
			ls = l
		} else {
			p.Siblings = append(p.Siblings, refRoot(l, depth+1))
			ls = r
		}
	}
}

// refFixture is a tree of k0..k199; proofs of k*, n* and absent* cover
// membership, absence at an empty subtree and absence at another leaf.
func refFixture() (*refTree, map[string]string) {
	kv := map[string]string{}
	for i := 0; i < 200; i++ {
		kv[fmt.Sprintf("k%d", i)] = fmt.Sprintf("v%d", i)
	}
	return newRefTree(kv), kv
}

func TestVerifyReferenceProofs(t *testing.T) {
	tree, kv := refFixture()
	root := tree.root()
	var members, absentEmpty, absentLeaf int
	for i := 0; i < 200; i++ {
		for _, k := range []string{fmt.Sprintf("k%d", i), fmt.Sprintf("absent%d", i)} {
			v, found := kv[k]
			var value []byte
			if found {
				value = []byte(v)
			}
			p := tree.prove(k)
			switch {
			case found:
				members++
			case p.Leaf != nil:
				absentLeaf++
			default:
				absentEmpty++
			}
			if err := Verify(root, []byte(k), value, p); err != nil {
				t.Fatalf("Verify(%s): %v", k, err)
			}
			// The opposite claim must fail.
			if found {
				if Verify(root, []byte(k), nil, p) == nil {
					t.Fatalf("membership proof of %s verifies as absence", k)
				}
			} else if Verify(root, []byte(k), []byte("x"), p) == nil {
				t.Fatalf("absence proof of %s verifies as membership", k)
			}
			// Binary and JSON round trips preserve the proof.
			enc := p.Encode()
			q, err := DecodeProof(enc)
			if err != nil {
				t.Fatalf("DecodeProof: %v", err)
			}
			if !bytes.Equal(q.Encode(), enc) || Verify(root, []byte(k), value, q) != nil {
				t.Fatalf("binary round trip of %s's proof changed it", k)
			}
			js, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			var pj Proof
			if err := json.Unmarshal(js, &pj); err != nil {
				t.Fatalf("unmarshal proof JSON %s: %v", js, err)
			}
			if !bytes.Equal(pj.Encode(), enc) {
				t.Fatalf("JSON round trip of %s's proof changed it: %s", k, js)
			}
		}
	}
	if members == 0 || absentEmpty == 0 || absentLeaf == 0 {
		t.Fatalf("fixture did not cover every proof kind: %d members, %d absent at empty, %d absent at leaf", members, absentEmpty, absentLeaf)
	}
}

// TestHashesMatchSpec: the exported hash and path helpers are the rules the
// package documentation states.
func TestHashesMatchSpec(t *testing.T) {
	a, b := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
	if LeafHash(a, b) != refHash(0, a, b) || InternalHash(a, b) != refHash(1, a, b) {
		t.Fatal("LeafHash or InternalHash differs from the specification")
	}
	if Path([]byte("k")) != sha256.Sum256([]byte("k")) {
		t.Fatal("Path is not SHA-256 of the key")
	}
	p := crypto.Hash{0x80, 0x01}
	for i, want := range map[int]byte{0: 1, 1: 0, 7: 0, 15: 1, 16: 0, 255: 0} {
		if got := Bit(&p, i); got != want {
			t.Errorf("Bit(%d) = %d, want %d", i, got, want)
		}
	}
	q := p
	q[1] = 0x03
	if n := CommonPrefixBits(&p, &q); n != 14 {
		t.Errorf("CommonPrefixBits = %d, want 14", n)
	}
	if n := CommonPrefixBits(&p, &p); n != MaxDepth {
		t.Errorf("CommonPrefixBits of equal paths = %d, want %d", n, MaxDepth)
	}
}

// TestAPIDocExample: the proof printed in docs/api.md (GET
// /v1/kv/greeting?prove=true, captured from a real node) verifies, and its
// JSON and binary forms are the ones the document shows. This pins the wire
// format from the verifier's side.
func TestAPIDocExample(t *testing.T) {
	const js = `{"siblings":["22a9f51a27fedfb726d0fce81c959497c994df169a6aac022c6dfc3726f4bc4f",` +
		`"0000000000000000000000000000000000000000000000000000000000000000",` +
		`"0000000000000000000000000000000000000000000000000000000000000000",` +
		`"0000000000000000000000000000000000000000000000000000000000000000",` +
		`"0000000000000000000000000000000000000000000000000000000000000000",` +
		`"0000000000000000000000000000000000000000000000000000000000000000",` +
		`"f6248e6fb6605daacfb7593e74307da552a958364b8bd2ee092351049c56c37d"]}`
	const proofHex = "0000078222a9f51a27fedfb726d0fce81c959497c994df169a6aac022c6dfc3726f4bc4f" +
		"f6248e6fb6605daacfb7593e74307da552a958364b8bd2ee092351049c56c37d"
	var p Proof
	if err := json.Unmarshal([]byte(js), &p); err != nil {
		t.Fatal(err)
	}
	if out, _ := json.Marshal(&p); string(out) != js {
		t.Fatalf("JSON form changed:\n%s\nwant\n%s", out, js)
	}
	if got := hex.EncodeToString(p.Encode()); got != proofHex {
		t.Fatalf("binary form %s, want %s", got, proofHex)
	}
	root := mustHash(t, "79688a97caf3ac86608526cf38280aa99c613ec848c5d65352f56813371a8f10")
	key, _ := hex.DecodeString("6b6772656574696e67") // 'k' || "greeting"
	value, _ := hex.DecodeString("000000000000000200000000000000031bec59d222282b14049b1533379f1b6a483943abc447a3da0b5f01dac1c0e2af00000000026869")
	if err := Verify(root, key, value, &p); err != nil {
		t.Fatal(err)
	}
	// A proof with a leaf: the JSON form nests it under "leaf".
	lp := &Proof{Siblings: []crypto.Hash{{7}}, Leaf: &ProofLeaf{KeyHash: crypto.Hash{1}, ValueHash: crypto.Hash{2}}}
	out, _ := json.Marshal(lp)
	want := `{"siblings":["07` + zeros(31) + `"],"leaf":{"key_hash":"01` + zeros(31) + `","value_hash":"02` + zeros(31) + `"}}`
	if string(out) != want {
		t.Fatalf("JSON of a proof with a leaf:\n%s\nwant\n%s", out, want)
	}
}

func zeros(n int) string { return hex.EncodeToString(make([]byte, n)) }

func mustHash(t *testing.T, s string) crypto.Hash {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != crypto.HashSize {
		t.Fatalf("bad hash %q", s)
	}
	return crypto.Hash(b)
}

func TestProofTampering(t *testing.T) {
	tree, kv := refFixture()
	root := tree.root()
	type tc struct {
		key   string
		value []byte
		p     *Proof
	}
	var cases []tc
	for _, k := range []string{"k1", "k0", "absent1", "absent2", "absent3", "absent4", "absent5"} {
		var value []byte
		if v, ok := kv[k]; ok {
			value = []byte(v)
		}
		cases = append(cases, tc{k, value, tree.prove(k)})
	}
	clone := func(p *Proof) *Proof {
		q, err := DecodeProof(p.Encode())
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	for _, c := range cases {
		if err := Verify(root, []byte(c.key), c.value, c.p); err != nil {
			t.Fatalf("untampered proof of %s: %v", c.key, err)
		}
		fail := func(what string, key []byte, value []byte, p *Proof) {
			t.Helper()
			if Verify(root, key, value, p) == nil {
				t.Errorf("%s: tampered proof of %s verifies (%s)", what, c.key, what)
			}
		}
		for i := range c.p.Siblings {
			q := clone(c.p)
			q.Siblings[i][i%32] ^= 0x40
			fail(fmt.Sprintf("sibling %d flipped", i), []byte(c.key), c.value, q)
		}
		if len(c.p.Siblings) > 0 {
			q := clone(c.p)
			q.Siblings = q.Siblings[1:]
			fail("first sibling dropped", []byte(c.key), c.value, q)
			q = clone(c.p)
			q.Siblings = q.Siblings[:len(q.Siblings)-1]
			fail("last sibling dropped", []byte(c.key), c.value, q)
		}
		q := clone(c.p)
		q.Siblings = append(q.Siblings, crypto.Hash{1})
		fail("sibling appended", []byte(c.key), c.value, q)
		fail("other key", []byte(c.key+"x"), c.value, c.p)
		if Verify(crypto.Hash{9}, []byte(c.key), c.value, c.p) == nil {
			t.Errorf("proof of %s verifies against a wrong root", c.key)
		}
		if c.value != nil {
			fail("other value", []byte(c.key), append(bytes.Clone(c.value), 'x'), c.p)
			fail("empty value", []byte(c.key), []byte{}, c.p)
		}
		if c.p.Leaf != nil {
			q := clone(c.p)
			q.Leaf.ValueHash[0] ^= 1
			fail("leaf value hash", []byte(c.key), nil, q)
			q = clone(c.p)
			q.Leaf = nil
			fail("leaf dropped", []byte(c.key), nil, q)
		} else if c.value == nil {
			// Claim the empty slot holds some other leaf instead.
			q := clone(c.p)
			q.Leaf = &ProofLeaf{}
			fail("leaf added", []byte(c.key), nil, q)
		}
	}
	if Verify(root, []byte("k1"), nil, nil) == nil {
		t.Error("nil proof verifies")
	}
}

// TestEmptyValue: an empty value is a value, distinct from absence.
func TestEmptyValue(t *testing.T) {
	tree := newRefTree(map[string]string{"e": "", "f": "x"})
	p := tree.prove("e")
	if err := Verify(tree.root(), []byte("e"), []byte{}, p); err != nil {
		t.Fatalf("verify empty value: %v", err)
	}
	if Verify(tree.root(), []byte("e"), nil, p) == nil {
		t.Fatal("membership proof of an empty value verifies as absence")
	}
}

func TestProofCanonicalRules(t *testing.T) {
	// A proof whose deepest sibling is empty describes no tree of this shape.
	p := &Proof{Siblings: []crypto.Hash{{1}, {}}}
	if err := Verify(crypto.Hash{}, []byte("k"), nil, p); err == nil {
		t.Fatal("proof with empty deepest sibling verifies")
	}
	if _, err := DecodeProof(p.Encode()); err == nil {
		t.Fatal("DecodeProof accepted an empty deepest sibling")
	}
	// An absence proof whose leaf is the key itself is refused.
	kh := crypto.Hash(sha256Sum("k"))
	p = &Proof{Leaf: &ProofLeaf{KeyHash: kh, ValueHash: sha256Sum("v")}}
	if Verify(LeafHash(kh, sha256Sum("v")), []byte("k"), nil, p) == nil {
		t.Fatal("absence proof showing the key's own leaf verifies")
	}
	// The other leaf must lie on the key's path.
	other := kh
	other[0] ^= 0x80 // differs at bit 0
	p = &Proof{Siblings: []crypto.Hash{{7}}, Leaf: &ProofLeaf{KeyHash: other, ValueHash: crypto.Hash{3}}}
	var root crypto.Hash
	if Bit(&kh, 0) == 0 {
		root = InternalHash(LeafHash(other, crypto.Hash{3}), crypto.Hash{7})
	} else {
		root = InternalHash(crypto.Hash{7}, LeafHash(other, crypto.Hash{3}))
	}
	if err := Verify(root, []byte("k"), nil, p); err == nil {
		t.Fatal("absence proof with an off-path leaf verifies")
	}
	// Empty tree: absence with an empty proof.
	if err := Verify(crypto.Hash{}, []byte("k"), nil, &Proof{}); err != nil {
		t.Fatalf("absence in the empty tree: %v", err)
	}
	// More siblings than a path has bits.
	long := &Proof{Siblings: make([]crypto.Hash, MaxDepth+1)}
	long.Siblings[MaxDepth] = crypto.Hash{1}
	if Verify(crypto.Hash{}, []byte("k"), nil, long) == nil {
		t.Fatal("proof deeper than MaxDepth verifies")
	}
}

func sha256Sum(s string) crypto.Hash { return crypto.Sum([]byte(s)) }

func TestDecodeProofRejects(t *testing.T) {
	good := (&Proof{Siblings: []crypto.Hash{{}, {1}, {}, {}, {}, {}, {}, {}, {2}}, Leaf: &ProofLeaf{KeyHash: crypto.Hash{5}}}).Encode()
	if _, err := DecodeProof(good); err != nil {
		t.Fatalf("good proof: %v", err)
	}
	bad := map[string][]byte{
		"empty":          nil,
		"short":          {0, 0},
		"unknown flag":   append([]byte{0x02}, good[1:]...),
		"trailing byte":  append(bytes.Clone(good), 0),
		"truncated":      good[:len(good)-1],
		"depth too big":  {0, 0x01, 0x01},
		"padding bit":    func() []byte { b := bytes.Clone(good); b[4] |= 0x01; return b }(),
		"zero sibling":   func() []byte { b := bytes.Clone(good); copy(b[5:37], make([]byte, 32)); return b }(),
		"missing leaf":   append([]byte{0}, good[1:]...),
		"no leaf needed": {0x01, 0, 0},
	}
	for name, b := range bad {
		if _, err := DecodeProof(b); err == nil {
			t.Errorf("%s: DecodeProof(%x) succeeded", name, b)
		}
	}
}
