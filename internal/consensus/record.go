package consensus

import (
	"fmt"

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

// Record is one write-ahead-log entry. The engine emits records in
// Ready.WAL; the driver must make them durable (fsync) before it sends any
// message of the same Ready, and hands the records of the height being
// decided back to New after a restart. That is what keeps a restarted
// validator from signing a second, different proposal or vote for a
// (height, round, type) it already signed, and from forgetting a lock.
type Record struct {
	Kind     RecordKind
	Height   uint64
	Proposal *Proposal    // RecordProposal
	Vote     types.Vote   // RecordVote
	Round    uint32       // RecordLock
	Block    *types.Block // RecordLock
}

// Encode returns the canonical bytes of r: kind, height, then the body.
func (r *Record) Encode() []byte {
	e := enc{}
	e.u8(uint8(r.Kind))
	e.u64(r.Height)
	switch r.Kind {
	case RecordProposal:
		e.bytes32(Encode(r.Proposal))
	case RecordVote:
		e.fixed(r.Vote.Encode())
	case RecordLock:
		e.u32(r.Round)
		e.bytes32(r.Block.Encode())
	}
	return e.b
}

// DecodeRecord parses bytes written by Record.Encode.
func DecodeRecord(b []byte) (Record, error) {
	d := dec{b: b}
	r := Record{Kind: RecordKind(d.u8("kind")), Height: d.u64("height")}
	if d.err != nil {
		return Record{}, fmt.Errorf("wal record: %w", d.err)
	}
	switch r.Kind {
	case RecordProposal:
		pb := d.bytes32("proposal", MaxBlockEncoding+128)
		if err := d.finish(); err != nil {
			return Record{}, fmt.Errorf("wal record: %w", err)
		}
		m, err := Decode(pb)
		if err != nil {
			return Record{}, fmt.Errorf("wal record: %w", err)
		}
		p, ok := m.(*Proposal)
		if !ok || p.Height != r.Height {
			return Record{}, fmt.Errorf("wal record: %w: proposal record holds %s for another height", ErrMalformed, m.Type())
		}
		r.Proposal = p
	case RecordVote:
		v, err := types.DecodeVote(b[d.off:])
		if err != nil {
			return Record{}, fmt.Errorf("wal record: %w: %w", ErrMalformed, err)
		}
		if v.Height != r.Height {
			return Record{}, fmt.Errorf("wal record: %w: vote for height %d in record of height %d", ErrMalformed, v.Height, r.Height)
		}
		r.Vote = v
	case RecordLock:
		r.Round = d.u32("round")
		bb := d.bytes32("block", MaxBlockEncoding)
		if err := d.finish(); err != nil {
			return Record{}, fmt.Errorf("wal record: %w", err)
		}
		blk, err := types.DecodeBlock(bb)
		if err != nil {
			return Record{}, fmt.Errorf("wal record: %w: %w", ErrMalformed, err)
		}
		r.Block = blk
	default:
		return Record{}, fmt.Errorf("wal record: %w: unknown kind %d", ErrMalformed, r.Kind)
	}
	return r, nil
}
