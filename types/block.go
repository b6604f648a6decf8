package types

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/merkle"
)

// headerVersion 2 added next_validators_hash and last_commit_hash (the
// validator set changes: docs/consensus.md).
const headerVersion = 2

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
	ResultsRoot    crypto.Hash      `json:"results_root"` // RFC 6962 root over receipt result hashes
	StateRoot      crypto.Hash      `json:"state_root"`   // state after executing this block
	ValidatorsHash crypto.Hash      `json:"validators_hash"`
	// NextValidatorsHash is the hash of the set of height+1, which the
	// state after height-1 fixed: a client that trusts this header's set
	// learns the next one from it (docs/consensus.md).
	NextValidatorsHash crypto.Hash `json:"next_validators_hash"`
	// LastCommitHash is SHA-256 of the block's LastCommit encoding, zero
	// at height 1.
	LastCommitHash crypto.Hash `json:"last_commit_hash"`
}

// Encode returns the canonical header bytes.
func (h *Header) Encode() []byte {
	e := canon.Encoder{B: make([]byte, 0, 256)}
	e.U8(headerVersion)
	e.Bytes16([]byte(h.ChainID))
	e.U64(h.Height)
	e.U32(h.Round)
	e.U64(uint64(h.Time))
	e.Fixed(h.Proposer[:])
	e.Fixed(h.ParentHash[:])
	e.U32(h.TxCount)
	e.Fixed(h.TxRoot[:])
	e.Fixed(h.ResultsRoot[:])
	e.Fixed(h.StateRoot[:])
	e.Fixed(h.ValidatorsHash[:])
	e.Fixed(h.NextValidatorsHash[:])
	e.Fixed(h.LastCommitHash[:])
	return e.B
}

// Hash is the block hash: SHA-256 of the canonical header bytes.
func (h *Header) Hash() crypto.Hash { return crypto.Sum(h.Encode()) }

// DecodeHeader parses canonical header bytes.
func DecodeHeader(b []byte) (*Header, error) {
	d := canon.NewDecoder(b, "header", ErrNonCanonical)
	if v := d.U8("version"); d.Err() == nil && v != headerVersion {
		d.Fail("unsupported version %d", v)
	}
	h := &Header{}
	h.ChainID = string(d.Bytes16("chain_id", MaxChainIDBytes))
	h.Height = d.U64("height")
	h.Round = d.U32("round")
	h.Time = int64(d.U64("time"))
	d.Fixed(h.Proposer[:], "proposer")
	d.Fixed(h.ParentHash[:], "parent_hash")
	h.TxCount = d.U32("tx_count")
	d.Fixed(h.TxRoot[:], "tx_root")
	d.Fixed(h.ResultsRoot[:], "results_root")
	d.Fixed(h.StateRoot[:], "state_root")
	d.Fixed(h.ValidatorsHash[:], "validators_hash")
	d.Fixed(h.NextValidatorsHash[:], "next_validators_hash")
	d.Fixed(h.LastCommitHash[:], "last_commit_hash")
	if err := d.Finish(); err != nil {
		return nil, err
	}
	if h.Time < 0 {
		return nil, fmt.Errorf("header: %w: negative time", ErrNonCanonical)
	}
	return h, nil
}

// Block is a header, its transactions in order and the certificate of
// the previous height its proposer held (LastCommit, nil at height 1): the
// precommits that decided height-1, verified against the set of height-1,
// whose signers execution learns (execute.Env.LastSigners). Another
// validator may hold other precommits of the same block; which ones a
// block carries is its proposer's choice, fixed by LastCommitHash.
type Block struct {
	Header     Header
	Txs        []*Tx
	LastCommit *Certificate
}

// LastCommitHash is the header field for a last commit: SHA-256 of its
// encoding, zero for none.
func LastCommitHash(c *Certificate) crypto.Hash {
	if c == nil {
		return crypto.Hash{}
	}
	return crypto.Sum(c.Encode())
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

// CheckTxs verifies that TxCount and TxRoot match the transactions and
// LastCommitHash the last commit, which certifies the parent.
func (b *Block) CheckTxs() error {
	if int(b.Header.TxCount) != len(b.Txs) {
		return fmt.Errorf("block %d: header tx_count %d, block has %d", b.Header.Height, b.Header.TxCount, len(b.Txs))
	}
	if r := b.ComputeTxRoot(); r != b.Header.TxRoot {
		return fmt.Errorf("block %d: tx_root %s does not match transactions (%s)", b.Header.Height, b.Header.TxRoot, r)
	}
	if h := LastCommitHash(b.LastCommit); h != b.Header.LastCommitHash {
		return fmt.Errorf("block %d: last_commit_hash %s does not match the last commit (%s)", b.Header.Height, b.Header.LastCommitHash, h)
	}
	if c := b.LastCommit; c != nil && (c.Height+1 != b.Header.Height || c.BlockHash != b.Header.ParentHash) {
		return fmt.Errorf("block %d: last commit is for height %d block %s, not the parent", b.Header.Height, c.Height, c.BlockHash)
	}
	return nil
}

// Encode returns the canonical block bytes: the header bytes, then each
// transaction's signed bytes, each with a 4-byte length, then the last
// commit's bytes behind a 4-byte length (length 0: none).
func (b *Block) Encode() []byte {
	hb := b.Header.Encode()
	var lc []byte
	if b.LastCommit != nil {
		lc = b.LastCommit.Encode()
	}
	n := 12 + len(hb) + len(lc)
	for _, tx := range b.Txs {
		n += 4 + tx.Size()
	}
	e := canon.Encoder{B: make([]byte, 0, n)}
	e.Bytes32(hb)
	e.U32(uint32(len(b.Txs)))
	for _, tx := range b.Txs {
		e.Bytes32(tx.Bytes())
	}
	e.Bytes32(lc)
	return e.B
}

// DecodeBlock parses canonical block bytes and checks that the header's tx
// count and tx root match the transactions.
func DecodeBlock(b []byte) (*Block, error) {
	d := canon.NewDecoder(b, "block", ErrNonCanonical)
	hb := d.Bytes32("header", 1<<16)
	n := d.U32("tx count")
	if d.Err() == nil && uint64(n)*4 > uint64(d.Remaining()) {
		d.Fail("tx count %d exceeds remaining bytes", n)
	}
	if d.Err() != nil {
		return nil, d.Err()
	}
	h, err := DecodeHeader(hb)
	if err != nil {
		return nil, fmt.Errorf("block: %w", err)
	}
	blk := &Block{Header: *h, Txs: make([]*Tx, 0, n)}
	for i := uint32(0); i < n; i++ {
		tb := d.Bytes32("tx", MaxTxBytesHard)
		if d.Err() != nil {
			return nil, d.Err()
		}
		tx, err := DecodeTx(tb)
		if err != nil {
			return nil, fmt.Errorf("block: tx %d: %w", i, err)
		}
		blk.Txs = append(blk.Txs, tx)
	}
	if lc := d.Bytes32("last_commit", 2+MaxValidators*66+64); d.Err() == nil && len(lc) > 0 {
		c, err := DecodeCertificate(lc)
		if err != nil {
			return nil, fmt.Errorf("block: last commit: %w", err)
		}
		blk.LastCommit = c
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	if err := blk.CheckTxs(); err != nil {
		return nil, err
	}
	return blk, nil
}

// Receipt is the outcome of one transaction in a block. A failed transaction
// stays in the block and changes nothing but its receipt.
//
// The results root commits to the outcome: the receipt bytes without the
// reason field (ResultBytes): TxHash, OK, Code, Version and, for a contract
// call, its Contract section (gas used and events, which every validator
// computes identically). Reason is stored and served with the receipt but
// is outside the root, so validators whose messages are worded differently
// (another release, another Go version's error text) still agree on every
// block; Code is what a program should act on.
type Receipt struct {
	TxHash crypto.Hash `json:"tx_hash"`
	OK     bool        `json:"ok"`
	Code   Code        `json:"code,omitempty"`   // set when !OK
	Reason string      `json:"reason,omitempty"` // human-readable, set when !OK; not in the results root
	// Version is the key version a successful kv.put/kv.delete wrote (0 for
	// every other transaction and every failure).
	Version uint64 `json:"version,omitempty"`
	// Contract is set for transactions that ran contract code, failed
	// calls included; nil for every other transaction, whose receipt bytes
	// then end after Version.
	Contract *ContractResult `json:"contract,omitempty"`
}

// Receipt limits of the contract section.
const (
	// MaxReceiptEvents bounds the events of one transaction.
	MaxReceiptEvents = 64
	// MaxEventBytes bounds one event's name and data together.
	MaxEventBytes = 8 << 10
)

// ContractResult is what a contract call adds to its receipt.
type ContractResult struct {
	// GasUsed is the gas the call used: its whole limit when it ran out.
	GasUsed uint64 `json:"gas_used"`
	// Events are the call's events in emission order (those of contracts
	// it called included); empty when the call failed, whose events are
	// discarded with its other effects.
	Events []Event `json:"events"`
}

// MarshalJSON writes events as a list, empty rather than null.
func (c ContractResult) MarshalJSON() ([]byte, error) {
	type plain ContractResult
	if c.Events == nil {
		c.Events = []Event{}
	}
	return json.Marshal(plain(c))
}

// Event is one event a contract emitted.
type Event struct {
	Contract string `json:"contract"`
	Name     string `json:"name"`
	// Data is JSON by convention, but any bytes.
	Data HexBytes `json:"data_hex"`
}

// HexBytes is a byte string whose JSON form is its lower-case hex.
type HexBytes []byte

// MarshalText returns the hex form.
func (h HexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

// UnmarshalText parses the hex form.
func (h *HexBytes) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	if err != nil {
		return fmt.Errorf("hex bytes: %w", err)
	}
	*h = v
	return nil
}

// contractSectionTag opens a receipt's contract section.
const contractSectionTag = 1

func (r *Receipt) encodeContract(e *canon.Encoder) {
	c := r.Contract
	if c == nil {
		return
	}
	e.U8(contractSectionTag)
	e.U64(c.GasUsed)
	e.U16(uint16(len(c.Events)))
	for _, ev := range c.Events {
		e.U8(uint8(len(ev.Contract)))
		e.Fixed([]byte(ev.Contract))
		e.Bytes16([]byte(ev.Name))
		e.Bytes32(ev.Data)
	}
}

// Encode returns the canonical receipt bytes, reason included: what a
// validator stores and serves.
func (r *Receipt) Encode() []byte {
	e := canon.Encoder{B: make([]byte, 0, 48+len(r.Reason))}
	e.Fixed(r.TxHash[:])
	e.Bool(r.OK)
	e.Bytes16([]byte(r.Code))
	e.Bytes16([]byte(r.Reason))
	e.U64(r.Version)
	r.encodeContract(&e)
	return e.B
}

// ResultBytes returns the part of the receipt the results root commits to:
// the canonical receipt bytes without the reason field (tx_hash, ok, code,
// version, and the contract section when there is one).
func (r *Receipt) ResultBytes() []byte {
	e := canon.Encoder{B: make([]byte, 0, 48+len(r.Code))}
	e.Fixed(r.TxHash[:])
	e.Bool(r.OK)
	e.Bytes16([]byte(r.Code))
	e.U64(r.Version)
	r.encodeContract(&e)
	return e.B
}

// ResultHash is SHA-256 of ResultBytes: the receipt's leaf in the results
// root. It does not depend on Reason.
func (r *Receipt) ResultHash() crypto.Hash { return crypto.Sum(r.ResultBytes()) }

// DecodeReceipt parses canonical receipt bytes.
func DecodeReceipt(b []byte) (*Receipt, error) {
	d := canon.NewDecoder(b, "receipt", ErrNonCanonical)
	r := &Receipt{}
	d.Fixed(r.TxHash[:], "tx_hash")
	r.OK = d.Bool("ok")
	r.Code = Code(d.Bytes16("code", 64))
	r.Reason = string(d.Bytes16("reason", 1<<16-1))
	r.Version = d.U64("version")
	if d.Err() == nil && d.Remaining() > 0 {
		if tag := d.U8("section"); tag != contractSectionTag {
			d.Fail("unknown receipt section %d", tag)
		}
		c := &ContractResult{GasUsed: d.U64("gas_used"), Events: []Event{}}
		n := int(d.U16("event count"))
		if n > MaxReceiptEvents {
			d.Fail("%d events, at most %d", n, MaxReceiptEvents)
		}
		for i := 0; i < n && d.Err() == nil; i++ {
			ev := Event{Contract: string(d.Take(int(d.U8("event contract length")), "event contract"))}
			ev.Name = string(d.Bytes16("event name", MaxEventBytes))
			ev.Data = d.Bytes32("event data", MaxEventBytes)
			if d.Err() != nil {
				break
			}
			if err := CheckContractName(ev.Contract); err != nil {
				d.Fail("event %d: %v", i, err)
			}
			if ev.Name == "" || len(ev.Name)+len(ev.Data) > MaxEventBytes {
				d.Fail("event %d: name must be non-empty and name and data at most %d bytes", i, MaxEventBytes)
			}
			c.Events = append(c.Events, ev)
		}
		r.Contract = c
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return r, nil
}

// ResultsRoot returns the RFC 6962 root over the receipts' result hashes
// (ResultHash): it covers each outcome, not its reason text.
func ResultsRoot(rs []*Receipt) crypto.Hash {
	hs := make([]crypto.Hash, len(rs))
	for i, r := range rs {
		hs[i] = r.ResultHash()
	}
	return merkle.RootOfHashes(hs)
}
