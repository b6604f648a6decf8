package consensus

// Evidence of misbehaviour the engine observes: a validator that signed two
// different votes of one type, or two different proposals, for one height
// and round. Each piece is self-contained (the signed fields and the
// signatures, no blocks), so anyone holding the validator set can verify
// it; the node stores it under its Key and gossips it to every validator.

import (
	"errors"
	"fmt"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// EvidenceKind is what a piece of evidence proves; its numbers are part of
// the encoding and of the store key, never reuse one.
type EvidenceKind uint8

// Evidence kinds. The vote kinds equal their types.VoteType.
const (
	EvidencePrevote   EvidenceKind = EvidenceKind(types.Prevote)   // two prevotes
	EvidencePrecommit EvidenceKind = EvidenceKind(types.Precommit) // two precommits
	EvidenceProposal  EvidenceKind = 3                             // two proposals
)

func (k EvidenceKind) String() string {
	switch k {
	case EvidencePrevote:
		return "prevote"
	case EvidencePrecommit:
		return "precommit"
	case EvidenceProposal:
		return "proposal"
	}
	return fmt.Sprintf("evidence(%d)", uint8(k))
}

// EvidenceKey identifies one piece of evidence: at most one is kept per
// (height, round, kind, validator), whatever else the validator signed.
type EvidenceKey struct {
	Height    uint64
	Round     uint32
	Kind      EvidenceKind
	Validator uint16
}

// Evidence is *DuplicateVote or *ConflictingProposal.
type Evidence interface {
	Key() EvidenceKey
	// Verify checks that the evidence is real: both messages signed by
	// the named validator of vs for chainID, for one slot, and different.
	Verify(chainID string, vs *types.ValidatorSet) error
	// Encode returns the canonical encoding: the kind byte, then the body.
	Encode() []byte
}

// MaxEvidenceEncoding bounds an encoded piece of evidence (two proposal
// headers, the larger kind), for decoders of untrusted input.
const MaxEvidenceEncoding = 1 + 2 + 2*signedProposalSize

// DuplicateVote is evidence that a validator signed two different votes
// of one type for one height and round.
type DuplicateVote struct {
	A, B types.Vote
}

// Key implements Evidence.
func (d *DuplicateVote) Key() EvidenceKey {
	return EvidenceKey{Height: d.A.Height, Round: d.A.Round, Kind: EvidenceKind(d.A.Type), Validator: d.A.Validator}
}

// Verify checks that d is real evidence against validator A.Validator.
func (d *DuplicateVote) Verify(chainID string, vs *types.ValidatorSet) error {
	a, b := d.A, d.B
	if a.Validator != b.Validator || a.Height != b.Height || a.Round != b.Round || a.Type != b.Type {
		return errors.New("duplicate vote: votes are not for the same validator, height, round and type")
	}
	if a.BlockHash == b.BlockHash {
		return errors.New("duplicate vote: votes agree")
	}
	if err := a.Verify(chainID, vs); err != nil {
		return fmt.Errorf("duplicate vote: %w", err)
	}
	if err := b.Verify(chainID, vs); err != nil {
		return fmt.Errorf("duplicate vote: %w", err)
	}
	return nil
}

// Encode implements Evidence: the vote type, then both encoded votes.
func (d *DuplicateVote) Encode() []byte {
	b := []byte{uint8(d.A.Type)}
	b = append(b, d.A.Encode()...)
	return append(b, d.B.Encode()...)
}

// SignedProposal is what a proposer signs of a proposal (see
// ProposalSignBytes) with its signature: the block is named by its hash.
type SignedProposal = types.SignedProposal

const signedProposalSize = 8 + 4 + 4 + crypto.HashSize + crypto.SignatureSize

// Signed returns the signed part of p.
func (p *Proposal) Signed() SignedProposal {
	return SignedProposal{Height: p.Height, Round: p.Round, POLRound: p.POLRound, BlockHash: p.BlockHash(), Signature: p.Signature}
}

// ConflictingProposal is evidence that the proposer of (height, round)
// signed two proposals of different blocks for it.
type ConflictingProposal struct {
	Validator uint16
	A, B      SignedProposal
}

// Key implements Evidence.
func (c *ConflictingProposal) Key() EvidenceKey {
	return EvidenceKey{Height: c.A.Height, Round: c.A.Round, Kind: EvidenceProposal, Validator: c.Validator}
}

// Verify implements Evidence.
func (c *ConflictingProposal) Verify(chainID string, vs *types.ValidatorSet) error {
	a, b := c.A, c.B
	switch {
	case a.Height != b.Height || a.Round != b.Round:
		return errors.New("conflicting proposals: not for the same height and round")
	case a.BlockHash == b.BlockHash:
		return errors.New("conflicting proposals: same block")
	case a.Height == 0 || int(c.Validator) >= vs.Len():
		return fmt.Errorf("conflicting proposals: height %d, validator %d out of range", a.Height, c.Validator)
	case vs.Proposer(a.Height, a.Round) != int(c.Validator):
		return fmt.Errorf("conflicting proposals: validator %d is not the proposer of height %d round %d", c.Validator, a.Height, a.Round)
	}
	pub := vs.Validators[c.Validator].PublicKey
	for _, p := range []*SignedProposal{&a, &b} {
		if !crypto.VerifyRaw(pub, p.SignBytes(chainID), p.Signature[:]) {
			return fmt.Errorf("conflicting proposals: bad signature on the proposal of block %s", p.BlockHash)
		}
	}
	return nil
}

// Encode implements Evidence: the kind, the validator, then both signed
// proposals (height, round, POL round, block hash, signature).
func (c *ConflictingProposal) Encode() []byte {
	e := canon.Encoder{B: make([]byte, 0, MaxEvidenceEncoding)}
	e.U8(uint8(EvidenceProposal))
	e.U16(c.Validator)
	for _, p := range []*SignedProposal{&c.A, &c.B} {
		e.U64(p.Height)
		e.U32(p.Round)
		e.U32(uint32(p.POLRound))
		e.Fixed(p.BlockHash[:])
		e.Fixed(p.Signature[:])
	}
	return e.B
}

// voteSize is the length of an encoded vote.
var voteSize = len((&types.Vote{}).Encode())

// DecodeEvidence parses an encoded piece of evidence. It checks the shape
// (the two messages share a slot and differ), not the signatures: see
// Evidence.Verify. Two votes back to back without a kind byte, the form
// stored before evidence had kinds, still decode.
func DecodeEvidence(b []byte) (Evidence, error) {
	if len(b) == 2*voteSize {
		b = append([]byte{b[0]}, b...) // legacy: a vote starts with its type
	}
	if len(b) == 0 || len(b) > MaxEvidenceEncoding {
		return nil, fmt.Errorf("evidence: %w: %d bytes", ErrMalformed, len(b))
	}
	switch EvidenceKind(b[0]) {
	case EvidencePrevote, EvidencePrecommit:
		a, c, err := types.DecodeDuplicateVote(b[1:])
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		if a.Type != types.VoteType(b[0]) {
			return nil, fmt.Errorf("evidence: %w: kind %d, votes of type %d", ErrMalformed, b[0], a.Type)
		}
		return &DuplicateVote{A: a, B: c}, nil
	case EvidenceProposal:
		e, err := types.ParseProposalEvidence(b)
		if err != nil {
			return nil, fmt.Errorf("proposal evidence: %w: %w", ErrMalformed, err)
		}
		return &ConflictingProposal{Validator: e.Validator, A: e.A, B: e.B}, nil
	}
	return nil, fmt.Errorf("evidence: %w: unknown kind %d", ErrMalformed, b[0])
}
