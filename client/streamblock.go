package client

import (
	"fmt"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/types"
)

// StreamBlockVersion is the first byte of every StreamBlock encoding.
const StreamBlockVersion = 1

// maxStreamBlockBytes bounds a decoded message's parts (a block is at most
// types.MaxTxBytesHard per tx; the receipts are small).
const maxStreamBlockBytes = 1 << 30

// StreamBlock is one message of the stream of certified blocks a node
// publishes (docs/scale-out.md): a committed block, the certificate that
// commits it and its receipts, each in its canonical encoding:
//
//	u8 version (1) ‖ bytes32 block ‖ bytes32 certificate ‖ u32 count ‖ count × bytes32 receipt
//
// A consumer must Verify it against the validator set it trusts before
// using it: the stream's servers are not part of the chain's trust.
type StreamBlock struct {
	Block       *types.Block
	Certificate *types.Certificate
	Receipts    []*types.Receipt
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
	return e.B
}

// DecodeStreamBlock parses what Encode writes; anything else is an error.
func DecodeStreamBlock(b []byte) (*StreamBlock, error) {
	d := canon.NewDecoder(b, "stream block", types.ErrNonCanonical)
	if v := d.U8("version"); d.Err() == nil && v != StreamBlockVersion {
		return nil, fmt.Errorf("stream block: version %d, this SDK reads %d", v, StreamBlockVersion)
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
	if err := d.Finish(); err != nil {
		return nil, err
	}
	s := &StreamBlock{}
	var err error
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
