package state

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/smt"
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
			if err := smt.Verify(root, []byte(k), v, p); err != nil {
				t.Fatalf("smt.Verify(%s, %d): %v", k, h, err)
			}
			// The opposite claim must fail.
			if found {
				if smt.Verify(root, []byte(k), nil, p) == nil {
					t.Fatalf("membership proof of %s verifies as absence", k)
				}
			} else if smt.Verify(root, []byte(k), []byte("x"), p) == nil {
				t.Fatalf("absence proof of %s verifies as membership", k)
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
	if err := smt.Verify(root0, []byte("k0"), []byte("v0"), p); err != nil {
		t.Fatal(err)
	}
	if smt.Verify(root2, []byte("k0"), []byte("v0"), p) == nil {
		t.Fatal("height-0 proof of k0 verifies against the height-2 root")
	}
	if smt.Verify(root0, []byte("k0"), []byte("third"), p) == nil {
		t.Fatal("height-0 proof verifies k0's later value")
	}
	// n7 exists from height 1 on: absent at height 0.
	_, found, p, err = s.Prove([]byte("n7"), 0)
	if err != nil || found {
		t.Fatalf("Prove(n7, 0) found=%v err=%v", found, err)
	}
	if err := smt.Verify(root0, []byte("n7"), nil, p); err != nil {
		t.Fatal(err)
	}
	if smt.Verify(root2, []byte("n7"), nil, p) == nil {
		t.Fatal("height-0 absence proof of n7 verifies at height 2, where n7 exists")
	}
	if _, _, _, err := s.Prove([]byte("k0"), 3); err == nil {
		t.Fatal("Prove above the committed height succeeded")
	}
}

// TestEmptyTreeProof: the empty tree proves every key absent with no
// siblings, and the proof's JSON lists none (never null).
func TestEmptyTreeProof(t *testing.T) {
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
	if err := smt.Verify(crypto.Hash{}, []byte("k"), nil, ep); err != nil {
		t.Fatalf("absence in the empty tree: %v", err)
	}
}

// TestNodeHashIsSMTHash: a stored node's bytes are exactly the preimage
// package smt hashes, so nodes are self-verifying and roots are smt roots.
func TestNodeHashIsSMTHash(t *testing.T) {
	a, b := crypto.Sum([]byte("a")), crypto.Sum([]byte("b"))
	leaf := treeNode{tag: tagLeaf, a: a, b: b}
	in := treeNode{tag: tagInternal, a: a, b: b}
	if leaf.hash() != smt.LeafHash(a, b) || in.hash() != smt.InternalHash(a, b) {
		t.Fatal("node hash differs from the smt hash of the same node")
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
