package merkle

import (
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/fuzzseed"
)

// FuzzMerkleProof feeds RootFromProof arbitrary leaves, indexes, sizes and
// paths. It must never panic, and it must accept a path exactly when the
// index is inside the tree and the path has RFC 6962's length for that
// (index, size). When the size is small enough to build the tree, a proof
// from Prove must verify and a path of fuzzed bytes must not, unless it
// happens to be the real one.
//
// pathBytes is cut into 32-byte hashes; a trailing partial hash is dropped.
func FuzzMerkleProof(f *testing.F) {
	f.Add([]byte("leaf"), uint64(0), uint64(1), []byte{})
	f.Add([]byte{}, uint64(5), uint64(8), make([]byte, 3*32))
	f.Add([]byte{0x10}, uint64(2), uint64(3), make([]byte, 32))
	f.Add([]byte("x"), uint64(1<<63), uint64(1<<63+1), make([]byte, 64*32))
	f.Add([]byte("x"), ^uint64(0)-1, ^uint64(0), make([]byte, 64*32))
	f.Fuzz(func(t *testing.T, leaf []byte, index, size uint64, pathBytes []byte) {
		if len(pathBytes) > 128*32 {
			pathBytes = pathBytes[:128*32]
		}
		p := Proof{Index: index, Size: size}
		for len(pathBytes) >= 32 {
			var h crypto.Hash
			copy(h[:], pathBytes)
			p.Path = append(p.Path, h)
			pathBytes = pathBytes[32:]
		}
		_, err := RootFromProof(leaf, p)
		wantOK := index < size && len(p.Path) == refPathLen(index, size)
		if (err == nil) != wantOK {
			t.Fatalf("RootFromProof(index %d, size %d, %d-element path) err = %v, want ok = %v",
				index, size, len(p.Path), err, wantOK)
		}

		// Small trees: build one whose leaf at index is leaf's hash and
		// check a real proof verifies.
		if size == 0 || size > 300 || index >= size {
			return
		}
		leaves := make([]crypto.Hash, size)
		for i := range leaves {
			leaves[i] = crypto.Sum([]byte{byte(i), byte(i >> 8), 0xfe})
		}
		leaves[index] = crypto.Sum(leaf)
		real, err := Prove(leaves, int(index))
		if err != nil {
			t.Fatal(err)
		}
		root := RootOfHashes(leaves)
		if err := Verify(root, leaves[index][:], real); err != nil {
			t.Fatalf("real proof of %d in %d: %v", index, size, err)
		}
		if err := Verify(root, leaves[index][:], p); err == nil {
			for i := range p.Path {
				if p.Path[i] != real.Path[i] {
					t.Fatalf("fuzzed path verified for %d of %d", index, size)
				}
			}
		}
	})
}

// writeSeeds regenerates the committed seed corpus under testdata/fuzz:
//
//	go test ./merkle -run TestFuzzSeeds -write-seeds
var writeSeeds = flag.Bool("write-seeds", false, "rewrite the generated fuzz seed corpus under testdata/fuzz")

// fuzzSeedFile renders values in the "go test fuzz v1" corpus file format.
func fuzzSeedFile(vals ...any) []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case uint64:
			fmt.Fprintf(&b, "uint64(%d)\n", v)
		default:
			panic(fmt.Sprintf("fuzz seed: unsupported type %T", v))
		}
	}
	return []byte(b.String())
}

// merkleSeeds are valid proofs: the published CT paths and Prove's output for
// a few tree shapes.
func merkleSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	leaves := ctLeafBytes(t)
	for _, v := range ctInclusion {
		var path []byte
		for _, s := range v.path {
			path = append(path, mustHex(t, s)...)
		}
		seeds[fmt.Sprintf("seed-ct-%d-of-%d", v.index, v.size)] = fuzzSeedFile(leaves[v.index], v.index, v.size, path)
	}
	for _, n := range []int{2, 7, 33} {
		hs := testHashes(n)
		for _, i := range []int{0, n / 2, n - 1} {
			p, err := Prove(hs, i)
			if err != nil {
				t.Fatal(err)
			}
			var path []byte
			for _, h := range p.Path {
				path = append(path, h[:]...)
			}
			seeds[fmt.Sprintf("seed-prove-%d-of-%d", i, n)] = fuzzSeedFile(hs[i][:], p.Index, p.Size, path)
		}
	}
	return seeds
}

// TestFuzzSeeds checks that the committed generated seeds are current (and
// rewrites them with -write-seeds). Other files in the corpus directory, such
// as crashers found by fuzzing, are left alone.
func TestFuzzSeeds(t *testing.T) {
	fuzzseed.Check(t, "FuzzMerkleProof", merkleSeeds(t), *writeSeeds)
}
