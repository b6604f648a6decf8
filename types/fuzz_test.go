package types

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/fuzzseed"
)

// Fuzz targets for every decoder. The property is the same for each: nothing
// panics, and when decoding succeeds the value's encoding is the input byte
// for byte (the encoding is canonical: one value, one byte string). Seeds
// live in testdata/fuzz/<Target>/; regenerate the generated ones with
//
//	go test ./types -run TestFuzzSeeds -write-seeds
//
// and run a target with, e.g.,
//
//	go test -run='^$' -fuzz=FuzzDecodeTx -fuzztime=15s ./types/

func FuzzDecodeTx(f *testing.F) {
	for _, n := range append(append(append(sampleTxs(), sampleContractTxs()...), sampleGovernanceTxs()...), sampleStakingTxs()...) {
		f.Add(n.tx.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := DecodeTx(b)
		if err != nil {
			var te *TxError
			if !errors.As(err, &te) || !errors.Is(err, ErrNonCanonical) {
				t.Fatalf("error %v is not a *TxError wrapping ErrNonCanonical", err)
			}
			return
		}
		fresh := cloneTx(tx)
		if got := fresh.Bytes(); !bytes.Equal(got, b) {
			t.Fatalf("not canonical:\n in  %x\n out %x", b, got)
		}
		if tx.Hash() != crypto.Sum(b) {
			t.Fatal("hash is not SHA-256 of the bytes")
		}
		// Every decodable tx survives the JSON form unchanged.
		j, err := json.Marshal(tx)
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		var back Tx
		if err := back.UnmarshalJSON(j); err != nil {
			t.Fatalf("UnmarshalJSON(MarshalJSON(tx)): %v\n%s", err, j)
		}
		if !bytes.Equal(back.Bytes(), b) {
			t.Fatalf("JSON round trip changed the tx:\n in  %x\n out %x", b, back.Bytes())
		}
	})
}

func FuzzTxJSON(f *testing.F) {
	for _, n := range append(append(append(sampleTxs(), sampleContractTxs()...), sampleGovernanceTxs()...), sampleStakingTxs()...) {
		j, _ := json.Marshal(n.tx)
		f.Add(j)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var tx Tx
		if err := tx.UnmarshalJSON(b); err != nil {
			var te *TxError
			if !errors.As(err, &te) {
				t.Fatalf("error %v is not a *TxError", err)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		// What the JSON form accepts, the binary form accepts too, and both
		// agree on the transaction.
		d, err := DecodeTx(tx.Bytes())
		if err != nil {
			t.Fatalf("DecodeTx of a JSON-accepted tx: %v", err)
		}
		if d.Hash() != tx.Hash() || !bytes.Equal(cloneTx(&tx).Bytes(), tx.Bytes()) {
			t.Fatal("binary and JSON forms disagree")
		}
		j, err := json.Marshal(&tx)
		if err != nil {
			t.Fatal(err)
		}
		var again Tx
		if err := again.UnmarshalJSON(j); err != nil {
			t.Fatalf("re-parse of MarshalJSON output: %v\n%s", err, j)
		}
		if again.Hash() != tx.Hash() {
			t.Fatal("JSON round trip changed the tx")
		}
	})
}

func FuzzDecodeHeader(f *testing.F) {
	for _, h := range sampleHeaders() {
		f.Add(h.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHeader(b)
		if err != nil {
			if !errors.Is(err, ErrNonCanonical) {
				t.Fatalf("error %v does not wrap ErrNonCanonical", err)
			}
			return
		}
		if got := h.Encode(); !bytes.Equal(got, b) {
			t.Fatalf("not canonical:\n in  %x\n out %x", b, got)
		}
	})
}

func FuzzDecodeBlock(f *testing.F) {
	for _, blk := range sampleBlocks() {
		f.Add(blk.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		blk, err := DecodeBlock(b)
		if err != nil {
			return
		}
		fresh := &Block{Header: blk.Header}
		for _, tx := range blk.Txs {
			fresh.Txs = append(fresh.Txs, cloneTx(tx))
		}
		if got := fresh.Encode(); !bytes.Equal(got, b) {
			t.Fatalf("not canonical:\n in  %x\n out %x", b, got)
		}
		if err := fresh.CheckTxs(); err != nil {
			t.Fatalf("decoded block fails CheckTxs: %v", err)
		}
	})
}

func FuzzDecodeCertificate(f *testing.F) {
	for _, c := range sampleCertificates() {
		f.Add(c.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCertificate(b)
		if err != nil {
			if !errors.Is(err, ErrNonCanonical) {
				t.Fatalf("error %v does not wrap ErrNonCanonical", err)
			}
			return
		}
		if got := c.Encode(); !bytes.Equal(got, b) {
			t.Fatalf("not canonical:\n in  %x\n out %x", b, got)
		}
		for i := 1; i < len(c.Sigs); i++ {
			if c.Sigs[i].Validator <= c.Sigs[i-1].Validator {
				t.Fatal("decoded certificate is not strictly ordered")
			}
		}
		// Verify must not panic on anything the decoder accepts.
		_, vs := testValidators(4)
		_ = c.Verify(testChain, vs)
	})
}

func FuzzDecodeVote(f *testing.F) {
	for _, v := range sampleVotes() {
		f.Add(v.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeVote(b)
		if err != nil {
			if !errors.Is(err, ErrNonCanonical) {
				t.Fatalf("error %v does not wrap ErrNonCanonical", err)
			}
			return
		}
		if got := v.Encode(); !bytes.Equal(got, b) {
			t.Fatalf("not canonical:\n in  %x\n out %x", b, got)
		}
		_, vs := testValidators(4)
		_ = v.Verify(testChain, vs)
	})
}

func FuzzDecodeReceipt(f *testing.F) {
	for _, r := range sampleReceipts() {
		f.Add(r.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeReceipt(b)
		if err != nil {
			if !errors.Is(err, ErrNonCanonical) {
				t.Fatalf("error %v does not wrap ErrNonCanonical", err)
			}
			return
		}
		if got := r.Encode(); !bytes.Equal(got, b) {
			t.Fatalf("not canonical:\n in  %x\n out %x", b, got)
		}
	})
}

func FuzzDecodeKVEntry(f *testing.F) {
	for _, e := range sampleKVEntries() {
		f.Add(e.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeKVEntry(b)
		if err != nil {
			if !errors.Is(err, ErrNonCanonical) {
				t.Fatalf("error %v does not wrap ErrNonCanonical", err)
			}
			return
		}
		if got := e.Encode(); !bytes.Equal(got, b) {
			t.Fatalf("not canonical:\n in  %x\n out %x", b, got)
		}
	})
}

func sampleHeaders() []Header {
	return []Header{
		sampleBlock(nil).Header,
		sampleBlock(allSampleTxs()).Header,
		{ChainID: testChain, Height: 1},
		{ChainID: "x", Height: ^uint64(0), Round: ^uint32(0), Time: 1<<63 - 1, TxCount: ^uint32(0)},
	}
}

func sampleBlocks() []*Block {
	txs := allSampleTxs()
	return []*Block{sampleBlock(nil), sampleBlock(txs[:1]), sampleBlock(txs[2:5]), sampleBlock(txs)}
}

func sampleCertificates() []*Certificate {
	var out []*Certificate
	for _, idx := range [][]uint16{{0, 1, 2}, {0, 1, 2, 3}, {1, 3}, nil} {
		c, _ := sampleCertificate(idx...)
		out = append(out, c)
	}
	return out
}

func sampleVotes() []*Vote {
	keys, _ := testValidators(4)
	block := crypto.Sum([]byte("block"))
	return []*Vote{
		ptr(SignVote(keys[0], testChain, Prevote, 9, 0, block, 0)),
		ptr(SignVote(keys[1], testChain, Precommit, 9, 2, block, 1)),
		ptr(SignVote(keys[3], testChain, Prevote, 10, 5, crypto.Hash{}, 3)),
	}
}

func ptr[T any](v T) *T { return &v }

// writeSeeds rewrites the generated seed files instead of checking them.
var writeSeeds = flag.Bool("write-seeds", false, "rewrite the generated fuzz seed corpus under testdata/fuzz")

// fuzzSeedFile renders one []byte argument in the "go test fuzz v1" format.
func fuzzSeedFile(b []byte) []byte {
	return []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b))
}

// generatedSeeds maps each target to its named seed inputs: the valid
// encodings of the fixtures.
func generatedSeeds() map[string]map[string][]byte {
	seeds := map[string]map[string][]byte{}
	add := func(target, name string, b []byte) {
		if seeds[target] == nil {
			seeds[target] = map[string][]byte{}
		}
		seeds[target]["seed-"+strings.ReplaceAll(name, ".", "-")] = fuzzSeedFile(b)
	}
	for _, n := range append(append(append(sampleTxs(), sampleContractTxs()...), sampleGovernanceTxs()...), sampleStakingTxs()...) {
		add("FuzzDecodeTx", n.name, n.tx.Bytes())
		j, _ := json.Marshal(n.tx)
		add("FuzzTxJSON", n.name, j)
		var ind bytes.Buffer
		_ = json.Indent(&ind, j, "", "  ")
		add("FuzzTxJSON", n.name+"-indented", ind.Bytes())
	}
	for i, h := range sampleHeaders() {
		add("FuzzDecodeHeader", fmt.Sprint(i), h.Encode())
	}
	for _, blk := range sampleBlocks() {
		add("FuzzDecodeBlock", fmt.Sprintf("%dtxs", len(blk.Txs)), blk.Encode())
	}
	for _, c := range sampleCertificates() {
		add("FuzzDecodeCertificate", fmt.Sprintf("%dsigs", len(c.Sigs)), c.Encode())
	}
	for i, v := range sampleVotes() {
		add("FuzzDecodeVote", fmt.Sprint(i), v.Encode())
	}
	for i, r := range sampleReceipts() {
		add("FuzzDecodeReceipt", fmt.Sprint(i), r.Encode())
	}
	for i, e := range sampleKVEntries() {
		add("FuzzDecodeKVEntry", fmt.Sprint(i), e.Encode())
	}
	return seeds
}

// TestFuzzSeeds checks that the committed generated seeds are current and
// that each is a valid encoding. Other files in the corpus directories, such
// as inputs that once crashed a target, are left alone.
func TestFuzzSeeds(t *testing.T) {
	for target, seeds := range generatedSeeds() {
		fuzzseed.Check(t, target, seeds, *writeSeeds)
	}
	// The seeds are valid inputs, so fuzzing starts from the accepted side.
	for _, n := range append(append(append(sampleTxs(), sampleContractTxs()...), sampleGovernanceTxs()...), sampleStakingTxs()...) {
		if _, err := DecodeTx(n.tx.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	for _, blk := range sampleBlocks() {
		if _, err := DecodeBlock(blk.Encode()); err != nil {
			t.Fatal(err)
		}
	}
}
