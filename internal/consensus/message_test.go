package consensus

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// sampleMessages returns one message of every type, validly signed.
func sampleMessages(t testing.TB) []Message {
	h := newHarness(t, 4, testCut())
	p := proposalFor(h, 0, 1)
	pol := SignProposal(h.keys[h.vs.Proposer(1, 2)], testChain, 1, 2, 1, p.Block)
	v := types.SignVote(h.keys[1], testChain, types.Precommit, 1, 0, p.BlockHash(), 1)
	var sigs []types.Vote
	for i := 0; i < 3; i++ {
		sigs = append(sigs, types.SignVote(h.keys[i], testChain, types.Precommit, 1, 0, p.BlockHash(), uint16(i)))
	}
	cert := types.NewCertificate(1, 0, p.BlockHash(), sigs)
	return []Message{p, pol, &VoteMessage{Vote: v}, &Status{Height: 7, Round: 2}, &BlockRequest{Height: 3},
		&BlockResponse{Block: p.Block, Cert: cert}}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages(t) {
		b := Encode(m)
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", m.Type(), err)
		}
		if !bytes.Equal(Encode(got), b) {
			t.Fatalf("%s: re-encoding differs", m.Type())
		}
		if p, ok := got.(*Proposal); ok {
			if p.BlockHash() != m.(*Proposal).BlockHash() || p.Signature != m.(*Proposal).Signature {
				t.Fatal("proposal changed in the round trip")
			}
		}
		if v, ok := got.(*VoteMessage); ok && !reflect.DeepEqual(v.Vote, m.(*VoteMessage).Vote) {
			t.Fatal("vote changed in the round trip")
		}
		// Every strict prefix is rejected, as is a trailing byte.
		for i := 0; i < len(b); i++ {
			if _, err := Decode(b[:i]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: prefix of %d bytes: %v", m.Type(), i, err)
			}
		}
		if _, err := Decode(append(append([]byte(nil), b...), 0)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: trailing byte accepted", m.Type())
		}
	}
}

func TestProposalSignatureBindsEveryField(t *testing.T) {
	h := newHarness(t, 4, testCut())
	p := proposalFor(h, 0, 1)
	pub := h.keys[h.vs.Proposer(1, 0)].Public()
	if !p.VerifySignature(testChain, pub, nil) {
		t.Fatal("good proposal does not verify")
	}
	for name, q := range map[string]Proposal{
		"height": {Height: 2, Round: p.Round, POLRound: p.POLRound, Block: p.Block, Signature: p.Signature},
		"round":  {Height: 1, Round: 1, POLRound: p.POLRound, Block: p.Block, Signature: p.Signature},
		"pol":    {Height: 1, Round: 0, POLRound: 0, Block: p.Block, Signature: p.Signature},
		"block":  {Height: 1, Round: 0, POLRound: -1, Block: proposalFor(h, 0, 2).Block, Signature: p.Signature},
	} {
		if q.VerifySignature(testChain, pub, nil) {
			t.Errorf("changing the %s keeps the signature valid", name)
		}
	}
	if p.VerifySignature("other", pub, nil) {
		t.Error("signature valid for another chain")
	}
	// Domain separation: the proposal signature is no vote signature.
	if crypto.VerifyRaw(pub, types.VoteSignBytes(testChain, types.Prevote, 1, 0, p.BlockHash()), p.Signature[:]) {
		t.Error("proposal signature verifies as a vote")
	}
}

func TestWALRecordRoundTrip(t *testing.T) {
	msgs := sampleMessages(t)
	p := msgs[0].(*Proposal)
	v := msgs[2].(*VoteMessage).Vote
	for _, r := range []WALRecord{
		{Kind: RecordProposal, Height: 1, Proposal: p},
		{Kind: RecordVote, Height: 1, Vote: v},
		{Kind: RecordLock, Height: 1, Round: 3, Block: p.Block},
	} {
		b := r.Encode()
		got, err := DecodeWALRecord(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Encode(), b) {
			t.Fatalf("record kind %d: re-encoding differs", r.Kind)
		}
		for i := 0; i < len(b); i++ {
			if _, err := DecodeWALRecord(b[:i]); err == nil {
				t.Fatalf("record kind %d: prefix of %d bytes accepted", r.Kind, i)
			}
		}
	}
	// A record claiming another height than its vote is refused.
	bad := WALRecord{Kind: RecordVote, Height: 2, Vote: v}
	if _, err := DecodeWALRecord(bad.Encode()); err == nil {
		t.Fatal("record with mismatched height accepted")
	}
}

// FuzzDecodeMessage checks that Decode never panics and that whatever it
// accepts is canonical: encoding the result gives back the input.
func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleMessages(f) {
		f.Add(Encode(m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if got := Encode(m); !bytes.Equal(got, b) {
			t.Fatalf("accepted non-canonical %s encoding:\n in  %x\n out %x", m.Type(), b, got)
		}
	})
}
