package types

import (
	"fmt"
	"sort"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
)

// VoteType is prevote or precommit.
type VoteType uint8

// Vote types; the numbers are part of the signed bytes.
const (
	Prevote   VoteType = 1
	Precommit VoteType = 2
)

func (t VoteType) String() string {
	switch t {
	case Prevote:
		return "prevote"
	case Precommit:
		return "precommit"
	}
	return fmt.Sprintf("votetype(%d)", uint8(t))
}

// VoteSignBytes returns the domain-separated bytes a validator signs for a
// vote: chain id, type, height, round and block hash (zero hash = nil vote).
func VoteSignBytes(chainID string, t VoteType, height uint64, round uint32, block crypto.Hash) []byte {
	e := canon.Encoder{B: make([]byte, 0, 16+len(chainID)+45)}
	e.Bytes16([]byte(chainID))
	e.U8(uint8(t))
	e.U64(height)
	e.U32(round)
	e.Fixed(block[:])
	return crypto.SignBytes(crypto.DomainVote, e.B)
}

// Vote is one validator's signed prevote or precommit.
type Vote struct {
	Type      VoteType                   `json:"type"`
	Height    uint64                     `json:"height"`
	Round     uint32                     `json:"round"`
	BlockHash crypto.Hash                `json:"block_hash"` // zero: nil
	Validator uint16                     `json:"validator"`  // index in the set
	Signature [crypto.SignatureSize]byte `json:"signature"`
}

// SignVote fills in and signs a vote.
func SignVote(k *crypto.PrivateKey, chainID string, t VoteType, height uint64, round uint32, block crypto.Hash, index uint16) Vote {
	v := Vote{Type: t, Height: height, Round: round, BlockHash: block, Validator: index}
	v.Signature = k.SignRaw(VoteSignBytes(chainID, t, height, round, block))
	return v
}

// Verify checks the vote's signature against vs.
func (v *Vote) Verify(chainID string, vs *ValidatorSet) error {
	if v.Type != Prevote && v.Type != Precommit {
		return fmt.Errorf("vote: unknown type %d", v.Type)
	}
	if int(v.Validator) >= vs.Len() {
		return fmt.Errorf("vote: validator index %d out of range", v.Validator)
	}
	pub := vs.Validators[v.Validator].PublicKey
	if !crypto.VerifyRaw(pub, VoteSignBytes(chainID, v.Type, v.Height, v.Round, v.BlockHash), v.Signature[:]) {
		return fmt.Errorf("vote: bad signature from validator %d", v.Validator)
	}
	return nil
}

// Encode returns the canonical encoding of v.
func (v *Vote) Encode() []byte {
	e := canon.Encoder{B: make([]byte, 0, 112)}
	e.U8(uint8(v.Type))
	e.U64(v.Height)
	e.U32(v.Round)
	e.Fixed(v.BlockHash[:])
	e.U16(v.Validator)
	e.Fixed(v.Signature[:])
	return e.B
}

// DecodeVote parses the canonical encoding of a vote.
func DecodeVote(b []byte) (Vote, error) {
	d := canon.NewDecoder(b, "vote", ErrNonCanonical)
	var v Vote
	v.Type = VoteType(d.U8("type"))
	v.Height = d.U64("height")
	v.Round = d.U32("round")
	d.Fixed(v.BlockHash[:], "block_hash")
	v.Validator = d.U16("validator")
	d.Fixed(v.Signature[:], "signature")
	if err := d.Finish(); err != nil {
		return Vote{}, err
	}
	if v.Type != Prevote && v.Type != Precommit {
		return Vote{}, fmt.Errorf("vote: %w: unknown type %d", ErrNonCanonical, v.Type)
	}
	return v, nil
}

// CommitSig is one validator's precommit signature in a certificate.
type CommitSig struct {
	Validator uint16                     `json:"validator"`
	Signature [crypto.SignatureSize]byte `json:"signature"`
}

// Certificate proves that validators holding a quorum of voting power
// precommitted BlockHash at Height in Round. Sigs are sorted by validator
// index with no duplicates; a verifier needs only the validator set.
type Certificate struct {
	Height    uint64      `json:"height"`
	Round     uint32      `json:"round"`
	BlockHash crypto.Hash `json:"block_hash"`
	Sigs      []CommitSig `json:"signatures"`
}

// NewCertificate assembles a certificate from precommits for one block. It
// sorts and de-duplicates by validator; it does not verify.
func NewCertificate(height uint64, round uint32, block crypto.Hash, precommits []Vote) *Certificate {
	c := &Certificate{Height: height, Round: round, BlockHash: block}
	seen := map[uint16]bool{}
	for _, v := range precommits {
		if v.Type != Precommit || v.Height != height || v.Round != round || v.BlockHash != block || seen[v.Validator] {
			continue
		}
		seen[v.Validator] = true
		c.Sigs = append(c.Sigs, CommitSig{Validator: v.Validator, Signature: v.Signature})
	}
	sort.Slice(c.Sigs, func(i, j int) bool { return c.Sigs[i].Validator < c.Sigs[j].Validator })
	return c
}

// SignBytes returns the bytes every signer of c signed.
func (c *Certificate) SignBytes(chainID string) []byte {
	return VoteSignBytes(chainID, Precommit, c.Height, c.Round, c.BlockHash)
}

// Verify checks that c certifies a block of vs's chain: indexes in range,
// strictly ascending (so distinct), every signature valid, and the signers'
// power at least the quorum.
func (c *Certificate) Verify(chainID string, vs *ValidatorSet) error {
	if c.BlockHash.IsZero() {
		return fmt.Errorf("certificate for height %d: nil block hash", c.Height)
	}
	msg := c.SignBytes(chainID)
	var power uint64
	bv := crypto.NewBatchVerifier(len(c.Sigs))
	for i, s := range c.Sigs {
		if int(s.Validator) >= vs.Len() {
			return fmt.Errorf("certificate for height %d: validator index %d out of range", c.Height, s.Validator)
		}
		if i > 0 && s.Validator <= c.Sigs[i-1].Validator {
			return fmt.Errorf("certificate for height %d: signatures not strictly ordered by validator", c.Height)
		}
		power += vs.Validators[s.Validator].Power
		bv.AddRaw(vs.Validators[s.Validator].PublicKey, msg, s.Signature[:])
	}
	if power < vs.Quorum() {
		return fmt.Errorf("certificate for height %d: signers hold power %d, quorum is %d", c.Height, power, vs.Quorum())
	}
	if ok, valid := bv.Verify(); !ok {
		for i, good := range valid {
			if !good {
				return fmt.Errorf("certificate for height %d: bad signature from validator %d", c.Height, c.Sigs[i].Validator)
			}
		}
		return fmt.Errorf("certificate for height %d: bad signature", c.Height)
	}
	return nil
}

// Encode returns the canonical encoding.
func (c *Certificate) Encode() []byte {
	e := canon.Encoder{B: make([]byte, 0, 46+len(c.Sigs)*66)}
	e.U64(c.Height)
	e.U32(c.Round)
	e.Fixed(c.BlockHash[:])
	e.U16(uint16(len(c.Sigs)))
	for _, s := range c.Sigs {
		e.U16(s.Validator)
		e.Fixed(s.Signature[:])
	}
	return e.B
}

// DecodeCertificate parses the canonical encoding. Signatures must be in
// strictly ascending validator order.
func DecodeCertificate(b []byte) (*Certificate, error) {
	d := canon.NewDecoder(b, "certificate", ErrNonCanonical)
	c := &Certificate{}
	c.Height = d.U64("height")
	c.Round = d.U32("round")
	d.Fixed(c.BlockHash[:], "block_hash")
	n := int(d.U16("count"))
	if d.Err() == nil && n*66 > d.Remaining() {
		d.Fail("count %d exceeds remaining bytes", n)
	}
	for i := 0; i < n && d.Err() == nil; i++ {
		var s CommitSig
		s.Validator = d.U16("validator")
		d.Fixed(s.Signature[:], "signature")
		if i > 0 && s.Validator <= c.Sigs[i-1].Validator {
			d.Fail("signatures not strictly ordered by validator")
		}
		c.Sigs = append(c.Sigs, s)
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return c, nil
}

// voteSize is the length of an encoded vote.
const voteSize = 1 + 8 + 4 + crypto.HashSize + 2 + crypto.SignatureSize

// DecodeDuplicateVote parses stored double-sign evidence: two encoded votes
// back to back, of one validator, type, height and round, for different
// blocks. It checks the shape, not the signatures (see Vote.Verify).
func DecodeDuplicateVote(b []byte) (a, c Vote, err error) {
	if len(b) != 2*voteSize {
		return a, c, fmt.Errorf("evidence: %w: want %d bytes, got %d", ErrNonCanonical, 2*voteSize, len(b))
	}
	if a, err = DecodeVote(b[:voteSize]); err != nil {
		return a, c, fmt.Errorf("evidence: %w", err)
	}
	if c, err = DecodeVote(b[voteSize:]); err != nil {
		return a, c, fmt.Errorf("evidence: %w", err)
	}
	if a.Validator != c.Validator || a.Type != c.Type || a.Height != c.Height || a.Round != c.Round || a.BlockHash == c.BlockHash {
		return a, c, fmt.Errorf("evidence: the votes do not conflict")
	}
	return a, c, nil
}
