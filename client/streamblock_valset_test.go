package client

import (
	"errors"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

func seedKey(i byte) *crypto.PrivateKey {
	var seed [32]byte
	seed[0], seed[1] = 's', i
	return crypto.MustKeyFromSeed(seed)
}

// A stream block carries the next set when it changes; NextSet accepts it
// only when it hashes to the certified header's next_validators_hash, and
// keeps the set when the header names the same one.
func TestStreamBlockCarriesTheNextSet(t *testing.T) {
	var four, five []types.Validator
	for i := byte(0); i < 5; i++ {
		v := types.Validator{Name: "v", PublicKey: seedKey(i).Public(), Power: 1}
		if i < 4 {
			four = append(four, v)
		}
		five = append(five, v)
	}
	vs4, _ := types.NewValidatorSet(four)
	vs5, _ := types.NewValidatorSet(five)
	blk := &types.Block{Header: types.Header{ChainID: "c", Height: 1, ValidatorsHash: vs4.Hash(), NextValidatorsHash: vs5.Hash()}}
	blk.Header.TxRoot = blk.ComputeTxRoot()
	sb := &StreamBlock{Block: blk, Certificate: &types.Certificate{Height: 1, BlockHash: blk.Hash()}, NextValidators: five}
	got, err := DecodeStreamBlock(sb.Encode())
	if err != nil {
		t.Fatal(err)
	}
	next, err := got.NextSet(vs4)
	if err != nil || next.Hash() != vs5.Hash() {
		t.Fatalf("next set: %v", err)
	}
	got.NextValidators = four // a relay that lies about the next set
	if _, err := got.NextSet(vs4); !errors.Is(err, ErrVerify) {
		t.Fatalf("a forged next set: %v", err)
	}
	got.NextValidators = nil
	if _, err := got.NextSet(vs4); !errors.Is(err, ErrVerify) {
		t.Fatalf("a missing next set: %v", err)
	}
	blk.Header.NextValidatorsHash = vs4.Hash()
	if same, err := (&StreamBlock{Block: blk}).NextSet(vs4); err != nil || same != vs4 {
		t.Fatalf("unchanged set: %v", err)
	}
}
