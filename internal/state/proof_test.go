package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cairn-db/cairn/crypto"
)

// proofFixture builds a state over three heights: h0 writes keys k0..k199,
// h1 changes k0..k49 and adds n0..n49, h2 adds nothing but changes k0 again.
func proofFixture(t *testing.T) (*Tree, map[uint64]map[string]string) {
	t.Helper()
	db := openMemDB(t)
	s := openState(t, db, Options{})
	states := map[uint64]map[string]string{}
	cur := map[string]string{}
	snapshot := func() map[string]string {
		c := map[string]string{}
		for k, v := range cur {
			c[k] = v
		}
		return c
	}
	var ws []Write
	for i := 0; i < 200; i++ {
		ws = append(ws, Write{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	blocks := [][]Write{ws, nil, {{Key: []byte("k0"), Value: []byte("third")}}}
	for i := 0; i < 50; i++ {
		blocks[1] = append(blocks[1],
			Write{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte("changed")},
			Write{Key: []byte(fmt.Sprintf("n%d", i)), Value: []byte("new")})
	}
	for h, b := range blocks {
		commitWrites(t, s, db, b)
		for _, w := range b {
			cur[string(w.Key)] = string(w.Value)
		}
		states[uint64(h)] = snapshot()
		if want := refRoot(cur); s.Root() != want {
			t.Fatalf("height %d root %s, reference %s", h, s.Root(), want)
		}
	}
	return s, states
}

func TestProofsAllHeights(t *testing.T) {
	s, states := proofFixture(t)
	var members, absentEmpty, absentLeaf int
	for h := uint64(0); h <= 2; h++ {
		root, err := s.RootAt(h)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for i := 0; i < 200; i++ {
			keys = append(keys, fmt.Sprintf("k%d", i), fmt.Sprintf("n%d", i), fmt.Sprintf("absent%d", i))
		}
		for _, k := range keys {
			want, exists := states[h][k]
			v, found, p, err := s.Prove([]byte(k), h)
			if err != nil {
				t.Fatalf("Prove(%s, %d): %v", k, h, err)
			}
			if found != exists || string(v) != want {
				t.Fatalf("Prove(%s, %d) = %q, %v; want %q, %v", k, h, v, found, want, exists)
			}
			if !found {
				v = nil
				if p.Leaf != nil {
					absentLeaf++
				} else {
					absentEmpty++
				}
			} else {
				members++
			}
			if err := VerifyProof(root, []byte(k), v, p); err != nil {
				t.Fatalf("VerifyProof(%s, %d): %v", k, h, err)
			}
			// The opposite claim must fail.
			if found {
				if VerifyProof(root, []byte(k), nil, p) == nil {
					t.Fatalf("membership proof of %s verifies as absence", k)
				}
			} else if VerifyProof(root, []byte(k), []byte("x"), p) == nil {
				t.Fatalf("absence proof of %s verifies as membership", k)
			}
			// Binary and JSON round trips preserve the proof.
			enc := p.Encode()
			q, err := DecodeProof(enc)
			if err != nil {
				t.Fatalf("DecodeProof: %v", err)
			}
			if !bytes.Equal(q.Encode(), enc) || VerifyProof(root, []byte(k), v, q) != nil {
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

// TestProofsAcrossHeights: proofs at a past height verify against that
// height's root, not the latest one, after the key changed or appeared.
func TestProofsAcrossHeights(t *testing.T) {
	s, _ := proofFixture(t)
	root0, _ := s.RootAt(0)
	root2, _ := s.RootAt(2)

	v, found, p, err := s.Prove([]byte("k0"), 0)
	if err != nil || !found || string(v) != "v0" {
		t.Fatalf("Prove(k0, 0) = %q, %v, %v", v, found, err)
	}
	if err := VerifyProof(root0, []byte("k0"), []byte("v0"), p); err != nil {
		t.Fatal(err)
	}
	if VerifyProof(root2, []byte("k0"), []byte("v0"), p) == nil {
		t.Fatal("height-0 proof of k0 verifies against the height-2 root")
	}
	if VerifyProof(root0, []byte("k0"), []byte("third"), p) == nil {
		t.Fatal("height-0 proof verifies k0's later value")
	}
	// n7 exists from height 1 on: absent at height 0.
	_, found, p, err = s.Prove([]byte("n7"), 0)
	if err != nil || found {
		t.Fatalf("Prove(n7, 0) found=%v err=%v", found, err)
	}
	if err := VerifyProof(root0, []byte("n7"), nil, p); err != nil {
		t.Fatal(err)
	}
	if VerifyProof(root2, []byte("n7"), nil, p) == nil {
		t.Fatal("height-0 absence proof of n7 verifies at height 2, where n7 exists")
	}
	if _, _, _, err := s.Prove([]byte("k0"), 3); err == nil {
		t.Fatal("Prove above the committed height succeeded")
	}
}

func TestProofTampering(t *testing.T) {
	s, _ := proofFixture(t)
	root, _ := s.RootAt(2)
	type tc struct {
		key   string
		value []byte
		p     *Proof
	}
	var cases []tc
	for _, k := range []string{"k1", "k0", "absent1", "absent2", "absent3", "absent4", "absent5"} {
		v, found, p, err := s.Prove([]byte(k), 2)
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			v = nil
		}
		cases = append(cases, tc{k, v, p})
	}
	clone := func(p *Proof) *Proof {
		q, err := DecodeProof(p.Encode())
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	for _, c := range cases {
		if err := VerifyProof(root, []byte(c.key), c.value, c.p); err != nil {
			t.Fatalf("untampered proof of %s: %v", c.key, err)
		}
		fail := func(what string, key []byte, value []byte, p *Proof) {
			t.Helper()
			if VerifyProof(root, key, value, p) == nil {
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
		if VerifyProof(crypto.Hash{9}, []byte(c.key), c.value, c.p) == nil {
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
	if VerifyProof(root, []byte("k1"), nil, nil) == nil {
		t.Error("nil proof verifies")
	}
}

func TestProofCanonicalRules(t *testing.T) {
	// A proof whose deepest sibling is empty describes no tree of this shape.
	p := &Proof{Siblings: []crypto.Hash{{1}, {}}}
	if err := VerifyProof(crypto.Hash{}, []byte("k"), nil, p); err == nil {
		t.Fatal("proof with empty deepest sibling verifies")
	}
	if _, err := DecodeProof(p.Encode()); err == nil {
		t.Fatal("DecodeProof accepted an empty deepest sibling")
	}
	// An absence proof whose leaf is the key itself is refused.
	kh := crypto.Hash(sha256Sum("k"))
	p = &Proof{Leaf: &ProofLeaf{KeyHash: kh, ValueHash: sha256Sum("v")}}
	if VerifyProof(leafHash(kh, sha256Sum("v")), []byte("k"), nil, p) == nil {
		t.Fatal("absence proof showing the key's own leaf verifies")
	}
	// The other leaf must lie on the key's path.
	other := kh
	other[0] ^= 0x80 // differs at bit 0
	p = &Proof{Siblings: []crypto.Hash{{7}}, Leaf: &ProofLeaf{KeyHash: other, ValueHash: crypto.Hash{3}}}
	var root crypto.Hash
	if bit(&kh, 0) == 0 {
		root = internalHash(leafHash(other, crypto.Hash{3}), crypto.Hash{7})
	} else {
		root = internalHash(crypto.Hash{7}, leafHash(other, crypto.Hash{3}))
	}
	if err := VerifyProof(root, []byte("k"), nil, p); err == nil {
		t.Fatal("absence proof with an off-path leaf verifies")
	}
	// Empty tree: absence with an empty proof, whose JSON lists no siblings.
	db := openMemDB(t)
	s := openState(t, db, Options{})
	commitWrites(t, s, db, nil)
	_, found, ep, err := s.Prove([]byte("k"), 0)
	if err != nil || found {
		t.Fatalf("Prove in the empty tree: found=%v err=%v", found, err)
	}
	if js, _ := json.Marshal(ep); string(js) != `{"siblings":[]}` {
		t.Fatalf("empty-tree proof JSON %s", js)
	}
	if err := VerifyProof(crypto.Hash{}, []byte("k"), nil, &Proof{}); err != nil {
		t.Fatalf("absence in the empty tree: %v", err)
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

func TestProofSizeAtScale(t *testing.T) {
	db := openMemDB(t)
	s := openState(t, db, Options{})
	r := rand.New(rand.NewPCG(1, 2))
	var ws []Write
	for i := 0; i < 20000; i++ {
		ws = append(ws, Write{Key: randKey(r, 21), Value: randKey(r, 16)})
	}
	commitWrites(t, s, db, ws)
	_, _, p, err := s.Prove(ws[0].Key, 0)
	if err != nil {
		t.Fatal(err)
	}
	// log2(20000) is about 14.3; a canonical tree of random keys stays
	// within a few levels of that.
	if d := len(p.Siblings); d < 10 || d > 40 {
		t.Fatalf("proof depth %d at 20,000 keys", d)
	}
	if err := s.CheckTree(0); err != nil {
		t.Fatal(err)
	}
}
