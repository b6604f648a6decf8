package types

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/merkle"
)

// Payment fields (docs/payment-fields.md): a group of members locks deposits
// on chain, pays each other off chain, and settles with one co-signed state.
// This file holds the five field transaction payloads, the byte strings the
// members sign, and the field's state entry.

// Limits of a field, enforced by the decoder.
const (
	// MaxFieldMembers bounds a field's member list (and every balance list).
	MaxFieldMembers = 64
	// MaxFieldProofPath bounds an inclusion proof's path (a tree of 2^64
	// leaves needs 64 hashes).
	MaxFieldProofPath = 64
	// MaxChallengePeriod bounds a field's challenge period, in blocks.
	MaxChallengePeriod = 1_000_000
	// NoMember marks a pending close no member is answerable for (a
	// cooperative close, or the state the chain assumes at expiry).
	NoMember = 0xFFFF
)

// FieldSig is an Ed25519 signature by a field member: lower-case hex in JSON.
type FieldSig [crypto.SignatureSize]byte

// MarshalText returns lower-case hex.
func (s FieldSig) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(s[:])), nil }

// UnmarshalText accepts exactly 128 lower-case hex characters.
func (s *FieldSig) UnmarshalText(b []byte) error {
	raw, err := hex.DecodeString(string(b))
	if err != nil || len(raw) != crypto.SignatureSize || hex.EncodeToString(raw) != string(b) {
		return fmt.Errorf("signature must be %d lower-case hex characters", 2*crypto.SignatureSize)
	}
	copy(s[:], raw)
	return nil
}

// IsZero reports an absent signature (all zero bytes).
func (s FieldSig) IsZero() bool { return s == FieldSig{} }

// FieldMember is one member of a field and the deposit it locks.
type FieldMember struct {
	Key     crypto.PublicKey `json:"key"`
	Deposit uint64           `json:"deposit"`
}

// FieldTerms are what every member agrees to by signing its join.
type FieldTerms struct {
	FieldID crypto.Hash      `json:"field_id"`
	Leader  crypto.PublicKey `json:"leader"`
	Members []FieldMember    `json:"members"`
	// ChallengePeriod is how many blocks a pending close stays open to
	// challenges and disputes.
	ChallengePeriod uint64 `json:"challenge_period"`
	// Expiry is the last height at which a close may be submitted; from
	// Expiry+1 on the chain treats the field as closed at state 0.
	Expiry uint64 `json:"expiry"`
	// Penalty is what a member whose close is proven stale or wrong pays
	// the member who proved it (capped at its final balance).
	Penalty uint64 `json:"penalty"`
}

// FieldOpen opens a field. The sender is the leader and must be a member;
// Joins holds each member's signature over JoinSignBytes, in member order.
type FieldOpen struct {
	FieldTerms
	Joins []FieldSig `json:"joins"`
}

// FieldStateClaim names a numbered state of a field: State payments whose
// RFC 6962 root is Root, the balances they leave, and the members'
// signatures (in member order).
type FieldStateClaim struct {
	FieldID    crypto.Hash `json:"field_id"`
	State      uint64      `json:"state"`
	Root       crypto.Hash `json:"root"`
	Balances   []uint64    `json:"balances"`
	Signatures []FieldSig  `json:"signatures"`
}

// FieldClose is the cooperative close: every member signed CloseSignBytes
// (state, root, member list and these balances). It is final: no challenge
// replaces it, only a dispute can correct its balances.
type FieldClose struct{ FieldStateClaim }

// FieldCloseUnilateral closes with the latest state every member signed
// (StateSignBytes); the balances are the sender's claim about that state.
type FieldCloseUnilateral struct{ FieldStateClaim }

// FieldChallenge replaces a pending unilateral close with a later state every
// member signed; the member that closed with the stale state pays the penalty.
type FieldChallenge struct{ FieldStateClaim }

// FieldDispute proves the last payment of the pending state (its leaf and an
// inclusion proof against the pending root); the balances after that payment
// become the field's balances.
type FieldDispute struct {
	FieldID crypto.Hash  `json:"field_id"`
	Payment FieldPayment `json:"payment"`
	Proof   merkle.Proof `json:"proof"`
}

// FieldPayment is one entry of a field's payment log: the payer's signed
// payment, the position the leader gave it, and every member's balance
// after it. Its leaf in the field's Merkle tree is SHA-256 of Encode().
type FieldPayment struct {
	Seq      uint64   `json:"seq"` // position in the log, from 1
	From     uint16   `json:"from"`
	To       uint16   `json:"to"`
	Amount   uint64   `json:"amount"`
	PayerSeq uint64   `json:"payer_seq"` // the payer's own counter, from 1
	PayerSig FieldSig `json:"payer_sig"` // over PaymentSignBytes
	Balances []uint64 `json:"balances"`  // every member's balance after it
}

func (*FieldOpen) TxType() TxType            { return TxFieldOpen }
func (*FieldClose) TxType() TxType           { return TxFieldClose }
func (*FieldCloseUnilateral) TxType() TxType { return TxFieldCloseUnilateral }
func (*FieldChallenge) TxType() TxType       { return TxFieldChallenge }
func (*FieldDispute) TxType() TxType         { return TxFieldDispute }

// --- encoding -----------------------------------------------------------

func encodeSigs(e *canon.Encoder, s []FieldSig) {
	e.U16(uint16(len(s)))
	for i := range s {
		e.Fixed(s[i][:])
	}
}

func decodeSigs(d *canon.Decoder, what string) []FieldSig {
	n := int(d.U16(what))
	if n > MaxFieldMembers {
		d.Fail("%s: %d entries, limit %d", what, n, MaxFieldMembers)
		return nil
	}
	out := make([]FieldSig, n)
	for i := range out {
		d.Fixed(out[i][:], what)
	}
	return out
}

func encodeU64s(e *canon.Encoder, v []uint64) {
	e.U16(uint16(len(v)))
	for _, x := range v {
		e.U64(x)
	}
}

func decodeU64s(d *canon.Decoder, what string) []uint64 {
	n := int(d.U16(what))
	if n > MaxFieldMembers {
		d.Fail("%s: %d entries, limit %d", what, n, MaxFieldMembers)
		return nil
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = d.U64(what)
	}
	return out
}

func (t *FieldTerms) encode(e *canon.Encoder) {
	e.Fixed(t.FieldID[:])
	e.Fixed(t.Leader[:])
	e.U16(uint16(len(t.Members)))
	for _, m := range t.Members {
		e.Fixed(m.Key[:])
		e.U64(m.Deposit)
	}
	e.U64(t.ChallengePeriod)
	e.U64(t.Expiry)
	e.U64(t.Penalty)
}

func (t *FieldTerms) decode(d *canon.Decoder) {
	d.Fixed(t.FieldID[:], "field_id")
	d.Fixed(t.Leader[:], "leader")
	n := int(d.U16("members"))
	if n > MaxFieldMembers {
		d.Fail("members: %d entries, limit %d", n, MaxFieldMembers)
		return
	}
	t.Members = make([]FieldMember, n)
	for i := range t.Members {
		d.Fixed(t.Members[i].Key[:], "member key")
		t.Members[i].Deposit = d.U64("deposit")
	}
	t.ChallengePeriod = d.U64("challenge_period")
	t.Expiry = d.U64("expiry")
	t.Penalty = d.U64("penalty")
}

func (p *FieldOpen) encode(e *canon.Encoder) { p.FieldTerms.encode(e); encodeSigs(e, p.Joins) }
func (p *FieldOpen) decode(d *canon.Decoder) {
	p.FieldTerms.decode(d)
	p.Joins = decodeSigs(d, "joins")
}

func (c *FieldStateClaim) encode(e *canon.Encoder) {
	e.Fixed(c.FieldID[:])
	e.U64(c.State)
	e.Fixed(c.Root[:])
	encodeU64s(e, c.Balances)
	encodeSigs(e, c.Signatures)
}

func (c *FieldStateClaim) decode(d *canon.Decoder) {
	d.Fixed(c.FieldID[:], "field_id")
	c.State = d.U64("state")
	d.Fixed(c.Root[:], "root")
	c.Balances = decodeU64s(d, "balances")
	c.Signatures = decodeSigs(d, "signatures")
}

// Encode returns the payment's canonical bytes (its leaf is their SHA-256).
func (p *FieldPayment) Encode() []byte {
	e := canon.Encoder{B: make([]byte, 0, 96+8*len(p.Balances))}
	p.encode(&e)
	return e.B
}

// LeafHash is the payment's entry in the field's payment tree: SHA-256 of
// its canonical bytes (merkle then hashes it as an RFC 6962 leaf).
func (p *FieldPayment) LeafHash() crypto.Hash { return crypto.Sum(p.Encode()) }

func (p *FieldPayment) encode(e *canon.Encoder) {
	e.U64(p.Seq)
	e.U16(p.From)
	e.U16(p.To)
	e.U64(p.Amount)
	e.U64(p.PayerSeq)
	e.Fixed(p.PayerSig[:])
	encodeU64s(e, p.Balances)
}

func (p *FieldPayment) decode(d *canon.Decoder) {
	p.Seq = d.U64("seq")
	p.From = d.U16("from")
	p.To = d.U16("to")
	p.Amount = d.U64("amount")
	p.PayerSeq = d.U64("payer_seq")
	d.Fixed(p.PayerSig[:], "payer_sig")
	p.Balances = decodeU64s(d, "balances")
}

// DecodeFieldPayment parses a payment's canonical bytes.
func DecodeFieldPayment(b []byte) (*FieldPayment, error) {
	d := canon.NewDecoder(b, "field payment", ErrNonCanonical)
	p := &FieldPayment{}
	p.decode(d)
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *FieldDispute) encode(e *canon.Encoder) {
	e.Fixed(p.FieldID[:])
	p.Payment.encode(e)
	e.U64(p.Proof.Index)
	e.U64(p.Proof.Size)
	e.U16(uint16(len(p.Proof.Path)))
	for _, h := range p.Proof.Path {
		e.Fixed(h[:])
	}
}

func (p *FieldDispute) decode(d *canon.Decoder) {
	d.Fixed(p.FieldID[:], "field_id")
	p.Payment.decode(d)
	p.Proof.Index = d.U64("proof index")
	p.Proof.Size = d.U64("proof size")
	n := int(d.U16("proof path"))
	if n > MaxFieldProofPath {
		d.Fail("proof path: %d hashes, limit %d", n, MaxFieldProofPath)
		return
	}
	p.Proof.Path = make([]crypto.Hash, n)
	for i := range p.Proof.Path {
		d.Fixed(p.Proof.Path[i][:], "proof path")
	}
}

func (p *FieldClose) encode(e *canon.Encoder)           { p.FieldStateClaim.encode(e) }
func (p *FieldClose) decode(d *canon.Decoder)           { p.FieldStateClaim.decode(d) }
func (p *FieldCloseUnilateral) encode(e *canon.Encoder) { p.FieldStateClaim.encode(e) }
func (p *FieldCloseUnilateral) decode(d *canon.Decoder) { p.FieldStateClaim.decode(d) }
func (p *FieldChallenge) encode(e *canon.Encoder)       { p.FieldStateClaim.encode(e) }
func (p *FieldChallenge) decode(d *canon.Decoder)       { p.FieldStateClaim.decode(d) }

// --- well-formedness ----------------------------------------------------

func (t *FieldTerms) wellFormed() error {
	if t.FieldID.IsZero() {
		return Errf(CodeMalformed, "field_id must not be zero")
	}
	if n := len(t.Members); n < 2 || n > MaxFieldMembers {
		return Errf(CodeMalformed, "a field has 2..%d members, not %d", MaxFieldMembers, n)
	}
	seen := make(map[crypto.PublicKey]bool, len(t.Members))
	leader := false
	var total uint64
	for i, m := range t.Members {
		if seen[m.Key] {
			return Errf(CodeMalformed, "member %d (%s) is listed twice", i, m.Key)
		}
		seen[m.Key] = true
		leader = leader || m.Key == t.Leader
		if total+m.Deposit < total {
			return Errf(CodeMalformed, "deposits overflow")
		}
		total += m.Deposit
	}
	if !leader {
		return Errf(CodeMalformed, "the leader %s is not a member", t.Leader)
	}
	if total == 0 {
		return Errf(CodeMalformed, "deposits must not all be zero")
	}
	if t.ChallengePeriod == 0 || t.ChallengePeriod > MaxChallengePeriod {
		return Errf(CodeMalformed, "challenge_period must be 1..%d blocks", MaxChallengePeriod)
	}
	if t.Expiry == 0 || t.Expiry > 1<<62 {
		return Errf(CodeMalformed, "expiry must be a height in 1..2^62")
	}
	return nil
}

// Check checks the terms' rules that hold whatever the chain (what
// field.open's well-formedness checks of them).
func (t *FieldTerms) Check() error { return t.wellFormed() }

// Total is the sum of the deposits (wellFormed ensures it does not overflow).
func (t *FieldTerms) Total() uint64 {
	var s uint64
	for _, m := range t.Members {
		s += m.Deposit
	}
	return s
}

// Index returns the member index of k, or -1.
func (t *FieldTerms) Index(k crypto.PublicKey) int {
	for i, m := range t.Members {
		if m.Key == k {
			return i
		}
	}
	return -1
}

func (p *FieldOpen) wellFormed() error {
	if err := p.FieldTerms.wellFormed(); err != nil {
		return err
	}
	if len(p.Joins) != len(p.Members) {
		return Errf(CodeMalformed, "%d join signatures for %d members", len(p.Joins), len(p.Members))
	}
	return nil
}

func (c *FieldStateClaim) wellFormed() error {
	if c.FieldID.IsZero() {
		return Errf(CodeMalformed, "field_id must not be zero")
	}
	if n := len(c.Balances); n < 2 {
		return Errf(CodeMalformed, "balances: %d entries, a field has at least 2 members", n)
	}
	if len(c.Balances) > MaxFieldMembers {
		return Errf(CodeMalformed, "balances: %d entries, limit %d", len(c.Balances), MaxFieldMembers)
	}
	if len(c.Signatures) != len(c.Balances) {
		return Errf(CodeMalformed, "%d signatures for %d balances: one per member", len(c.Signatures), len(c.Balances))
	}
	return nil
}

func (p *FieldClose) wellFormed() error           { return p.FieldStateClaim.wellFormed() }
func (p *FieldCloseUnilateral) wellFormed() error { return p.FieldStateClaim.wellFormed() }
func (p *FieldChallenge) wellFormed() error {
	if err := p.FieldStateClaim.wellFormed(); err != nil {
		return err
	}
	if p.State == 0 {
		return Errf(CodeMalformed, "a challenge needs a state after 0")
	}
	return nil
}

func (p *FieldDispute) wellFormed() error {
	if p.FieldID.IsZero() {
		return Errf(CodeMalformed, "field_id must not be zero")
	}
	if p.Payment.Seq == 0 || p.Payment.PayerSeq == 0 {
		return Errf(CodeMalformed, "payment seq and payer_seq start at 1")
	}
	if p.Payment.Amount == 0 || p.Payment.From == p.Payment.To {
		return Errf(CodeMalformed, "a payment moves a positive amount between two members")
	}
	if n := len(p.Payment.Balances); n < 2 || n > MaxFieldMembers {
		return Errf(CodeMalformed, "payment balances: 2..%d members, not %d", MaxFieldMembers, n)
	}
	if len(p.Proof.Path) > MaxFieldProofPath {
		return Errf(CodeMalformed, "proof path: %d hashes, limit %d", len(p.Proof.Path), MaxFieldProofPath)
	}
	if p.Proof.Index >= p.Proof.Size {
		return Errf(CodeMalformed, "proof index %d is not below its size %d", p.Proof.Index, p.Proof.Size)
	}
	return nil
}

// --- signed byte strings ------------------------------------------------

// MembersHash is SHA-256 of the member list (keys and deposits, in order):
// what a state commitment binds the root to.
func (t *FieldTerms) MembersHash() crypto.Hash {
	e := canon.Encoder{B: make([]byte, 0, 2+40*len(t.Members))}
	e.U16(uint16(len(t.Members)))
	for _, m := range t.Members {
		e.Fixed(m.Key[:])
		e.U64(m.Deposit)
	}
	return crypto.Sum(e.B)
}

// JoinSignBytes is what each member signs to join (domain cairn/field/join/v1):
// the chain id and the whole of the terms.
func JoinSignBytes(chainID string, t *FieldTerms) []byte {
	e := canon.Encoder{B: make([]byte, 0, 128+40*len(t.Members))}
	e.Bytes16([]byte(chainID))
	t.encode(&e)
	return e.B
}

// Commitment is the state commitment every member signs (domain
// cairn/field/state/v1): SHA-256 over the chain id, field id, state number,
// payment root and members hash.
func Commitment(chainID string, fieldID crypto.Hash, state uint64, root, members crypto.Hash) crypto.Hash {
	e := canon.Encoder{B: make([]byte, 0, 120)}
	e.Bytes16([]byte(chainID))
	e.Fixed(fieldID[:])
	e.U64(state)
	e.Fixed(root[:])
	e.Fixed(members[:])
	return crypto.Sum(e.B)
}

// StateSignBytes is what a member signs to co-sign a state: the commitment.
func StateSignBytes(commitment crypto.Hash) []byte { return commitment[:] }

// CloseSignBytes is what a member signs to close cooperatively (domain
// cairn/field/settle/v1): the commitment followed by the final balances.
func CloseSignBytes(commitment crypto.Hash, balances []uint64) []byte {
	e := canon.Encoder{B: make([]byte, 0, 34+8*len(balances))}
	e.Fixed(commitment[:])
	encodeU64s(&e, balances)
	return e.B
}

// PaymentSignBytes is what a payer signs for one payment (domain
// cairn/field/payment/v1): chain id, field id, payer and payee indexes,
// amount and the payer's own sequence number.
func PaymentSignBytes(chainID string, fieldID crypto.Hash, from, to uint16, amount, payerSeq uint64) []byte {
	e := canon.Encoder{B: make([]byte, 0, 80)}
	e.Bytes16([]byte(chainID))
	e.Fixed(fieldID[:])
	e.U16(from)
	e.U16(to)
	e.U64(amount)
	e.U64(payerSeq)
	return e.B
}

// --- state entry --------------------------------------------------------

const stateFieldPrefix, stateMemberPrefix, stateFieldDuePrefix = 'f', 'm', 'q'

// FieldKey is the state key of a field.
func FieldKey(id crypto.Hash) []byte { return append([]byte{stateFieldPrefix}, id[:]...) }

// FieldMemberKey is the state key naming the open field an account is in
// (32 bytes of field id; empty when it is in none).
func FieldMemberKey(a crypto.Address) []byte { return append([]byte{stateMemberPrefix}, a[:]...) }

// FieldDueKey is the state key listing the fields due for a step (expiry or
// settlement) at the start of the block at height h.
func FieldDueKey(h uint64) []byte {
	e := canon.Encoder{B: []byte{stateFieldDuePrefix}}
	e.U64(h)
	return e.B
}

// Field status values.
const (
	FieldOpenStatus    = "open"
	FieldClosingStatus = "closing"
	FieldSettledStatus = "settled"
)

// Kinds of pending close.
const (
	CloseCooperative = "cooperative"
	CloseUnilateral  = "unilateral"
	CloseChallenge   = "challenge"
	CloseExpiry      = "expiry"
	CloseDispute     = "dispute"
)

var fieldStatuses = []string{FieldOpenStatus, FieldClosingStatus, FieldSettledStatus}
var closeKinds = []string{CloseCooperative, CloseUnilateral, CloseChallenge, CloseExpiry, CloseDispute}

// FieldPending is a field's pending close: the state, the balances claimed
// for it, who is answerable for them, and the deadline.
type FieldPending struct {
	Kind      string      `json:"kind"`
	State     uint64      `json:"state"`
	Root      crypto.Hash `json:"root"`
	Balances  []uint64    `json:"balances"`
	Submitter uint16      `json:"submitter"` // member index, or NoMember
	Height    uint64      `json:"height"`    // when this close (or its last correction) was recorded
	TxHash    crypto.Hash `json:"tx_hash"`   // zero for the state assumed at expiry
	Deadline  uint64      `json:"deadline"`  // last height for challenges and disputes
}

// FieldPenalty is a penalty owed: From pays To up to Amount at settlement.
type FieldPenalty struct {
	From   uint16 `json:"from"`
	To     uint16 `json:"to"`
	Amount uint64 `json:"amount"`
	Reason string `json:"reason"` // "stale_state" or "wrong_balances"
}

// Field is a field's state entry.
type Field struct {
	FieldTerms
	Status    string         `json:"status"`
	OpenedAt  uint64         `json:"opened_at"`
	OpenTx    crypto.Hash    `json:"open_tx"`
	Due       uint64         `json:"due"` // height at whose start the chain takes the next step
	Pending   *FieldPending  `json:"pending,omitempty"`
	Penalties []FieldPenalty `json:"penalties"`
	Final     []uint64       `json:"final,omitempty"` // what each member was paid at settlement
	SettledAt uint64         `json:"settled_at,omitempty"`
}

// Deadline is the last height at which the entry can still change by a
// member's transaction: the expiry while the field is open, the pending
// close's deadline for challenges and disputes while it is closing, 0 once
// settled.
func (f *Field) Deadline() uint64 {
	switch f.Status {
	case FieldOpenStatus:
		return f.Expiry
	case FieldClosingStatus:
		if f.Pending != nil {
			return f.Pending.Deadline
		}
	}
	return 0
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// Encode returns the canonical bytes of the entry.
func (f *Field) Encode() []byte {
	e := canon.Encoder{B: make([]byte, 0, 256+64*len(f.Members))}
	f.FieldTerms.encode(&e)
	e.U8(uint8(indexOf(fieldStatuses, f.Status)))
	e.U64(f.OpenedAt)
	e.Fixed(f.OpenTx[:])
	e.U64(f.Due)
	e.Bool(f.Pending != nil)
	if p := f.Pending; p != nil {
		e.U8(uint8(indexOf(closeKinds, p.Kind)))
		e.U64(p.State)
		e.Fixed(p.Root[:])
		encodeU64s(&e, p.Balances)
		e.U16(p.Submitter)
		e.U64(p.Height)
		e.Fixed(p.TxHash[:])
		e.U64(p.Deadline)
	}
	e.U16(uint16(len(f.Penalties)))
	for _, p := range f.Penalties {
		e.U16(p.From)
		e.U16(p.To)
		e.U64(p.Amount)
		e.Bytes16([]byte(p.Reason))
	}
	encodeU64s(&e, f.Final)
	e.U64(f.SettledAt)
	return e.B
}

// DecodeField parses a field entry.
func DecodeField(b []byte) (*Field, error) {
	d := canon.NewDecoder(b, "field", ErrNonCanonical)
	f := &Field{}
	f.FieldTerms.decode(d)
	st := int(d.U8("status"))
	if d.Err() == nil && st >= len(fieldStatuses) {
		d.Fail("unknown status %d", st)
		return nil, d.Err()
	}
	f.OpenedAt = d.U64("opened_at")
	d.Fixed(f.OpenTx[:], "open_tx")
	f.Due = d.U64("due")
	if d.Bool("pending") {
		p := &FieldPending{}
		k := int(d.U8("kind"))
		if d.Err() == nil && k >= len(closeKinds) {
			d.Fail("unknown close kind %d", k)
			return nil, d.Err()
		}
		if d.Err() == nil {
			p.Kind = closeKinds[k]
		}
		p.State = d.U64("state")
		d.Fixed(p.Root[:], "root")
		p.Balances = decodeU64s(d, "balances")
		p.Submitter = d.U16("submitter")
		p.Height = d.U64("height")
		d.Fixed(p.TxHash[:], "tx_hash")
		p.Deadline = d.U64("deadline")
		f.Pending = p
	}
	n := int(d.U16("penalties"))
	if n > 1<<12 {
		d.Fail("%d penalties", n)
	}
	for i := 0; i < n && d.Err() == nil; i++ {
		f.Penalties = append(f.Penalties, FieldPenalty{From: d.U16("from"), To: d.U16("to"), Amount: d.U64("amount"), Reason: string(d.Bytes16("reason", 64))})
	}
	f.Final = decodeU64s(d, "final")
	if len(f.Final) == 0 {
		f.Final = nil
	}
	f.SettledAt = d.U64("settled_at")
	if err := d.Finish(); err != nil {
		return nil, err
	}
	if f.Penalties == nil {
		f.Penalties = []FieldPenalty{}
	}
	f.Status = fieldStatuses[st]
	return f, nil
}

// EncodeFieldIDs returns the canonical bytes of a list of field ids (the
// value under FieldDueKey).
func EncodeFieldIDs(ids []crypto.Hash) []byte {
	e := canon.Encoder{B: make([]byte, 0, 4+32*len(ids))}
	e.U32(uint32(len(ids)))
	for _, id := range ids {
		e.Fixed(id[:])
	}
	return e.B
}

// DecodeFieldIDs parses EncodeFieldIDs' bytes (empty bytes are no ids).
func DecodeFieldIDs(b []byte) ([]crypto.Hash, error) {
	if len(b) == 0 {
		return nil, nil
	}
	d := canon.NewDecoder(b, "field ids", ErrNonCanonical)
	n := int(d.U32("count"))
	if d.Err() == nil && n > d.Remaining()/32 {
		d.Fail("count %d exceeds the bytes", n)
	}
	var ids []crypto.Hash
	for i := 0; i < n && d.Err() == nil; i++ {
		var h crypto.Hash
		d.Fixed(h[:], "id")
		ids = append(ids, h)
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return ids, nil
}

// VerifyFieldSig checks one member signature under domain.
func VerifyFieldSig(k crypto.PublicKey, domain string, msg []byte, s FieldSig) bool {
	if k.SmallOrder() {
		return false
	}
	return crypto.Verify(k, domain, msg, s[:])
}

// errMissingSig is the text used when a signature is absent.
var errMissingSig = errors.New("missing signature")

// CheckMemberSigs checks one signature per member over msg under domain. An
// all-zero signature is reported as missing.
func CheckMemberSigs(members []FieldMember, domain string, msg []byte, sigs []FieldSig, what string) error {
	if len(sigs) != len(members) {
		return Errf(CodeInvalid, "%s: %d signatures for %d members", what, len(sigs), len(members))
	}
	for i, m := range members {
		if sigs[i].IsZero() {
			return Errf(CodeInvalid, "%s: member %d (%s): %v", what, i, m.Key, errMissingSig)
		}
		if !VerifyFieldSig(m.Key, domain, msg, sigs[i]) {
			return Errf(CodeInvalid, "%s: signature of member %d (%s) does not verify: it signed something else (another root, state, member list or balances)", what, i, m.Key)
		}
	}
	return nil
}
