package merkle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"testing"

	"github.com/cairn-db/cairn/crypto"
)

// The Certificate Transparency reference tree (RFC 6962 test data, as used by
// certificate-transparency and transparency-dev/merkle): eight leaf inputs,
// the published root for every prefix, and published inclusion paths.
var ctLeaves = []string{
	"",
	"00",
	"10",
	"2021",
	"3031",
	"40414243",
	"5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
}

// ctRoots[n] is the root of the first n leaves.
var ctRoots = []string{
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

// ctInclusion are the published audit paths. The published data numbers
// leaves from 1; here index is 0-based.
var ctInclusion = []struct {
	index, size uint64
	path        []string
}{
	{0, 1, nil},
	{0, 8, []string{
		"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
	}},
	{5, 8, []string{
		"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	}},
	{2, 3, []string{
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	}},
	{1, 5, []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	}},
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustHash(t testing.TB, s string) crypto.Hash {
	t.Helper()
	h, err := crypto.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func ctLeafBytes(t testing.TB) [][]byte {
	out := make([][]byte, len(ctLeaves))
	for i, s := range ctLeaves {
		out[i] = mustHex(t, s)
	}
	return out
}

// largestPow2Below returns the largest power of two strictly below n (n > 1).
func largestPow2Below(n uint64) uint64 {
	return 1 << (bits.Len64(n-1) - 1)
}

// refRoot is RFC 6962 section 2.1's MTH written as the RFC states it
// (recursively), independent of the package's iterative fold.
func refRoot(leafHashes []crypto.Hash) crypto.Hash {
	switch n := uint64(len(leafHashes)); n {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leafHashes[0]
	default:
		k := largestPow2Below(n)
		return NodeHash(refRoot(leafHashes[:k]), refRoot(leafHashes[k:]))
	}
}

// refPath is RFC 6962 section 2.1.1's PATH(m, D[n]) over leaf hashes.
func refPath(m uint64, leafHashes []crypto.Hash) []crypto.Hash {
	n := uint64(len(leafHashes))
	if n <= 1 {
		return nil
	}
	k := largestPow2Below(n)
	if m < k {
		return append(refPath(m, leafHashes[:k]), refRoot(leafHashes[k:]))
	}
	return append(refPath(m-k, leafHashes[k:]), refRoot(leafHashes[:k]))
}

// refPathLen is len(PATH(m, D[n])) without any hashing; valid for any n.
func refPathLen(m, n uint64) int {
	l := 0
	for n > 1 {
		k := largestPow2Below(n)
		if m < k {
			n = k
		} else {
			m, n = m-k, n-k
		}
		l++
	}
	return l
}

func TestEmptyRoot(t *testing.T) {
	want := sha256.Sum256(nil)
	if Root(nil) != want || RootOfHashes(nil) != want {
		t.Fatal("empty tree root is not SHA-256(\"\")")
	}
	if Root(nil).String() != ctRoots[0] {
		t.Fatal("empty root does not match the reference")
	}
}

func TestCTReferenceRoots(t *testing.T) {
	leaves := ctLeafBytes(t)
	for n := 0; n <= len(leaves); n++ {
		if got := Root(leaves[:n]).String(); got != ctRoots[n] {
			t.Errorf("size %d: root %s, want %s", n, got, ctRoots[n])
		}
	}
	// Leaf and node hashing use the RFC 6962 prefixes.
	if LeafHash(nil).String() != ctRoots[1] {
		t.Error("LeafHash(\"\") is not SHA-256(0x00)")
	}
	l, r := LeafHash([]byte("l")), LeafHash([]byte("r"))
	want := sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
	if NodeHash(l, r) != want {
		t.Error("NodeHash is not SHA-256(0x01 || l || r)")
	}
}

func TestCTReferenceInclusion(t *testing.T) {
	leaves := ctLeafBytes(t)
	hashes := make([]crypto.Hash, len(leaves))
	for i, l := range leaves {
		hashes[i] = LeafHash(l)
	}
	for _, v := range ctInclusion {
		t.Run(fmt.Sprintf("%d_of_%d", v.index, v.size), func(t *testing.T) {
			p := Proof{Index: v.index, Size: v.size}
			for _, s := range v.path {
				p.Path = append(p.Path, mustHash(t, s))
			}
			root := mustHash(t, ctRoots[v.size])
			got, err := RootFromProof(leaves[v.index], p)
			if err != nil {
				t.Fatal(err)
			}
			if got != root {
				t.Fatalf("RootFromProof = %s, want %s", got, root)
			}
			if err := Verify(root, leaves[v.index], p); err != nil {
				t.Fatal(err)
			}
			// The reference generator (against which Prove is checked
			// below) produces exactly the published path.
			ref := refPath(v.index, hashes[:v.size])
			if len(ref) != len(p.Path) {
				t.Fatalf("reference path has %d elements, published %d", len(ref), len(p.Path))
			}
			for i := range ref {
				if ref[i] != p.Path[i] {
					t.Fatalf("reference path[%d] = %s, published %s", i, ref[i], p.Path[i])
				}
			}
			// A wrong leaf or root fails.
			if err := Verify(root, []byte("WrongLeaf"), p); !errors.Is(err, ErrProof) {
				t.Errorf("wrong leaf: %v", err)
			}
			if err := Verify(mustHash(t, ctRoots[0]), leaves[v.index], p); !errors.Is(err, ErrProof) {
				t.Errorf("empty root: %v", err)
			}
		})
	}
}

// testHashes returns n distinct 32-byte leaves.
func testHashes(n int) []crypto.Hash {
	hs := make([]crypto.Hash, n)
	for i := range hs {
		hs[i] = crypto.Sum([]byte(fmt.Sprintf("leaf %d", i)))
	}
	return hs
}

func leafHashesOf(leaves []crypto.Hash) []crypto.Hash {
	out := make([]crypto.Hash, len(leaves))
	for i := range leaves {
		out[i] = LeafHash(leaves[i][:])
	}
	return out
}

func TestRootMatchesReference(t *testing.T) {
	all := testHashes(130)
	for n := 0; n <= len(all); n++ {
		leaves := all[:n]
		raw := make([][]byte, n)
		for i := range leaves {
			raw[i] = leaves[i][:]
		}
		want := refRoot(leafHashesOf(leaves))
		if got := RootOfHashes(leaves); got != want {
			t.Fatalf("size %d: RootOfHashes %s, reference %s", n, got, want)
		}
		if got := Root(raw); got != want {
			t.Fatalf("size %d: Root %s, reference %s", n, got, want)
		}
	}
}

func TestProveRoundTrip(t *testing.T) {
	all := testHashes(70)
	for n := 1; n <= len(all); n++ {
		leaves := all[:n]
		root := RootOfHashes(leaves)
		lh := leafHashesOf(leaves)
		for i := 0; i < n; i++ {
			p, err := Prove(leaves, i)
			if err != nil {
				t.Fatalf("Prove(%d of %d): %v", i, n, err)
			}
			if p.Index != uint64(i) || p.Size != uint64(n) {
				t.Fatalf("Prove(%d of %d) returned index %d size %d", i, n, p.Index, p.Size)
			}
			ref := refPath(uint64(i), lh)
			if len(p.Path) != len(ref) || len(ref) != refPathLen(uint64(i), uint64(n)) {
				t.Fatalf("%d of %d: path length %d, reference %d", i, n, len(p.Path), len(ref))
			}
			for j := range ref {
				if p.Path[j] != ref[j] {
					t.Fatalf("%d of %d: path[%d] differs from RFC 6962 PATH", i, n, j)
				}
			}
			got, err := RootFromProof(leaves[i][:], p)
			if err != nil || got != root {
				t.Fatalf("%d of %d: RootFromProof = %s, %v; Root = %s", i, n, got, err, root)
			}
			if err := Verify(root, leaves[i][:], p); err != nil {
				t.Fatalf("%d of %d: %v", i, n, err)
			}
		}
	}
}

func TestProveOutOfRange(t *testing.T) {
	leaves := testHashes(3)
	for _, i := range []int{-1, 3, 100} {
		if _, err := Prove(leaves, i); err == nil {
			t.Errorf("Prove(%d of 3) succeeded", i)
		}
	}
	if _, err := Prove(nil, 0); err == nil {
		t.Error("Prove on an empty tree succeeded")
	}
}

func clonePath(p Proof) Proof {
	p.Path = append([]crypto.Hash(nil), p.Path...)
	return p
}

func TestTamperedProofsFail(t *testing.T) {
	all := testHashes(70)
	for n := 1; n <= len(all); n++ {
		leaves := all[:n]
		root := RootOfHashes(leaves)
		for i := 0; i < n; i++ {
			p, _ := Prove(leaves, i)
			leaf := leaves[i][:]
			fail := func(what string, q Proof) {
				t.Helper()
				if err := Verify(root, leaf, q); !errors.Is(err, ErrProof) {
					t.Fatalf("%d of %d, %s: Verify = %v, want ErrProof", i, n, what, err)
				}
			}
			// Every single-bit change anywhere in the path.
			for j := range p.Path {
				for _, bit := range []int{0, 7, 31*8 + 3} {
					q := clonePath(p)
					q.Path[j][bit/8] ^= 1 << (bit % 8)
					fail(fmt.Sprintf("path[%d] bit %d", j, bit), q)
				}
			}
			// Every other index in the same tree.
			for k := 0; k < n; k++ {
				if k != i {
					q := p
					q.Index = uint64(k)
					fail(fmt.Sprintf("index %d", k), q)
				}
			}
			// Sizes whose path has a different length, and the classic
			// doubled and halved sizes.
			for _, m := range []uint64{uint64(n) * 2, uint64(n) / 2, uint64(n) + 1, uint64(n) - 1, uint64(n) + 64} {
				if m == uint64(n) {
					continue
				}
				if m > uint64(i) && refPathLen(uint64(i), m) == len(p.Path) && m != uint64(n)*2 && m != uint64(n)/2 {
					continue // same shape: see TestSizeNotBoundByRoot
				}
				q := p
				q.Size = m
				fail(fmt.Sprintf("size %d", m), q)
			}
			// Too short, too long, reordered.
			if len(p.Path) > 0 {
				q := clonePath(p)
				q.Path = q.Path[:len(q.Path)-1]
				fail("too short", q)
				q = clonePath(p)
				q.Path = q.Path[1:]
				fail("first element dropped", q)
			}
			q := clonePath(p)
			q.Path = append(q.Path, root)
			fail("trailing root", q)
			q = clonePath(p)
			q.Path = append([]crypto.Hash{{}}, q.Path...)
			fail("preceding zero hash", q)
			if len(p.Path) > 1 {
				q = clonePath(p)
				q.Path[0], q.Path[1] = q.Path[1], q.Path[0]
				fail("swapped", q)
			}
			// Wrong leaf.
			if err := Verify(root, all[(i+1)%len(all)][:], p); !errors.Is(err, ErrProof) {
				t.Fatalf("%d of %d: wrong leaf verified", i, n)
			}
		}
	}
}

// RFC 9162 verification binds the index and the leaf to the root, but two
// tree sizes with the same shape along the leaf's path give the same
// computation: leaf 4 has siblings (5, 6, [0..3]) in a tree of 7 and
// (5, [6,7], [0..3]) in a tree of 8, both "right, right, left". A verifier
// must therefore take the size from the signed header (tx_count), never from
// the proof alone. This test documents that behaviour.
func TestSizeNotBoundByRoot(t *testing.T) {
	leaves := testHashes(8)
	p, err := Prove(leaves, 4)
	if err != nil {
		t.Fatal(err)
	}
	q := p
	q.Size = 7
	if err := Verify(RootOfHashes(leaves), leaves[4][:], q); err != nil {
		t.Fatalf("expected the same-shape size to verify (documented behaviour): %v", err)
	}
}

func TestRootFromProofRejectsBadShapes(t *testing.T) {
	h := crypto.Sum([]byte("x"))
	cases := []struct {
		name string
		p    Proof
	}{
		{"empty tree", Proof{Index: 0, Size: 0}},
		{"index equals size", Proof{Index: 3, Size: 3, Path: []crypto.Hash{h, h}}},
		{"index above size", Proof{Index: 9, Size: 3}},
		{"size 1 with a path", Proof{Index: 0, Size: 1, Path: []crypto.Hash{h}}},
		{"size 2 without a path", Proof{Index: 1, Size: 2}},
		{"huge tree, short path", Proof{Index: math.MaxUint64 - 1, Size: math.MaxUint64, Path: []crypto.Hash{h}}},
		{"huge index, size max", Proof{Index: math.MaxUint64, Size: math.MaxUint64}},
	}
	for _, c := range cases {
		if _, err := RootFromProof([]byte("leaf"), c.p); !errors.Is(err, ErrProof) {
			t.Errorf("%s: err = %v, want ErrProof", c.name, err)
		}
	}
	// The largest possible tree still works when the path has the right length.
	p := Proof{Index: math.MaxUint64 - 1, Size: math.MaxUint64}
	p.Path = make([]crypto.Hash, refPathLen(p.Index, p.Size))
	if _, err := RootFromProof([]byte("leaf"), p); err != nil {
		t.Errorf("max size with a %d-element path: %v", len(p.Path), err)
	}
}

func TestProofJSON(t *testing.T) {
	leaves := testHashes(5)
	p, _ := Prove(leaves, 3)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	// Leaf 3 of 5: sibling 2, then [0,1], then the carried-up leaf 4.
	want := fmt.Sprintf(`{"index":3,"size":5,"path":["%s","%s","%s"]}`, p.Path[0], p.Path[1], p.Path[2])
	if string(b) != want {
		t.Fatalf("JSON = %s, want %s", b, want)
	}
	var back Proof
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := Verify(RootOfHashes(leaves), leaves[3][:], back); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(bytes.ToUpper(b), &back); err == nil {
		t.Fatal("upper-case hex in a proof accepted")
	}
}

func BenchmarkRootOfHashes10000(b *testing.B) {
	leaves := testHashes(10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		RootOfHashes(leaves)
	}
}

func BenchmarkProve10000(b *testing.B) {
	leaves := testHashes(10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Prove(leaves, i%len(leaves)); err != nil {
			b.Fatal(err)
		}
	}
}
