package smt

import (
	"bytes"
	"testing"

	"github.com/cairn-db/cairn/crypto"
)

// FuzzDecodeProof: DecodeProof never panics, and whatever it accepts
// encodes back to exactly the same bytes (the encoding is canonical).
func FuzzDecodeProof(f *testing.F) {
	f.Add((&Proof{}).Encode())
	f.Add((&Proof{Siblings: []crypto.Hash{{1}}}).Encode())
	f.Add((&Proof{Siblings: []crypto.Hash{{}, {2}, {}, {}, {}, {}, {}, {}, {3}}, Leaf: &ProofLeaf{KeyHash: crypto.Hash{4}, ValueHash: crypto.Hash{5}}}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeProof(b)
		if err != nil {
			return
		}
		if enc := p.Encode(); !bytes.Equal(enc, b) {
			t.Fatalf("round trip changed the proof: %x -> %x", b, enc)
		}
		// Verification of an arbitrary decoded proof must not panic.
		_ = Verify(crypto.Hash{}, []byte("k"), nil, p)
		_ = Verify(crypto.Hash{}, []byte("k"), []byte("v"), p)
	})
}
