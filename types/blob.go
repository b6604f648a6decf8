package types

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
)

// TxBlobRecord is a record that references bulk payloads (blobs) kept in a
// blob store outside the ledger (docs/scale-out.md).
const TxBlobRecord TxType = 29

// MaxTxBlobs bounds the blobs one blob.record references.
const MaxTxBlobs = 64

// BlobRef names a blob by content: the SHA-256 of its bytes and their
// number. The chain certifies these two; the blob store holds the bytes.
type BlobRef struct {
	Hash crypto.Hash `json:"hash"`
	Size uint64      `json:"size"`
}

// BlobRecord is a Record (a canonical JSON document, indexed and provable
// like one) plus references to blobs. Its execution is a record's: its
// presence in the ledger. What it adds is outside execution: a validator
// prevotes for a block carrying one only if every referenced blob is in
// its blob store with the referenced size, and the mempool refuses one
// whose blobs are not there, so no certified block references missing data.
type BlobRecord struct {
	Document json.RawMessage `json:"document"`
	Blobs    []BlobRef       `json:"blobs"`
}

func (*BlobRecord) TxType() TxType { return TxBlobRecord }

func (p *BlobRecord) encode(e *canon.Encoder) {
	e.Bytes32(p.Document)
	e.U16(uint16(len(p.Blobs)))
	for _, b := range p.Blobs {
		e.Fixed(b.Hash[:])
		e.U64(b.Size)
	}
}

func (p *BlobRecord) decode(d *canon.Decoder) {
	p.Document = d.Bytes32("document", MaxTxBytesHard)
	n := int(d.U16("blobs"))
	if n > MaxTxBlobs {
		d.Fail("%d blobs, limit %d", n, MaxTxBlobs)
		return
	}
	p.Blobs = make([]BlobRef, n)
	for i := range p.Blobs {
		d.Fixed(p.Blobs[i].Hash[:], "blob hash")
		p.Blobs[i].Size = d.U64("blob size")
	}
}

func (p *BlobRecord) wellFormed() error {
	if err := (&Record{Document: p.Document}).wellFormed(); err != nil {
		return err
	}
	if len(p.Blobs) == 0 || len(p.Blobs) > MaxTxBlobs {
		return Errf(CodeMalformed, "blob.record references %d blobs, must be 1 to %d", len(p.Blobs), MaxTxBlobs)
	}
	seen := make(map[crypto.Hash]bool, len(p.Blobs))
	for _, b := range p.Blobs {
		if seen[b.Hash] {
			return Errf(CodeMalformed, "blob %s is referenced twice", b.Hash)
		}
		seen[b.Hash] = true
	}
	return nil
}

type blobRefIn struct {
	Hash *crypto.Hash `json:"hash"`
	Size *uint64      `json:"size"`
}

type blobRecordIn struct {
	Document json.RawMessage `json:"document"`
	Blobs    *[]blobRefIn    `json:"blobs"`
}

func (p *BlobRecord) parseJSON(b []byte) error {
	var in blobRecordIn
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if len(in.Document) == 0 {
		return errors.New("missing document")
	}
	if err := missing(field{"blobs", in.Blobs != nil}); err != nil {
		return err
	}
	c, err := CanonicalJSON(in.Document)
	if err != nil {
		return err
	}
	out := BlobRecord{Document: c, Blobs: make([]BlobRef, len(*in.Blobs))}
	for i, r := range *in.Blobs {
		if err := missing(field{"hash", r.Hash != nil}, field{"size", r.Size != nil}); err != nil {
			return fmt.Errorf("blobs[%d]: %w", i, err)
		}
		out.Blobs[i] = BlobRef{Hash: *r.Hash, Size: *r.Size}
	}
	*p = out
	return nil
}

// BlobRefs returns the blobs tx references (nil for types that reference
// none), for the availability checks outside execution.
func BlobRefs(tx *Tx) []BlobRef {
	if p, ok := tx.Payload.(*BlobRecord); ok {
		return p.Blobs
	}
	return nil
}
