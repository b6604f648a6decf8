package types

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
)

// TxType selects what a transaction does. The registered types, their
// names and payloads are listed once, by TxTypes (txtypes.go).
type TxType uint8

// Transaction types. The numbers are part of the encoding; never reuse one.
const (
	TxTransfer TxType = 1
	TxKVPut    TxType = 2
	TxKVDelete TxType = 3
	TxRecord   TxType = 4
	// Payment fields (types/field.go).
	TxFieldOpen            TxType = 16
	TxFieldCloseUnilateral TxType = 17
	TxFieldChallenge       TxType = 18
	TxFieldDispute         TxType = 19
	TxFieldClose           TxType = 20
	// Contracts (types/contract_tx.go).
	TxContractDeploy      TxType = 21
	TxContractInstantiate TxType = 22
	TxContractInvoke      TxType = 23
	TxContractUpgrade     TxType = 24
)

// Hard limits enforced by the decoder, whatever the chain's parameters. The
// configurable limits in Params are checked by Validate and are at most these.
const (
	txVersion         = 1
	MaxChainIDBytes   = 64
	MaxKeyBytes       = 1024
	MaxTxBytesHard    = 8 << 20
	MaxValueBytesHard = MaxTxBytesHard
)

// Payload is the type-specific body of a transaction: one of the payloads
// TxTypes lists (*Transfer, *KVPut, *KVDelete, *Record). Its methods are
// unexported, so only this package defines payloads, and each one carries
// its whole wire format: a new type cannot compile without its binary
// encoding and decoding, its strict JSON parsing and its well-formedness rules.
type Payload interface {
	TxType() TxType
	// encode appends the payload's canonical encoding.
	encode(e *canon.Encoder)
	// decode reads what encode writes, in the same order; errors stick in d.
	decode(d *canon.Decoder)
	// parseJSON fills the payload from its strict JSON form: unknown and
	// missing required fields are errors.
	parseJSON(b []byte) error
	// wellFormed checks the payload's rules that hold whatever the chain.
	wellFormed() error
}

// Transfer moves Amount from the sender to To.
type Transfer struct {
	To     crypto.Address `json:"to"`
	Amount uint64         `json:"amount"`
}

// KVPut writes Value under Key. With ExpectVersion set it is a compare-and-set:
// it fails unless the key's current live version equals *ExpectVersion (0 means
// the key must be absent or deleted).
type KVPut struct {
	Key           string  `json:"key"`
	Value         string  `json:"value"`
	ExpectVersion *uint64 `json:"expect_version,omitempty"`
}

// KVDelete writes a tombstone version of Key. ExpectVersion as for KVPut.
type KVDelete struct {
	Key           string  `json:"key"`
	ExpectVersion *uint64 `json:"expect_version,omitempty"`
}

// Record stores a user-defined JSON document. Document holds the canonical
// form: compact JSON with HTML-sensitive characters escaped (what Go's
// encoding/json emits), so it survives any JSON re-encoding byte for byte.
type Record struct {
	Document json.RawMessage `json:"document"`
}

func (*Transfer) TxType() TxType { return TxTransfer }
func (*KVPut) TxType() TxType    { return TxKVPut }
func (*KVDelete) TxType() TxType { return TxKVDelete }
func (*Record) TxType() TxType   { return TxRecord }

func (p *Transfer) encode(e *canon.Encoder) { e.Fixed(p.To[:]); e.U64(p.Amount) }
func (p *KVPut) encode(e *canon.Encoder) {
	e.Bytes16([]byte(p.Key))
	e.Bytes32([]byte(p.Value))
	encodeExpect(e, p.ExpectVersion)
}
func (p *KVDelete) encode(e *canon.Encoder) {
	e.Bytes16([]byte(p.Key))
	encodeExpect(e, p.ExpectVersion)
}
func (p *Record) encode(e *canon.Encoder) { e.Bytes32(p.Document) }

func encodeExpect(e *canon.Encoder, v *uint64) {
	if v == nil {
		e.Bool(false)
		return
	}
	e.Bool(true)
	e.U64(*v)
}

func (p *Transfer) decode(d *canon.Decoder) {
	d.Fixed(p.To[:], "to")
	p.Amount = d.U64("amount")
}
func (p *KVPut) decode(d *canon.Decoder) {
	p.Key = string(d.Bytes16("key", MaxKeyBytes))
	p.Value = string(d.Bytes32("value", MaxValueBytesHard))
	p.ExpectVersion = decodeExpect(d)
}
func (p *KVDelete) decode(d *canon.Decoder) {
	p.Key = string(d.Bytes16("key", MaxKeyBytes))
	p.ExpectVersion = decodeExpect(d)
}
func (p *Record) decode(d *canon.Decoder) { p.Document = d.Bytes32("document", MaxTxBytesHard) }

func decodeExpect(d *canon.Decoder) *uint64 {
	if !d.Bool("has_expect_version") {
		return nil
	}
	v := d.U64("expect_version")
	return &v
}

func (p *Transfer) wellFormed() error {
	if p.Amount == 0 {
		return Errf(CodeMalformed, "transfer amount must be positive")
	}
	return nil
}
func (p *KVPut) wellFormed() error {
	if err := checkKey(p.Key); err != nil {
		return err
	}
	if !utf8.ValidString(p.Value) {
		return Errf(CodeMalformed, "value must be UTF-8 text")
	}
	return nil
}
func (p *KVDelete) wellFormed() error { return checkKey(p.Key) }
func (p *Record) wellFormed() error {
	c, err := CanonicalJSON(p.Document)
	if err != nil {
		return Errf(CodeMalformed, "record document: %v", err)
	}
	if !bytes.Equal(c, p.Document) {
		return Errf(CodeMalformed, "record document is not in canonical form (compact JSON, HTML characters escaped)")
	}
	return nil
}

// Tx is a signed transaction. Build one with the fields, then Sign it; decode
// one with DecodeTx or from its JSON form. A Tx is immutable once signed: the
// encoding and hash are cached.
type Tx struct {
	ChainID   string
	Sender    crypto.PublicKey
	Nonce     uint64
	Timestamp int64 // Unix milliseconds, set by the client
	Payload   Payload
	Signature [crypto.SignatureSize]byte

	raw  []byte // canonical signed encoding, once known
	hash crypto.Hash
}

// Type returns the payload's type.
func (tx *Tx) Type() TxType {
	if tx.Payload == nil {
		return 0
	}
	return tx.Payload.TxType()
}

// unsignedBytes returns the canonical encoding without the signature.
func (tx *Tx) unsignedBytes() []byte {
	e := canon.Encoder{B: make([]byte, 0, 128)}
	e.U8(txVersion)
	e.Bytes16([]byte(tx.ChainID))
	e.U8(uint8(tx.Type()))
	e.Fixed(tx.Sender[:])
	e.U64(tx.Nonce)
	e.U64(uint64(tx.Timestamp))
	if tx.Payload != nil {
		tx.Payload.encode(&e)
	}
	return e.B
}

// SignBytes returns the bytes the sender signs: the domain-separated
// canonical encoding without the signature.
func (tx *Tx) SignBytes() []byte { return crypto.SignBytes(crypto.DomainTx, tx.unsignedBytes()) }

// Sign sets Sender to k's public key and signs the transaction.
func (tx *Tx) Sign(k *crypto.PrivateKey) {
	tx.Sender = k.Public()
	tx.raw = nil
	tx.Signature = k.Sign(crypto.DomainTx, tx.unsignedBytes())
	tx.Bytes()
}

// Bytes returns the canonical signed encoding (unsigned bytes followed by the
// 64-byte signature). The result must not be modified.
func (tx *Tx) Bytes() []byte {
	if tx.raw == nil {
		b := tx.unsignedBytes()
		tx.raw = append(b, tx.Signature[:]...)
		tx.hash = crypto.Sum(tx.raw)
	}
	return tx.raw
}

// Hash is SHA-256 of the canonical signed bytes.
func (tx *Tx) Hash() crypto.Hash {
	tx.Bytes()
	return tx.hash
}

// Size is the length of the canonical signed encoding.
func (tx *Tx) Size() int { return len(tx.Bytes()) }

// VerifySignature checks the sender's signature.
func (tx *Tx) VerifySignature() error {
	b := tx.Bytes()
	if !crypto.Verify(tx.Sender, crypto.DomainTx, b[:len(b)-crypto.SignatureSize], tx.Signature[:]) {
		return Errf(CodeBadSignature, "signature does not verify for sender %s", tx.Sender)
	}
	return nil
}

// AddToBatch queues the tx's signature on a batch verifier.
func (tx *Tx) AddToBatch(bv *crypto.BatchVerifier) {
	b := tx.Bytes()
	bv.Add(tx.Sender, crypto.DomainTx, b[:len(b)-crypto.SignatureSize], tx.Signature[:])
}

// DecodeTx parses the canonical signed encoding. Anything that is not exactly
// the canonical encoding of some well-formed transaction is rejected with a
// *TxError of code malformed (or unknown_type / oversized) that wraps
// ErrNonCanonical. It does not verify the signature.
func DecodeTx(b []byte) (*Tx, error) {
	if len(b) > MaxTxBytesHard {
		return nil, &TxError{Code: CodeOversized, Msg: fmt.Sprintf("transaction is %d bytes, limit %d", len(b), MaxTxBytesHard), cause: ErrNonCanonical}
	}
	d := canon.NewDecoder(b, "tx", ErrNonCanonical)
	if v := d.U8("version"); d.Err() == nil && v != txVersion {
		d.Fail("unsupported version %d", v)
	}
	tx := &Tx{}
	tx.ChainID = string(d.Bytes16("chain_id", MaxChainIDBytes))
	typ := TxType(d.U8("type"))
	d.Fixed(tx.Sender[:], "sender")
	tx.Nonce = d.U64("nonce")
	tx.Timestamp = int64(d.U64("timestamp"))
	if d.Err() == nil {
		info, ok := lookupTxType(typ)
		if !ok {
			return nil, &TxError{Code: CodeUnknownType, Msg: fmt.Sprintf("unknown transaction type %d", typ), cause: ErrNonCanonical}
		}
		tx.Payload = info.New()
		tx.Payload.decode(d)
	}
	d.Fixed(tx.Signature[:], "signature")
	if err := d.Finish(); err != nil {
		return nil, &TxError{Code: CodeMalformed, Msg: err.Error(), cause: err}
	}
	if err := tx.checkWellFormed(); err != nil {
		// Well-formedness failures are decoding failures too: the bytes are
		// not the encoding of any valid transaction.
		if te, ok := err.(*TxError); ok && te.cause == nil {
			te.cause = ErrNonCanonical
		}
		return nil, err
	}
	tx.raw = append([]byte(nil), b...)
	tx.hash = crypto.Sum(tx.raw)
	return tx, nil
}

// checkWellFormed checks the rules every transaction obeys whatever the chain:
// text fields are UTF-8, keys non-empty, record documents canonical JSON,
// amounts positive.
func (tx *Tx) checkWellFormed() error {
	if tx.ChainID == "" || len(tx.ChainID) > MaxChainIDBytes || !utf8.ValidString(tx.ChainID) {
		return Errf(CodeMalformed, "chain_id must be 1..%d bytes of UTF-8", MaxChainIDBytes)
	}
	if tx.Nonce == 0 {
		return Errf(CodeMalformed, "nonce must be at least 1")
	}
	if tx.Timestamp < 0 {
		return Errf(CodeMalformed, "timestamp must not be negative")
	}
	if tx.Payload == nil {
		return Errf(CodeMalformed, "missing payload")
	}
	if _, ok := lookupTxType(tx.Payload.TxType()); !ok {
		return Errf(CodeUnknownType, "unknown payload %T", tx.Payload)
	}
	return tx.Payload.wellFormed()
}

func checkKey(k string) error {
	if k == "" || len(k) > MaxKeyBytes || !utf8.ValidString(k) {
		return Errf(CodeMalformed, "key must be 1..%d bytes of UTF-8", MaxKeyBytes)
	}
	return nil
}

// CanonicalJSON returns the canonical form of a JSON document: compact, with
// <, >, &, U+2028 and U+2029 escaped inside strings — byte for byte what
// encoding/json produces when it re-encodes a json.RawMessage.
//
// The document must be UTF-8 (RFC 8259 section 8.1). encoding/json's
// validator lets invalid bytes through inside strings; requiring UTF-8 here
// keeps Cairn from accepting a document that a verifier in another language
// could not even parse.
func CanonicalJSON(doc []byte) ([]byte, error) {
	if !utf8.Valid(doc) {
		return nil, errors.New("not UTF-8")
	}
	if !json.Valid(doc) {
		return nil, errors.New("not valid JSON")
	}
	if err := checkUniqueNames(doc); err != nil {
		return nil, err
	}
	var c bytes.Buffer
	if err := json.Compact(&c, doc); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	json.HTMLEscape(&out, c.Bytes())
	return out.Bytes(), nil
}

// txJSON is the API form of a transaction. Binary fields are lower-case hex.
type txJSON struct {
	ChainID   string          `json:"chain_id"`
	Type      string          `json:"type"`
	Sender    string          `json:"sender"`
	Nonce     uint64          `json:"nonce"`
	Timestamp int64           `json:"timestamp"`
	Payload   json.RawMessage `json:"payload"`
	Signature string          `json:"signature"`
}

// MarshalJSON returns the API form.
func (tx *Tx) MarshalJSON() ([]byte, error) {
	p, err := json.Marshal(tx.Payload)
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	return json.Marshal(txJSON{
		ChainID: tx.ChainID, Type: tx.Type().String(), Sender: tx.Sender.String(),
		Nonce: tx.Nonce, Timestamp: tx.Timestamp, Payload: p,
		Signature: hex.EncodeToString(tx.Signature[:]),
	})
}

// txJSONIn is txJSON as parsed: pointers tell an absent field from a zero
// one (a timestamp, a "to" or a "value" may legally be zero or empty).
type txJSONIn struct {
	ChainID   *string         `json:"chain_id"`
	Type      *string         `json:"type"`
	Sender    *string         `json:"sender"`
	Nonce     *uint64         `json:"nonce"`
	Timestamp *int64          `json:"timestamp"`
	Payload   json.RawMessage `json:"payload"`
	Signature *string         `json:"signature"`
}

type transferIn struct {
	To     *crypto.Address `json:"to"`
	Amount *uint64         `json:"amount"`
}

type kvPutIn struct {
	Key           *string `json:"key"`
	Value         *string `json:"value"`
	ExpectVersion *uint64 `json:"expect_version"`
}

type kvDeleteIn struct {
	Key           *string `json:"key"`
	ExpectVersion *uint64 `json:"expect_version"`
}

// field is a JSON field's name and whether it was present.
type field struct {
	name    string
	present bool
}

// missing returns an error naming the first absent field, if any.
func missing(fs ...field) error {
	for _, f := range fs {
		if !f.present {
			return fmt.Errorf("missing field %q", f.name)
		}
	}
	return nil
}

func (p *Transfer) parseJSON(b []byte) error {
	var in transferIn
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if err := missing(field{"to", in.To != nil}, field{"amount", in.Amount != nil}); err != nil {
		return err
	}
	*p = Transfer{To: *in.To, Amount: *in.Amount}
	return nil
}

func (p *KVPut) parseJSON(b []byte) error {
	var in kvPutIn
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if err := missing(field{"key", in.Key != nil}, field{"value", in.Value != nil}); err != nil {
		return err
	}
	*p = KVPut{Key: *in.Key, Value: *in.Value, ExpectVersion: in.ExpectVersion}
	return nil
}

func (p *KVDelete) parseJSON(b []byte) error {
	var in kvDeleteIn
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if err := missing(field{"key", in.Key != nil}); err != nil {
		return err
	}
	*p = KVDelete{Key: *in.Key, ExpectVersion: in.ExpectVersion}
	return nil
}

func (p *Record) parseJSON(b []byte) error {
	if err := strictJSON(b, p); err != nil {
		return err
	}
	if len(p.Document) == 0 {
		return errors.New("missing document")
	}
	c, err := CanonicalJSON(p.Document)
	p.Document = c
	return err
}

// UnmarshalJSON parses the API form strictly: unknown fields and missing
// required fields are errors (*TxError, code malformed or unknown_type). It
// does not verify the signature.
func (tx *Tx) UnmarshalJSON(b []byte) error {
	var j txJSONIn
	if err := strictJSON(b, &j); err != nil {
		return Errf(CodeMalformed, "transaction JSON: %v", err)
	}
	// Go's decoder keeps the last of two same-named members; refuse them at
	// every depth (payload and record document included) instead.
	if err := checkUniqueNames(b); err != nil {
		return Errf(CodeMalformed, "transaction JSON: %v", err)
	}
	if err := missing(field{"chain_id", j.ChainID != nil}, field{"type", j.Type != nil}, field{"sender", j.Sender != nil},
		field{"nonce", j.Nonce != nil}, field{"timestamp", j.Timestamp != nil}, field{"signature", j.Signature != nil}); err != nil {
		return Errf(CodeMalformed, "transaction JSON: %v", err)
	}
	if len(j.Payload) == 0 || string(j.Payload) == "null" {
		return Errf(CodeMalformed, "transaction JSON: missing field %q", "payload")
	}
	t, err := ParseTxType(*j.Type)
	if err != nil {
		return err
	}
	out := Tx{ChainID: *j.ChainID, Nonce: *j.Nonce, Timestamp: *j.Timestamp}
	if out.Sender, err = crypto.ParsePublicKey(*j.Sender); err != nil {
		return Errf(CodeMalformed, "sender: %v", err)
	}
	sig, err := hex.DecodeString(*j.Signature)
	if err != nil || len(sig) != crypto.SignatureSize || hex.EncodeToString(sig) != *j.Signature {
		return Errf(CodeMalformed, "signature must be %d lower-case hex characters", 2*crypto.SignatureSize)
	}
	copy(out.Signature[:], sig)
	info, _ := lookupTxType(t) // ParseTxType found it
	out.Payload = info.New()
	err = out.Payload.parseJSON(j.Payload)
	if err != nil {
		return Errf(CodeMalformed, "%s payload: %v", t, err)
	}
	if err := out.checkWellFormed(); err != nil {
		return err
	}
	if len(out.Bytes()) > MaxTxBytesHard {
		return Errf(CodeOversized, "transaction is %d bytes, limit %d", len(out.Bytes()), MaxTxBytesHard)
	}
	*tx = out
	return nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	// Decoder.More reports false for a stray ']' or '}', so look for the
	// end of input itself.
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after JSON value")
	}
	return nil
}
