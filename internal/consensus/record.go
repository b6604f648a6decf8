package consensus

import (
	"fmt"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/types"
)

// RecordKind is the first byte of an encoded WAL record.
type RecordKind uint8

// WAL record kinds; the numbers are part of the on-disk format.
const (
	// RecordProposal is a proposal this validator signed, with its block.
	RecordProposal RecordKind = 1
	// RecordVote is a vote this validator signed.
	RecordVote RecordKind = 2
	// RecordLock says this validator locked on Block in Round
	// (Tendermint's lockedValue/lockedRound, which also set validValue).
	RecordLock RecordKind = 3
)

// WALRecord is one write-ahead-log entry. The engine emits records in
// Ready.WAL; the driver must make them durable (fsync) before it sends any
// message of the same Ready, and hands the records of the height being
// decided back to New after a restart. That is what keeps a restarted
// validator from signing a second, different proposal or vote for a
// (height, round, type) it already signed, and from forgetting a lock.
type WALRecord struct {
	Kind     RecordKind
	Height   uint64
	Proposal *Proposal    // RecordProposal
	Vote     types.Vote   // RecordVote
	Round    uint32       // RecordLock
	Block    *types.Block // RecordLock
}

// Encode returns the canonical bytes of r: kind, height, then the body.
func (r *WALRecord) Encode() []byte {
	e := canon.Encoder{}
	e.U8(uint8(r.Kind))
	e.U64(r.Height)
	switch r.Kind {
	case RecordProposal:
		e.Bytes32(Encode(r.Proposal))
	case RecordVote:
		e.Fixed(r.Vote.Encode())
	case RecordLock:
		e.U32(r.Round)
		e.Bytes32(r.Block.Encode())
	}
	return e.B
}

// DecodeWALRecord parses bytes written by WALRecord.Encode.
func DecodeWALRecord(b []byte) (WALRecord, error) {
	d := canon.NewDecoder(b, "consensus", ErrMalformed)
	r := WALRecord{Kind: RecordKind(d.U8("kind")), Height: d.U64("height")}
	if d.Err() != nil {
		return WALRecord{}, fmt.Errorf("wal record: %w", d.Err())
	}
	switch r.Kind {
	case RecordProposal:
		pb := d.Bytes32Ref("proposal", MaxBlockEncoding+128)
		if err := d.Finish(); err != nil {
			return WALRecord{}, fmt.Errorf("wal record: %w", err)
		}
		m, err := Decode(pb)
		if err != nil {
			return WALRecord{}, fmt.Errorf("wal record: %w", err)
		}
		p, ok := m.(*Proposal)
		if !ok || p.Height != r.Height {
			return WALRecord{}, fmt.Errorf("wal record: %w: proposal record holds %s for another height", ErrMalformed, m.Type())
		}
		r.Proposal = p
	case RecordVote:
		v, err := types.DecodeVote(d.Rest())
		if err != nil {
			return WALRecord{}, fmt.Errorf("wal record: %w: %w", ErrMalformed, err)
		}
		if v.Height != r.Height {
			return WALRecord{}, fmt.Errorf("wal record: %w: vote for height %d in record of height %d", ErrMalformed, v.Height, r.Height)
		}
		r.Vote = v
	case RecordLock:
		r.Round = d.U32("round")
		bb := d.Bytes32Ref("block", MaxBlockEncoding)
		if err := d.Finish(); err != nil {
			return WALRecord{}, fmt.Errorf("wal record: %w", err)
		}
		blk, err := types.DecodeBlock(bb)
		if err != nil {
			return WALRecord{}, fmt.Errorf("wal record: %w: %w", ErrMalformed, err)
		}
		r.Block = blk
	default:
		return WALRecord{}, fmt.Errorf("wal record: %w: unknown kind %d", ErrMalformed, r.Kind)
	}
	return r, nil
}
