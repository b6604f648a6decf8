// Package field is the off-chain side of Cairn's payment fields
// (docs/payment-fields.md): a group of key holders that locked deposits on
// chain with field.open pays each other here, at the speed of their own
// links, and settles on chain with one co-signed state.
//
// A Book is one member's copy of a field: the payment log the leader
// orders, the balances after every payment, the RFC 6962 tree of the log's
// leaves, and the latest state every member signed. A Store makes a Book
// durable (every record fsynced before it is acknowledged); a Node serves a
// Book to the other members over HTTP with signed messages.
//
// Invariants:
//   - A Book only ever holds a log that the chain's dispute rule accepts:
//     payment i has seq i, a valid payer signature, the payer's own counter
//     one past its previous payment, an amount within the payer's balance,
//     and states every member's balance after it, summing to the deposits.
//   - A member signs a state commitment only for a state number and root
//     its own log reproduces, and a cooperative close only for the whole
//     of its log and the balances it computed itself.
//   - The latest co-signed state only moves forward.
//
// The package builds on the public packages only (client, types, crypto,
// merkle, canon), never on internal/.
package field

import (
	"errors"
	"fmt"
	"slices"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/types"
)

// Errors a Book refuses input with; they wrap into messages naming the detail.
var (
	ErrBadPayment   = errors.New("field: bad payment")
	ErrRootMismatch = errors.New("field: root does not match the payments")
	ErrStaleState   = errors.New("field: state number does not move forward")
	ErrBadSignature = errors.New("field: signature does not verify")
)

// Request is a payment as its payer signs it, before the leader orders it.
type Request struct {
	From     uint16         `json:"from"`
	To       uint16         `json:"to"`
	Amount   uint64         `json:"amount"`
	PayerSeq uint64         `json:"payer_seq"`
	Sig      types.FieldSig `json:"sig"`
}

// SignRequest signs a payment of amount from member from to member to with
// the payer's key k and the payer's next counter payerSeq.
func SignRequest(k *crypto.PrivateKey, chainID string, id crypto.Hash, from, to uint16, amount, payerSeq uint64) Request {
	return Request{From: from, To: to, Amount: amount, PayerSeq: payerSeq,
		Sig: k.Sign(crypto.DomainFieldPayment, types.PaymentSignBytes(chainID, id, from, to, amount, payerSeq))}
}

// Book is one member's copy of a field. It is not safe for concurrent use.
type Book struct {
	ChainID string
	Terms   types.FieldTerms
	members crypto.Hash
	log     []types.FieldPayment
	leaves  []crypto.Hash
	bal     []uint64
	seqs    []uint64 // each member's last payer counter
	latest  types.FieldStateClaim
}

// NewBook starts a copy of the field with terms on chainID, at state 0.
func NewBook(chainID string, terms types.FieldTerms) (*Book, error) {
	if err := terms.Check(); err != nil {
		return nil, fmt.Errorf("field terms: %w", err)
	}
	b := &Book{ChainID: chainID, Terms: terms, members: terms.MembersHash(),
		bal: make([]uint64, len(terms.Members)), seqs: make([]uint64, len(terms.Members))}
	for i, m := range terms.Members {
		b.bal[i] = m.Deposit
	}
	b.latest = b.zeroState()
	return b, nil
}

func (b *Book) zeroState() types.FieldStateClaim {
	return types.FieldStateClaim{FieldID: b.Terms.FieldID, Root: merkle.RootOfHashes(nil),
		Balances: b.deposits(), Signatures: make([]types.FieldSig, len(b.Terms.Members))}
}

func (b *Book) deposits() []uint64 {
	d := make([]uint64, len(b.Terms.Members))
	for i, m := range b.Terms.Members {
		d[i] = m.Deposit
	}
	return d
}

// ID is the field's id.
func (b *Book) ID() crypto.Hash { return b.Terms.FieldID }

// Len is the number of payments in the log (the current state number).
func (b *Book) Len() uint64 { return uint64(len(b.log)) }

// Balances returns every member's balance after the whole log.
func (b *Book) Balances() []uint64 { return slices.Clone(b.bal) }

// BalancesAt returns the balances after the first n payments.
func (b *Book) BalancesAt(n uint64) ([]uint64, error) {
	if n > b.Len() {
		return nil, fmt.Errorf("field: state %d is past the log's %d payments", n, b.Len())
	}
	if n == 0 {
		return b.deposits(), nil
	}
	return slices.Clone(b.log[n-1].Balances), nil
}

// NextPayerSeq is the counter member i's next payment must carry.
func (b *Book) NextPayerSeq(i int) uint64 { return b.seqs[i] + 1 }

// Payment returns payment seq (from 1).
func (b *Book) Payment(seq uint64) (types.FieldPayment, bool) {
	if seq == 0 || seq > b.Len() {
		return types.FieldPayment{}, false
	}
	return b.log[seq-1], true
}

// Payments returns the payments after seq from (a copy of the slice header).
func (b *Book) Payments(from uint64) []types.FieldPayment {
	if from >= b.Len() {
		return nil
	}
	return b.log[from:]
}

// RootAt is the RFC 6962 root of the first n payments' leaves.
func (b *Book) RootAt(n uint64) (crypto.Hash, error) {
	if n > b.Len() {
		return crypto.Hash{}, fmt.Errorf("field: state %d is past the log's %d payments", n, b.Len())
	}
	return merkle.RootOfHashes(b.leaves[:n]), nil
}

// Commitment is the state commitment of state n with root.
func (b *Book) Commitment(n uint64, root crypto.Hash) crypto.Hash {
	return types.Commitment(b.ChainID, b.Terms.FieldID, n, root, b.members)
}

// Latest returns the latest state every member signed (state 0, unsigned,
// before any).
func (b *Book) Latest() types.FieldStateClaim {
	c := b.latest
	c.Balances, c.Signatures = slices.Clone(c.Balances), slices.Clone(c.Signatures)
	return c
}

// next checks request r as payment number Len()+1 and returns the payment
// it becomes; verify=false skips the payer signature (already checked in a
// batch).
func (b *Book) next(r Request, verify bool) (types.FieldPayment, error) {
	n := len(b.Terms.Members)
	seq := b.Len() + 1
	switch {
	case int(r.From) >= n || int(r.To) >= n || r.From == r.To:
		return types.FieldPayment{}, fmt.Errorf("%w %d: from %d to %d in a field of %d members", ErrBadPayment, seq, r.From, r.To, n)
	case r.Amount == 0:
		return types.FieldPayment{}, fmt.Errorf("%w %d: amount must be positive", ErrBadPayment, seq)
	case r.Amount > b.bal[r.From]:
		return types.FieldPayment{}, fmt.Errorf("%w %d: member %d pays %d with a balance of %d", ErrBadPayment, seq, r.From, r.Amount, b.bal[r.From])
	case r.PayerSeq != b.seqs[r.From]+1:
		return types.FieldPayment{}, fmt.Errorf("%w %d: member %d's counter is %d, want %d", ErrBadPayment, seq, r.From, r.PayerSeq, b.seqs[r.From]+1)
	}
	if verify && !b.verifyRequest(r) {
		return types.FieldPayment{}, fmt.Errorf("%w: payer signature of payment %d", ErrBadSignature, seq)
	}
	bal := slices.Clone(b.bal)
	bal[r.From] -= r.Amount
	bal[r.To] += r.Amount
	return types.FieldPayment{Seq: seq, From: r.From, To: r.To, Amount: r.Amount, PayerSeq: r.PayerSeq, PayerSig: r.Sig, Balances: bal}, nil
}

func (b *Book) verifyRequest(r Request) bool {
	return types.VerifyFieldSig(b.Terms.Members[r.From].Key, crypto.DomainFieldPayment,
		types.PaymentSignBytes(b.ChainID, b.Terms.FieldID, r.From, r.To, r.Amount, r.PayerSeq), r.Sig)
}

func (b *Book) push(p types.FieldPayment) {
	b.log = append(b.log, p)
	b.leaves = append(b.leaves, p.LeafHash())
	b.bal = p.Balances
	b.seqs[p.From] = p.PayerSeq
}

// batchVerify checks payer signatures in one batch; ok[i] says whether
// request i's signature verifies.
func (b *Book) batchVerify(rs []Request) []bool {
	bv := crypto.NewBatchVerifier(len(rs))
	ok := make([]bool, len(rs))
	for _, r := range rs {
		if int(r.From) >= len(b.Terms.Members) {
			continue
		}
		bv.Add(b.Terms.Members[r.From].Key, crypto.DomainFieldPayment,
			types.PaymentSignBytes(b.ChainID, b.Terms.FieldID, r.From, r.To, r.Amount, r.PayerSeq), r.Sig[:])
	}
	all, valid := bv.Verify()
	j := 0
	for i, r := range rs {
		if int(r.From) >= len(b.Terms.Members) {
			continue
		}
		ok[i] = all || valid[j]
		j++
	}
	return ok
}

// Order is the leader's step: it numbers the requests in the order given,
// appending each valid one to the log, and returns the payments made and,
// per request, why it was refused (nil when ordered). A refused request
// changes nothing.
func (b *Book) Order(rs []Request) ([]types.FieldPayment, []error) {
	sigOK := b.batchVerify(rs)
	out := make([]types.FieldPayment, 0, len(rs))
	errs := make([]error, len(rs))
	for i, r := range rs {
		if !sigOK[i] {
			errs[i] = fmt.Errorf("%w: payer signature of request %d (member %d, counter %d)", ErrBadSignature, i, r.From, r.PayerSeq)
			continue
		}
		p, err := b.next(r, false)
		if err != nil {
			errs[i] = err
			continue
		}
		b.push(p)
		out = append(out, p)
	}
	return out, errs
}

// Apply is a member's step: it appends payments the leader ordered, after
// checking every one exactly as the chain's dispute rule would (number,
// payer signature, counter, balance, and the stated balances). On error
// nothing is appended.
func (b *Book) Apply(ps []types.FieldPayment) error {
	if len(ps) == 0 {
		return nil
	}
	rs := make([]Request, len(ps))
	for i, p := range ps {
		rs[i] = Request{From: p.From, To: p.To, Amount: p.Amount, PayerSeq: p.PayerSeq, Sig: p.PayerSig}
	}
	sigOK := b.batchVerify(rs)
	saved := struct {
		n    int
		bal  []uint64
		seqs []uint64
	}{len(b.log), b.bal, slices.Clone(b.seqs)}
	for i, p := range ps {
		err := func() error {
			if p.Seq != b.Len()+1 {
				return fmt.Errorf("%w: payment number %d, expected %d", ErrBadPayment, p.Seq, b.Len()+1)
			}
			if !sigOK[i] {
				return fmt.Errorf("%w: payer signature of payment %d", ErrBadSignature, p.Seq)
			}
			want, err := b.next(rs[i], false)
			if err != nil {
				return err
			}
			if !slices.Equal(want.Balances, p.Balances) {
				return fmt.Errorf("%w %d: states balances %v, they are %v", ErrBadPayment, p.Seq, p.Balances, want.Balances)
			}
			b.push(want)
			return nil
		}()
		if err != nil {
			b.log, b.leaves = b.log[:saved.n], b.leaves[:saved.n]
			b.bal, b.seqs = saved.bal, saved.seqs
			return err
		}
	}
	return nil
}

// checkRoot checks that state n of this log has root.
func (b *Book) checkRoot(n uint64, root crypto.Hash) error {
	if n > b.Len() {
		return fmt.Errorf("%w: state %d names payments this member has not seen (it has %d)", ErrRootMismatch, n, b.Len())
	}
	if r, _ := b.RootAt(n); r != root {
		return fmt.Errorf("%w: state %d has root %s here, not %s", ErrRootMismatch, n, r, root)
	}
	return nil
}

// SignState signs the commitment of state n with root, as member k, after
// checking that its own log reproduces root.
func (b *Book) SignState(k *crypto.PrivateKey, n uint64, root crypto.Hash) (types.FieldSig, error) {
	if b.Terms.Index(k.Public()) < 0 {
		return types.FieldSig{}, fmt.Errorf("field: %s is not a member", k.Public())
	}
	if err := b.checkRoot(n, root); err != nil {
		return types.FieldSig{}, err
	}
	return k.Sign(crypto.DomainFieldState, types.StateSignBytes(b.Commitment(n, root))), nil
}

// Accept records a fully signed state after checking every signature, its
// root against the log, and that it moves the latest state forward.
func (b *Book) Accept(c types.FieldStateClaim) error {
	if c.FieldID != b.Terms.FieldID {
		return fmt.Errorf("field: state for field %s, this is %s", c.FieldID, b.Terms.FieldID)
	}
	if c.State <= b.latest.State {
		return fmt.Errorf("%w: state %d, latest co-signed is %d", ErrStaleState, c.State, b.latest.State)
	}
	if err := b.checkRoot(c.State, c.Root); err != nil {
		return err
	}
	if err := types.CheckMemberSigs(b.Terms.Members, crypto.DomainFieldState, types.StateSignBytes(b.Commitment(c.State, c.Root)), c.Signatures, "state"); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	bal, _ := b.BalancesAt(c.State)
	c.Balances = bal
	c.Signatures = slices.Clone(c.Signatures)
	b.latest = c
	return nil
}

// SignClose signs a cooperative close of the whole log with balances, as
// member k: the state must be the log's length, the root its root, and the
// balances those the log leaves.
func (b *Book) SignClose(k *crypto.PrivateKey, n uint64, root crypto.Hash, balances []uint64) (types.FieldSig, error) {
	if b.Terms.Index(k.Public()) < 0 {
		return types.FieldSig{}, fmt.Errorf("field: %s is not a member", k.Public())
	}
	if n != b.Len() {
		return types.FieldSig{}, fmt.Errorf("%w: a close of state %d, but the log has %d payments", ErrRootMismatch, n, b.Len())
	}
	if err := b.checkRoot(n, root); err != nil {
		return types.FieldSig{}, err
	}
	if !slices.Equal(balances, b.bal) {
		return types.FieldSig{}, fmt.Errorf("%w: close balances %v, the log leaves %v", ErrBadPayment, balances, b.bal)
	}
	return k.Sign(crypto.DomainFieldClose, types.CloseSignBytes(b.Commitment(n, root), balances)), nil
}

// Join signs the terms as member k (its join).
func Join(k *crypto.PrivateKey, chainID string, terms *types.FieldTerms) (types.FieldSig, error) {
	if err := terms.Check(); err != nil {
		return types.FieldSig{}, fmt.Errorf("field terms: %w", err)
	}
	if terms.Index(k.Public()) < 0 {
		return types.FieldSig{}, fmt.Errorf("field: %s is not a member of these terms", k.Public())
	}
	return k.Sign(crypto.DomainFieldJoin, types.JoinSignBytes(chainID, terms)), nil
}

// --- transactions -------------------------------------------------------

// OpenPayload is the field.open payload with every member's join.
func (b *Book) OpenPayload(joins []types.FieldSig) *types.FieldOpen {
	return &types.FieldOpen{FieldTerms: b.Terms, Joins: slices.Clone(joins)}
}

// ClosePayload is the cooperative close of the whole log, with every
// member's close signature.
func (b *Book) ClosePayload(sigs []types.FieldSig) *types.FieldClose {
	root, _ := b.RootAt(b.Len())
	return &types.FieldClose{FieldStateClaim: types.FieldStateClaim{FieldID: b.ID(), State: b.Len(), Root: root,
		Balances: b.Balances(), Signatures: slices.Clone(sigs)}}
}

// UnilateralPayload closes with the latest co-signed state and the balances
// this member's log gives it.
func (b *Book) UnilateralPayload() *types.FieldCloseUnilateral {
	return &types.FieldCloseUnilateral{FieldStateClaim: b.Latest()}
}

// ChallengePayload replaces a pending close with the latest co-signed state.
func (b *Book) ChallengePayload() *types.FieldChallenge {
	return &types.FieldChallenge{FieldStateClaim: b.Latest()}
}

// DisputePayload proves the last payment of state n (the pending close's
// state) with its inclusion proof.
func (b *Book) DisputePayload(n uint64) (*types.FieldDispute, error) {
	if n == 0 || n > b.Len() {
		return nil, fmt.Errorf("field: no payment %d to prove (the log has %d)", n, b.Len())
	}
	proof, err := merkle.Prove(b.leaves[:n], int(n-1))
	if err != nil {
		return nil, fmt.Errorf("field: prove payment %d: %w", n, err)
	}
	if proof.Path == nil {
		proof.Path = []crypto.Hash{}
	}
	return &types.FieldDispute{FieldID: b.ID(), Payment: b.log[n-1], Proof: proof}, nil
}
