package types

import (
	"fmt"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/merkle"
)

const headerVersion = 1

// Header is what validators sign (through its hash). Hash = SHA-256 of the
// canonical header bytes.
type Header struct {
	ChainID        string           `json:"chain_id"`
	Height         uint64           `json:"height"`
	Round          uint32           `json:"round"`
	Time           int64            `json:"time"` // Unix milliseconds, proposer's clock
	Proposer       crypto.PublicKey `json:"proposer"`
	ParentHash     crypto.Hash      `json:"parent_hash"` // zero at height 1
	TxCount        uint32           `json:"tx_count"`
	TxRoot         crypto.Hash      `json:"tx_root"`      // RFC 6962 root over tx hashes
	ResultsRoot    crypto.Hash      `json:"results_root"` // RFC 6962 root over receipt hashes
	StateRoot      crypto.Hash      `json:"state_root"`   // state after executing this block
	ValidatorsHash crypto.Hash      `json:"validators_hash"`
}

// Encode returns the canonical header bytes.
func (h *Header) Encode() []byte {
	e := encoder{b: make([]byte, 0, 256)}
	e.u8(headerVersion)
	e.bytes16([]byte(h.ChainID))
	e.u64(h.Height)
	e.u32(h.Round)
	e.u64(uint64(h.Time))
	e.fixed(h.Proposer[:])
	e.fixed(h.ParentHash[:])
	e.u32(h.TxCount)
	e.fixed(h.TxRoot[:])
	e.fixed(h.ResultsRoot[:])
	e.fixed(h.StateRoot[:])
	e.fixed(h.ValidatorsHash[:])
	return e.b
}

// Hash is the block hash: SHA-256 of the canonical header bytes.
func (h *Header) Hash() crypto.Hash { return crypto.Sum(h.Encode()) }

// DecodeHeader parses canonical header bytes.
func DecodeHeader(b []byte) (*Header, error) {
	d := decoder{b: b, what: "header"}
	if v := d.u8("version"); d.err == nil && v != headerVersion {
		d.fail("unsupported version %d", v)
	}
	h := &Header{}
	h.ChainID = string(d.bytes16("chain_id", MaxChainIDBytes))
	h.Height = d.u64("height")
	h.Round = d.u32("round")
	h.Time = int64(d.u64("time"))
	d.fixed(h.Proposer[:], "proposer")
	d.fixed(h.ParentHash[:], "parent_hash")
	h.TxCount = d.u32("tx_count")
	d.fixed(h.TxRoot[:], "tx_root")
	d.fixed(h.ResultsRoot[:], "results_root")
	d.fixed(h.StateRoot[:], "state_root")
	d.fixed(h.ValidatorsHash[:], "validators_hash")
	if err := d.finish(); err != nil {
		return nil, err
	}
	if h.Time < 0 {
		return nil, fmt.Errorf("header: %w: negative time", ErrNonCanonical)
	}
	return h, nil
}

// Block is a header and its transactions in order.
type Block struct {
	Header Header
	Txs    []*Tx
}

// Hash is the header hash.
func (b *Block) Hash() crypto.Hash { return b.Header.Hash() }

// TxHashes returns the hashes of the block's transactions in order.
func (b *Block) TxHashes() []crypto.Hash {
	hs := make([]crypto.Hash, len(b.Txs))
	for i, tx := range b.Txs {
		hs[i] = tx.Hash()
	}
	return hs
}

// ComputeTxRoot returns the RFC 6962 root over the block's tx hashes.
func (b *Block) ComputeTxRoot() crypto.Hash { return merkle.RootOfHashes(b.TxHashes()) }

// CheckTxs verifies that TxCount and TxRoot match the transactions.
func (b *Block) CheckTxs() error {
	if int(b.Header.TxCount) != len(b.Txs) {
		return fmt.Errorf("block %d: header tx_count %d, block has %d", b.Header.Height, b.Header.TxCount, len(b.Txs))
	}
	if r := b.ComputeTxRoot(); r != b.Header.TxRoot {
		return fmt.Errorf("block %d: tx_root %s does not match transactions (%s)", b.Header.Height, b.Header.TxRoot, r)
	}
	return nil
}

// Encode returns the canonical block bytes: the header bytes, then each
// transaction's signed bytes, each with a 4-byte length.
func (b *Block) Encode() []byte {
	hb := b.Header.Encode()
	n := 8 + len(hb)
	for _, tx := range b.Txs {
		n += 4 + tx.Size()
	}
	e := encoder{b: make([]byte, 0, n)}
	e.bytes32(hb)
	e.u32(uint32(len(b.Txs)))
	for _, tx := range b.Txs {
		e.bytes32(tx.Bytes())
	}
	return e.b
}

// DecodeBlock parses canonical block bytes and checks that the header's tx
// count and tx root match the transactions.
func DecodeBlock(b []byte) (*Block, error) {
	d := decoder{b: b, what: "block"}
	hb := d.bytes32("header", 1<<16)
	n := d.u32("tx count")
	if d.err == nil && uint64(n)*4 > uint64(len(b)-d.off) {
		d.fail("tx count %d exceeds remaining bytes", n)
	}
	if d.err != nil {
		return nil, d.err
	}
	h, err := DecodeHeader(hb)
	if err != nil {
		return nil, fmt.Errorf("block: %w", err)
	}
	blk := &Block{Header: *h, Txs: make([]*Tx, 0, n)}
	for i := uint32(0); i < n; i++ {
		tb := d.bytes32("tx", MaxTxBytesHard)
		if d.err != nil {
			return nil, d.err
		}
		tx, err := DecodeTx(tb)
		if err != nil {
			return nil, fmt.Errorf("block: tx %d: %w", i, err)
		}
		blk.Txs = append(blk.Txs, tx)
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	if err := blk.CheckTxs(); err != nil {
		return nil, err
	}
	return blk, nil
}

// Receipt is the outcome of one transaction in a block. A failed transaction
// stays in the block and changes nothing but its receipt.
type Receipt struct {
	TxHash crypto.Hash `json:"tx_hash"`
	OK     bool        `json:"ok"`
	Code   Code        `json:"code,omitempty"`   // set when !OK
	Reason string      `json:"reason,omitempty"` // human-readable, set when !OK
	// Version is the key version a successful kv.put/kv.delete wrote.
	Version uint64 `json:"version,omitempty"`
}

// Encode returns the canonical receipt bytes.
func (r *Receipt) Encode() []byte {
	e := encoder{b: make([]byte, 0, 48+len(r.Reason))}
	e.fixed(r.TxHash[:])
	e.bool(r.OK)
	e.bytes16([]byte(r.Code))
	e.bytes16([]byte(r.Reason))
	e.u64(r.Version)
	return e.b
}

// Hash is SHA-256 of the canonical receipt bytes; the results root is the
// Merkle root over these.
func (r *Receipt) Hash() crypto.Hash { return crypto.Sum(r.Encode()) }

// DecodeReceipt parses canonical receipt bytes.
func DecodeReceipt(b []byte) (*Receipt, error) {
	d := decoder{b: b, what: "receipt"}
	r := &Receipt{}
	d.fixed(r.TxHash[:], "tx_hash")
	r.OK = d.bool("ok")
	r.Code = Code(d.bytes16("code", 64))
	r.Reason = string(d.bytes16("reason", 1<<16-1))
	r.Version = d.u64("version")
	if err := d.finish(); err != nil {
		return nil, err
	}
	return r, nil
}

// ResultsRoot returns the RFC 6962 root over the receipts' hashes.
func ResultsRoot(rs []*Receipt) crypto.Hash {
	hs := make([]crypto.Hash, len(rs))
	for i, r := range rs {
		hs[i] = r.Hash()
	}
	return merkle.RootOfHashes(hs)
}
