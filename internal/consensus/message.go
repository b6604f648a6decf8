package consensus

import (
	"fmt"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// MsgType is the first byte of every encoded consensus message.
type MsgType uint8

// Message types; the numbers are part of the wire encoding, never reuse one.
const (
	MsgProposal      MsgType = 1
	MsgVote          MsgType = 2
	MsgStatus        MsgType = 3
	MsgBlockRequest  MsgType = 4
	MsgBlockResponse MsgType = 5
)

func (t MsgType) String() string {
	switch t {
	case MsgProposal:
		return "proposal"
	case MsgVote:
		return "vote"
	case MsgStatus:
		return "status"
	case MsgBlockRequest:
		return "block-request"
	case MsgBlockResponse:
		return "block-response"
	}
	return fmt.Sprintf("msgtype(%d)", uint8(t))
}

// MaxBlockEncoding bounds the encoded block inside a proposal or block
// response. Chain parameters allow at most 16 MiB of transactions; the
// bound leaves room for framing while keeping a decoder from allocating
// without limit.
const MaxBlockEncoding = 64 << 20

// maxCertEncoding bounds an encoded certificate: 46 bytes plus 66 per
// signature, for at most types.MaxValidators signatures.
const maxCertEncoding = 46 + 66*types.MaxValidators

// Message is one consensus message: *Proposal, *VoteMessage, *Status,
// *BlockRequest or *BlockResponse. Messages are immutable once built or
// decoded: the engine keeps pointers to received messages, and a driver may
// hand the same decoded value to several engines.
type Message interface {
	Type() MsgType
}

// Proposal is the proposer's signed suggestion of a block for (Height,
// Round). POLRound is -1, or the earlier round in which the proposer saw a
// quorum of prevotes for this block (Tendermint's validRound), which lets
// locked validators accept it.
type Proposal struct {
	Height    uint64
	Round     uint32
	POLRound  int32
	Block     *types.Block
	Signature [crypto.SignatureSize]byte

	// blockHash caches Block.Hash(); set by SignProposal and Decode.
	blockHash crypto.Hash
}

// VoteMessage carries one signed prevote or precommit.
type VoteMessage struct {
	Vote types.Vote
}

// Status announces the sender's last committed height and its round at
// the next height. A validator that sees a peer ahead of it fetches the
// missing blocks; one that sees a peer in an earlier round of its height
// sends it what it needs to leave that round.
type Status struct {
	Height uint64
	Round  uint32
}

// BlockRequest asks a peer for its committed block at Height with its
// certificate.
type BlockRequest struct {
	Height uint64
}

// BlockResponse is a committed block and the certificate that proves it.
// The receiver trusts neither: it verifies the certificate against its
// validator set and the block's hash and parent link.
type BlockResponse struct {
	Block *types.Block
	Cert  *types.Certificate
}

func (*Proposal) Type() MsgType      { return MsgProposal }
func (*VoteMessage) Type() MsgType   { return MsgVote }
func (*Status) Type() MsgType        { return MsgStatus }
func (*BlockRequest) Type() MsgType  { return MsgBlockRequest }
func (*BlockResponse) Type() MsgType { return MsgBlockResponse }

// ProposalSignBytes returns the domain-separated bytes a proposer signs:
// chain id, height, round, POL round and block hash. The block itself is
// bound through its hash, which commits to the header and (via the tx root)
// to every transaction.
func ProposalSignBytes(chainID string, height uint64, round uint32, polRound int32, block crypto.Hash) []byte {
	return types.ProposalSignBytes(chainID, height, round, polRound, block)
}

// SignProposal builds and signs a proposal of block for (height, round).
func SignProposal(k *crypto.PrivateKey, chainID string, height uint64, round uint32, polRound int32, block *types.Block) *Proposal {
	p := &Proposal{Height: height, Round: round, POLRound: polRound, Block: block, blockHash: block.Hash()}
	p.Signature = k.SignRaw(ProposalSignBytes(chainID, height, round, polRound, p.blockHash))
	return p
}

// BlockHash returns the hash of the proposed block.
func (p *Proposal) BlockHash() crypto.Hash {
	if p.blockHash.IsZero() && p.Block != nil {
		return p.Block.Hash()
	}
	return p.blockHash
}

// VerifySignature checks that pub signed p for chainID.
func (p *Proposal) VerifySignature(chainID string, pub crypto.PublicKey, verify VerifyFunc) bool {
	if verify == nil {
		verify = crypto.VerifyRaw
	}
	return verify(pub, ProposalSignBytes(chainID, p.Height, p.Round, p.POLRound, p.BlockHash()), p.Signature[:])
}

// Encode returns the canonical wire encoding of m: one type byte, then the
// body. It returns nil for a message it cannot encode (a nil block or
// certificate), which Decode would reject anyway.
func Encode(m Message) []byte {
	switch m := m.(type) {
	case *Proposal:
		if m.Block == nil {
			return nil
		}
		bb := m.Block.Encode()
		e := canon.Encoder{B: make([]byte, 0, 1+8+4+4+crypto.SignatureSize+4+len(bb))}
		e.U8(uint8(MsgProposal))
		e.U64(m.Height)
		e.U32(m.Round)
		e.U32(uint32(m.POLRound))
		e.Fixed(m.Signature[:])
		e.Bytes32(bb)
		return e.B
	case *VoteMessage:
		vb := m.Vote.Encode()
		return append([]byte{uint8(MsgVote)}, vb...)
	case *Status:
		e := canon.Encoder{B: make([]byte, 0, 13)}
		e.U8(uint8(MsgStatus))
		e.U64(m.Height)
		e.U32(m.Round)
		return e.B
	case *BlockRequest:
		e := canon.Encoder{B: make([]byte, 0, 9)}
		e.U8(uint8(MsgBlockRequest))
		e.U64(m.Height)
		return e.B
	case *BlockResponse:
		if m.Block == nil || m.Cert == nil {
			return nil
		}
		bb, cb := m.Block.Encode(), m.Cert.Encode()
		e := canon.Encoder{B: make([]byte, 0, 9+len(bb)+len(cb))}
		e.U8(uint8(MsgBlockResponse))
		e.Bytes32(bb)
		e.Bytes32(cb)
		return e.B
	}
	return nil
}

// Decode parses the canonical wire encoding of a consensus message. It
// checks form only (lengths, canonical fields, the block's tx root);
// signatures, heights and certificates are the engine's business.
func Decode(b []byte) (Message, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("consensus message: %w: empty", ErrMalformed)
	}
	d := canon.NewDecoder(b[1:], "consensus message", ErrMalformed)
	t := MsgType(b[0])
	var m Message
	switch t {
	case MsgProposal:
		p := &Proposal{}
		p.Height = d.U64("height")
		p.Round = d.U32("round")
		p.POLRound = int32(d.U32("pol_round"))
		d.Fixed(p.Signature[:], "signature")
		bb := d.Bytes32Ref("block", MaxBlockEncoding)
		if err := d.Finish(); err != nil {
			return nil, fmt.Errorf("proposal: %w", err)
		}
		if p.POLRound < -1 || (p.POLRound >= 0 && uint32(p.POLRound) >= p.Round) {
			return nil, fmt.Errorf("proposal: %w: pol_round %d must be -1 or below round %d", ErrMalformed, p.POLRound, p.Round)
		}
		blk, err := types.DecodeBlock(bb)
		if err != nil {
			return nil, fmt.Errorf("proposal: %w: %w", ErrMalformed, err)
		}
		p.Block = blk
		p.blockHash = blk.Hash()
		m = p
	case MsgVote:
		v, err := types.DecodeVote(b[1:])
		if err != nil {
			return nil, fmt.Errorf("vote message: %w: %w", ErrMalformed, err)
		}
		return &VoteMessage{Vote: v}, nil
	case MsgStatus:
		m = &Status{Height: d.U64("height"), Round: d.U32("round")}
	case MsgBlockRequest:
		m = &BlockRequest{Height: d.U64("height")}
	case MsgBlockResponse:
		bb := d.Bytes32Ref("block", MaxBlockEncoding)
		cb := d.Bytes32Ref("certificate", maxCertEncoding)
		if err := d.Finish(); err != nil {
			return nil, fmt.Errorf("block response: %w", err)
		}
		blk, err := types.DecodeBlock(bb)
		if err != nil {
			return nil, fmt.Errorf("block response: %w: %w", ErrMalformed, err)
		}
		cert, err := types.DecodeCertificate(cb)
		if err != nil {
			return nil, fmt.Errorf("block response: %w: %w", ErrMalformed, err)
		}
		return &BlockResponse{Block: blk, Cert: cert}, nil
	default:
		return nil, fmt.Errorf("consensus message: %w: unknown type %d", ErrMalformed, b[0])
	}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	return m, nil
}
