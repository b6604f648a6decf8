package client

import (
	"fmt"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/types"
)

// StreamBlockVersion is the first byte of every StreamBlock encoding
// this SDK writes (2: with the next validator set when it changes); it
// also reads version 1 (without).
const StreamBlockVersion = 2

// maxStreamBlockBytes bounds a decoded message's parts (a block is at most
// types.MaxTxBytesHard per tx; the receipts are small).
const maxStreamBlockBytes = 1 << 30

// StreamBlock is one message of the stream of certified blocks a node
// publishes (docs/scale-out.md): a committed block, the certificate that
// commits it and its receipts, each in its canonical encoding:
//
//	u8 version (2) ‖ bytes32 block ‖ bytes32 certificate ‖ u32 count ‖ count × bytes32 receipt ‖ bytes32 next validators
//
// The next validators are the set of height+1 in types.EncodeValidators
// form when it differs from the block's own set (the header's
// next_validators_hash commits to it), else empty: a consumer that holds
// the set of the first height it reads follows every set change from the
// stream alone (NextSet).
//
// A consumer must Verify it against the validator set it trusts before
// using it: the stream's servers are not part of the chain's trust.
type StreamBlock struct {
	Block       *types.Block
	Certificate *types.Certificate
	Receipts    []*types.Receipt
	// NextValidators is the set of the next height when it differs from
	// this block's (nil otherwise).
	NextValidators []types.Validator
}

// Encode returns the message bytes.
func (s *StreamBlock) Encode() []byte {
	e := canon.Encoder{}
	e.U8(StreamBlockVersion)
	e.Bytes32(s.Block.Encode())
	e.Bytes32(s.Certificate.Encode())
	e.U32(uint32(len(s.Receipts)))
	for _, r := range s.Receipts {
		e.Bytes32(r.Encode())
	}
	var next []byte
	if s.NextValidators != nil {
		next = types.EncodeValidators(s.NextValidators)
	}
	e.Bytes32(next)
	return e.B
}

// DecodeStreamBlock parses what Encode writes; anything else is an error.
func DecodeStreamBlock(b []byte) (*StreamBlock, error) {
	d := canon.NewDecoder(b, "stream block", types.ErrNonCanonical)
	v := d.U8("version")
	if d.Err() == nil && v != 1 && v != StreamBlockVersion {
		return nil, fmt.Errorf("stream block: version %d, this SDK reads 1 and %d", v, StreamBlockVersion)
	}
	blk := d.Bytes32("block", maxStreamBlockBytes)
	cert := d.Bytes32("certificate", maxStreamBlockBytes)
	n := d.U32("receipts")
	if d.Err() == nil && int64(n)*4 > int64(d.Remaining()) {
		d.Fail("receipt count %d exceeds remaining bytes", n)
	}
	var rbs [][]byte
	for i := uint32(0); i < n && d.Err() == nil; i++ {
		rbs = append(rbs, d.Bytes32("receipt", maxStreamBlockBytes))
	}
	var next []byte
	if v >= 2 {
		next = d.Bytes32("next validators", maxStreamBlockBytes)
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	s := &StreamBlock{}
	var err error
	if len(next) > 0 {
		if s.NextValidators, err = types.DecodeValidators(next); err != nil {
			return nil, fmt.Errorf("stream block: %w", err)
		}
	}
	if s.Block, err = types.DecodeBlock(blk); err != nil {
		return nil, fmt.Errorf("stream block: %w", err)
	}
	if s.Certificate, err = types.DecodeCertificate(cert); err != nil {
		return nil, fmt.Errorf("stream block: %w", err)
	}
	for _, rb := range rbs {
		r, err := types.DecodeReceipt(rb)
		if err != nil {
			return nil, fmt.Errorf("stream block: %w", err)
		}
		s.Receipts = append(s.Receipts, r)
	}
	return s, nil
}

// Verify checks that a quorum of vals certified this block of chainID
// (the certificate's signatures, height and block hash) and that the
// transactions and receipts are the ones the header's tx and results roots
// commit to. A nil error means the block is the chain's, whoever relayed it.
func (s *StreamBlock) Verify(chainID string, vals *types.ValidatorSet) error {
	h := &s.Block.Header
	fail := func(format string, args ...any) error {
		return fmt.Errorf("stream block %d: %w", h.Height, verifyErr(format, args...))
	}
	if h.ChainID != chainID {
		return fail("chain %q, want %q", h.ChainID, chainID)
	}
	if err := s.Certificate.Verify(chainID, vals); err != nil {
		return fail("%v", err)
	}
	if s.Certificate.Height != h.Height || s.Certificate.BlockHash != h.Hash() {
		return fail("certificate is for height %d block %s, not this block %s", s.Certificate.Height, s.Certificate.BlockHash, h.Hash())
	}
	if int(h.TxCount) != len(s.Block.Txs) || len(s.Receipts) != len(s.Block.Txs) {
		return fail("header counts %d txs; message has %d txs and %d receipts", h.TxCount, len(s.Block.Txs), len(s.Receipts))
	}
	hashes := make([]crypto.Hash, len(s.Block.Txs))
	rhashes := make([]crypto.Hash, len(s.Receipts))
	for i, tx := range s.Block.Txs {
		hashes[i] = tx.Hash()
		if s.Receipts[i].TxHash != hashes[i] {
			return fail("receipt %d is for tx %s, not %s", i, s.Receipts[i].TxHash, hashes[i])
		}
		rhashes[i] = s.Receipts[i].ResultHash()
	}
	if r := merkle.RootOfHashes(hashes); r != h.TxRoot {
		return fail("tx root %s, transactions give %s", h.TxRoot, r)
	}
	if r := merkle.RootOfHashes(rhashes); r != h.ResultsRoot {
		return fail("results root %s, receipts give %s", h.ResultsRoot, r)
	}
	return nil
}

// NextSet returns the validator set of the block's next height, given vals,
// the set that certified it (call Verify first): vals itself when the
// header names it as the next set, else NextValidators, which must hash to
// the header's next_validators_hash.
func (s *StreamBlock) NextSet(vals *types.ValidatorSet) (*types.ValidatorSet, error) {
	h := &s.Block.Header
	if h.NextValidatorsHash == vals.Hash() {
		return vals, nil
	}
	if s.NextValidators == nil {
		return nil, verifyErr("stream block %d: the next height's set changes (%s) and the message does not carry it", h.Height, h.NextValidatorsHash)
	}
	next, err := types.NewValidatorSet(s.NextValidators)
	if err != nil {
		return nil, verifyErr("stream block %d: next validators: %v", h.Height, err)
	}
	if next.Hash() != h.NextValidatorsHash {
		return nil, verifyErr("stream block %d: next validators hash to %s, the header says %s", h.Height, next.Hash(), h.NextValidatorsHash)
	}
	return next, nil
}
