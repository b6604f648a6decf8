package types

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/crypto"
)

func TestVoteSignBytesLayout(t *testing.T) {
	block := crypto.Sum([]byte("b"))
	got := VoteSignBytes(testChain, Precommit, 7, 3, block)
	var want []byte
	want = append(want, byte(len(crypto.DomainVote)))
	want = append(want, crypto.DomainVote...)
	want = binary.BigEndian.AppendUint16(want, uint16(len(testChain)))
	want = append(want, testChain...)
	want = append(want, byte(Precommit))
	want = binary.BigEndian.AppendUint64(want, 7)
	want = binary.BigEndian.AppendUint32(want, 3)
	want = append(want, block[:]...)
	if !bytes.Equal(got, want) {
		t.Fatalf("VoteSignBytes = %x, want %x", got, want)
	}
}

func TestVoteRoundTrip(t *testing.T) {
	keys, vs := testValidators(4)
	for _, v := range []Vote{
		SignVote(keys[0], testChain, Prevote, 1, 0, crypto.Sum([]byte("b")), 0),
		SignVote(keys[3], testChain, Precommit, ^uint64(0), ^uint32(0), crypto.Hash{}, 3), // nil vote
	} {
		b := v.Encode()
		if len(b) != 1+8+4+32+2+64 {
			t.Fatalf("vote is %d bytes", len(b))
		}
		d, err := DecodeVote(b)
		if err != nil {
			t.Fatal(err)
		}
		if d != v || !bytes.Equal(d.Encode(), b) {
			t.Fatalf("decoded %+v, want %+v", d, v)
		}
		if err := d.Verify(testChain, vs); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDecodeVoteRejects(t *testing.T) {
	keys, _ := testValidators(1)
	v := SignVote(keys[0], testChain, Prevote, 1, 0, crypto.Sum([]byte("b")), 0)
	good := v.Encode()
	cases := map[string][]byte{
		"type 0":        set(good, 0, 0),
		"type 3":        set(good, 0, 3),
		"trailing byte": append(append([]byte(nil), good...), 0),
	}
	for i := 0; i < len(good); i++ {
		cases["truncated "+strconv.Itoa(i)] = good[:i]
	}
	for name, b := range cases {
		if _, err := DecodeVote(b); !errors.Is(err, ErrNonCanonical) {
			t.Errorf("%s: err = %v, want ErrNonCanonical", name, err)
		}
	}
}

func TestVoteVerify(t *testing.T) {
	keys, vs := testValidators(4)
	block := crypto.Sum([]byte("b"))
	v := SignVote(keys[1], testChain, Prevote, 5, 1, block, 1)
	if err := v.Verify(testChain, vs); err != nil {
		t.Fatal(err)
	}
	mut := func(f func(v *Vote)) Vote { c := v; f(&c); return c }
	for name, bad := range map[string]Vote{
		"other type":      mut(func(v *Vote) { v.Type = Precommit }),
		"unknown type":    mut(func(v *Vote) { v.Type = 7 }),
		"other height":    mut(func(v *Vote) { v.Height++ }),
		"other round":     mut(func(v *Vote) { v.Round++ }),
		"other block":     mut(func(v *Vote) { v.BlockHash[0] ^= 1 }),
		"other validator": mut(func(v *Vote) { v.Validator = 2 }),
		"out of range":    mut(func(v *Vote) { v.Validator = 4 }),
		"bad signature":   mut(func(v *Vote) { v.Signature[3] ^= 1 }),
	} {
		if err := bad.Verify(testChain, vs); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	if err := v.Verify("other-chain", vs); err == nil {
		t.Error("vote verified for another chain")
	}
}

// A signature a validator makes over a transaction can never be presented
// as its vote, even if the tx encoding were crafted to equal the vote body.
func TestTxSignatureIsNotAVote(t *testing.T) {
	keys, vs := testValidators(4)
	block := crypto.Sum([]byte("b"))
	voteBytes := VoteSignBytes(testChain, Precommit, 3, 0, block)
	body := voteBytes[1+len(crypto.DomainVote):]

	// The validator signs exactly the vote body, but as a transaction.
	sig := keys[0].Sign(crypto.DomainTx, body)
	v := Vote{Type: Precommit, Height: 3, Round: 0, BlockHash: block, Validator: 0, Signature: sig}
	if err := v.Verify(testChain, vs); err == nil {
		t.Fatal("a tx-domain signature verified as a vote")
	}
	// And a real tx signed by the validator does not either.
	tx := &Tx{ChainID: testChain, Nonce: 1, Timestamp: 1, Payload: &Transfer{Amount: 1}}
	tx.Sign(keys[0])
	v.Signature = tx.Signature
	if err := v.Verify(testChain, vs); err == nil {
		t.Fatal("a tx signature verified as a vote")
	}
	// Nor a certificate built from it.
	c := &Certificate{Height: 3, BlockHash: block, Sigs: []CommitSig{{0, sig}, {1, sig}, {2, sig}}}
	if err := c.Verify(testChain, vs); err == nil {
		t.Fatal("certificate of tx-domain signatures verified")
	}
	// The two kinds of sign bytes differ from the first byte on.
	if tx.SignBytes()[0] == voteBytes[0] {
		t.Fatal("tx and vote sign bytes share their length prefix")
	}
}

func TestCertificateRoundTrip(t *testing.T) {
	for _, idx := range [][]uint16{{0, 1, 2}, {0, 1, 2, 3}, {3}, nil} {
		c, _ := sampleCertificate(idx...)
		b := c.Encode()
		if len(b) != 8+4+32+2+66*len(idx) {
			t.Fatalf("certificate is %d bytes", len(b))
		}
		d, err := DecodeCertificate(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d, c) || !bytes.Equal(d.Encode(), b) {
			t.Fatalf("decoded %+v, want %+v", d, c)
		}
	}
}

func TestDecodeCertificateRejects(t *testing.T) {
	c, _ := sampleCertificate(0, 1, 2)
	good := c.Encode()
	swap := *c
	swap.Sigs = []CommitSig{c.Sigs[1], c.Sigs[0], c.Sigs[2]}
	dup := *c
	dup.Sigs = []CommitSig{c.Sigs[0], c.Sigs[1], c.Sigs[1]}
	countHigh := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(countHigh[44:], 4)
	countLow := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(countLow[44:], 2)
	cases := map[string][]byte{
		"unordered":     swap.Encode(),
		"duplicate":     dup.Encode(),
		"count high":    countHigh,
		"count low":     countLow,
		"trailing byte": append(append([]byte(nil), good...), 0),
	}
	for i := 0; i < len(good); i++ {
		cases["truncated "+strconv.Itoa(i)] = good[:i]
	}
	for name, b := range cases {
		if _, err := DecodeCertificate(b); !errors.Is(err, ErrNonCanonical) {
			t.Errorf("%s: err = %v, want ErrNonCanonical", name, err)
		}
	}
}

func TestCertificateVerify(t *testing.T) {
	keys, vs := testValidators(4) // equal power 1: quorum 3
	if vs.Quorum() != 3 {
		t.Fatalf("quorum %d, want 3", vs.Quorum())
	}
	block := crypto.Sum([]byte("block"))
	pre := func(i uint16, h uint64, r uint32, chain string) CommitSig {
		v := SignVote(keys[i], chain, Precommit, h, r, block, i)
		return CommitSig{Validator: i, Signature: v.Signature}
	}
	cert := func(sigs ...CommitSig) *Certificate {
		return &Certificate{Height: 9, Round: 2, BlockHash: block, Sigs: sigs}
	}
	ok := func(i uint16) CommitSig { return pre(i, 9, 2, testChain) }
	bad := ok(2)
	bad.Signature[0] ^= 1
	prevote := SignVote(keys[2], testChain, Prevote, 9, 2, block, 2)

	cases := []struct {
		name string
		c    *Certificate
		ok   bool
	}{
		{"3 of 4", cert(ok(0), ok(1), ok(2)), true},
		{"4 of 4", cert(ok(0), ok(1), ok(2), ok(3)), true},
		{"other 3 of 4", cert(ok(1), ok(2), ok(3)), true},
		{"2 of 4", cert(ok(0), ok(1)), false},
		{"none", cert(), false},
		{"bad signature", cert(ok(0), ok(1), bad), false},
		{"bad signature beyond quorum", cert(ok(0), ok(1), bad, ok(3)), false},
		{"duplicate signer", cert(ok(0), ok(1), ok(1)), false},
		{"unordered", cert(ok(1), ok(0), ok(2)), false},
		{"index out of range", cert(ok(0), ok(1), CommitSig{Validator: 4, Signature: ok(3).Signature}), false},
		{"signer's key mismatch", cert(ok(0), ok(1), CommitSig{Validator: 2, Signature: ok(3).Signature}), false},
		{"signature for another height", cert(ok(0), ok(1), pre(2, 10, 2, testChain)), false},
		{"signature for another round", cert(ok(0), ok(1), pre(2, 9, 3, testChain)), false},
		{"signature for another chain", cert(ok(0), ok(1), pre(2, 9, 2, "other-chain")), false},
		{"prevote instead of precommit", cert(ok(0), ok(1), CommitSig{2, prevote.Signature}), false},
		{"nil block", &Certificate{Height: 9, Round: 2, Sigs: []CommitSig{ok(0), ok(1), ok(2)}}, false},
	}
	for _, c := range cases {
		err := c.c.Verify(testChain, vs)
		if (err == nil) != c.ok {
			t.Errorf("%s: Verify = %v, want ok=%v", c.name, err, c.ok)
		}
	}
	// The same certificate does not verify for another chain.
	if err := cert(ok(0), ok(1), ok(2)).Verify("other-chain", vs); err == nil {
		t.Error("certificate verified for another chain")
	}
}

func TestCertificateWeightedPower(t *testing.T) {
	keys, vs := testValidators(4, 5, 1, 1, 1) // total 8, quorum 8*2/3+1 = 6
	if vs.TotalPower() != 8 || vs.Quorum() != 6 {
		t.Fatalf("total %d quorum %d", vs.TotalPower(), vs.Quorum())
	}
	block := crypto.Sum([]byte("w"))
	mk := func(idx ...uint16) *Certificate {
		var votes []Vote
		for _, i := range idx {
			votes = append(votes, SignVote(keys[i], testChain, Precommit, 4, 0, block, i))
		}
		return NewCertificate(4, 0, block, votes)
	}
	for _, c := range []struct {
		idx []uint16
		ok  bool
	}{
		{[]uint16{0}, false},       // 5
		{[]uint16{0, 1}, true},     // 6
		{[]uint16{0, 3}, true},     // 6
		{[]uint16{1, 2, 3}, false}, // 3
		{[]uint16{0, 1, 2, 3}, true},
	} {
		if err := mk(c.idx...).Verify(testChain, vs); (err == nil) != c.ok {
			t.Errorf("signers %v: Verify = %v, want ok=%v", c.idx, err, c.ok)
		}
	}
}

func TestNewCertificate(t *testing.T) {
	keys, vs := testValidators(4)
	block := crypto.Sum([]byte("n"))
	votes := []Vote{
		SignVote(keys[2], testChain, Precommit, 4, 1, block, 2),
		SignVote(keys[0], testChain, Precommit, 4, 1, block, 0),
		SignVote(keys[2], testChain, Precommit, 4, 1, block, 2),                   // duplicate
		SignVote(keys[1], testChain, Prevote, 4, 1, block, 1),                     // prevote
		SignVote(keys[1], testChain, Precommit, 5, 1, block, 1),                   // other height
		SignVote(keys[1], testChain, Precommit, 4, 0, block, 1),                   // other round
		SignVote(keys[1], testChain, Precommit, 4, 1, crypto.Sum([]byte("x")), 1), // other block
		SignVote(keys[3], testChain, Precommit, 4, 1, block, 3),
	}
	c := NewCertificate(4, 1, block, votes)
	var got []uint16
	for _, s := range c.Sigs {
		got = append(got, s.Validator)
	}
	if !reflect.DeepEqual(got, []uint16{0, 2, 3}) {
		t.Fatalf("signers %v, want [0 2 3]", got)
	}
	if err := c.Verify(testChain, vs); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.SignBytes(testChain), VoteSignBytes(testChain, Precommit, 4, 1, block)) {
		t.Fatal("certificate sign bytes are not the precommit sign bytes")
	}
}

func TestVoteTypeString(t *testing.T) {
	if Prevote.String() != "prevote" || Precommit.String() != "precommit" || !strings.HasPrefix(VoteType(9).String(), "votetype") {
		t.Fatal("vote type names")
	}
}
