package execute

import (
	"fmt"
	"slices"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/types"
)

// Payment-field rules (docs/payment-fields.md, "Rules on chain"). Every
// check runs before anything is written; a failed check is a failed receipt
// that changes nothing. Heights are the only clock: a close may be submitted
// up to the field's expiry, challenges and disputes up to the pending
// close's deadline, and the chain itself takes the next step (expiry, then
// settlement) at the start of the block after, in dueFields.

// fieldTx applies one field transaction for sender (whose account the caller
// writes: deposits and credits of the sender go to *acct).
func (x *executor) fieldTx(tx *types.Tx, h crypto.Hash, acct *types.Account) ([]Write, error) {
	switch p := tx.Payload.(type) {
	case *types.FieldOpen:
		return x.fieldOpen(tx, p, h, acct)
	}
	f, key, err := x.loadField(fieldIDOf(tx.Payload))
	if err != nil {
		return nil, err
	}
	if f.Status == types.FieldSettledStatus {
		return nil, types.Errf(types.CodeInvalid, "field %s was settled at height %d", f.FieldID, f.SettledAt)
	}
	switch p := tx.Payload.(type) {
	case *types.FieldClose:
		err = x.fieldClose(tx, f, &p.FieldStateClaim, h)
	case *types.FieldCloseUnilateral:
		err = x.fieldUnilateral(tx, f, &p.FieldStateClaim, h)
	case *types.FieldChallenge:
		err = x.fieldChallenge(tx, f, &p.FieldStateClaim, h)
	case *types.FieldDispute:
		err = x.fieldDispute(tx, f, p, h)
	default:
		return nil, types.Errf(types.CodeUnknownType, "unknown field payload %T", p)
	}
	if err != nil {
		return nil, err
	}
	writes := []Write{{Key: key, Value: f.Encode()}}
	if f.Pending != nil && f.Due == f.Pending.Deadline+1 {
		w, err := x.addDue(f.Due, f.FieldID)
		if err != nil {
			return nil, err
		}
		writes = append(writes, w...)
	}
	return writes, nil
}

func fieldIDOf(p types.Payload) crypto.Hash {
	switch p := p.(type) {
	case *types.FieldClose:
		return p.FieldID
	case *types.FieldCloseUnilateral:
		return p.FieldID
	case *types.FieldChallenge:
		return p.FieldID
	case *types.FieldDispute:
		return p.FieldID
	}
	return crypto.Hash{}
}

func (x *executor) loadField(id crypto.Hash) (*types.Field, []byte, error) {
	k := types.FieldKey(id)
	e, err := x.get(k)
	if err != nil {
		return nil, k, err
	}
	if !e.found {
		return nil, k, types.Errf(types.CodeNotFound, "no field %s", id)
	}
	f, err := types.DecodeField(e.raw)
	if err != nil {
		return nil, k, fmt.Errorf("field %s: %w", id, err)
	}
	return f, k, nil
}

// addDue adds id to the fields due at height h (idempotent).
func (x *executor) addDue(h uint64, id crypto.Hash) ([]Write, error) {
	k := types.FieldDueKey(h)
	e, err := x.get(k)
	if err != nil {
		return nil, err
	}
	var ids []crypto.Hash
	if e.found {
		if ids, err = types.DecodeFieldIDs(e.raw); err != nil {
			return nil, fmt.Errorf("fields due at %d: %w", h, err)
		}
	}
	if slices.Contains(ids, id) {
		return nil, nil
	}
	return []Write{{Key: k, Value: types.EncodeFieldIDs(append(ids, id))}}, nil
}

func (x *executor) fieldOpen(tx *types.Tx, p *types.FieldOpen, h crypto.Hash, acct *types.Account) ([]Write, error) {
	if p.Leader != tx.Sender {
		return nil, types.Errf(types.CodeInvalid, "field.open must be sent by its leader %s", p.Leader)
	}
	if p.Expiry <= x.height {
		return nil, types.Errf(types.CodeInvalid, "expiry %d is not after this block's height %d", p.Expiry, x.height)
	}
	fk := types.FieldKey(p.FieldID)
	if e, err := x.get(fk); err != nil {
		return nil, err
	} else if e.found {
		return nil, types.Errf(types.CodeInvalid, "field id %s is already used", p.FieldID)
	}
	if err := types.CheckMemberSigs(p.Members, crypto.DomainFieldJoin, types.JoinSignBytes(x.chainID, &p.FieldTerms), p.Joins, "join"); err != nil {
		return nil, err
	}
	sender := tx.Sender.Address()
	var writes []Write
	for i, m := range p.Members {
		a := m.Key.Address()
		mk := types.FieldMemberKey(a)
		e, err := x.get(mk)
		if err != nil {
			return nil, err
		}
		if e.found && len(e.raw) != 0 {
			var in crypto.Hash
			copy(in[:], e.raw)
			return nil, types.Errf(types.CodeInvalid, "member %d (%s) is already in open field %s", i, m.Key, in)
		}
		if a == sender {
			if acct.Balance < m.Deposit {
				return nil, types.Errf(types.CodeInsufficientBalance, "member %d (%s): balance %d, deposit %d", i, m.Key, acct.Balance, m.Deposit)
			}
			acct.Balance -= m.Deposit
		} else {
			acc, ak, err := x.account(a)
			if err != nil {
				return nil, err
			}
			if acc.Balance < m.Deposit {
				return nil, types.Errf(types.CodeInsufficientBalance, "member %d (%s): balance %d, deposit %d", i, m.Key, acc.Balance, m.Deposit)
			}
			acc.Balance -= m.Deposit
			writes = append(writes, Write{Key: ak, Value: acc.Encode()})
		}
		writes = append(writes, Write{Key: mk, Value: append([]byte(nil), p.FieldID[:]...)})
	}
	f := &types.Field{FieldTerms: p.FieldTerms, Status: types.FieldOpenStatus, OpenedAt: x.height, OpenTx: h,
		Due: p.Expiry + 1, Penalties: []types.FieldPenalty{}}
	writes = append(writes, Write{Key: fk, Value: f.Encode()})
	due, err := x.addDue(f.Due, f.FieldID)
	if err != nil {
		return nil, err
	}
	return append(writes, due...), nil
}

// checkBalances checks a claimed balance list against the field's deposits.
func checkBalances(f *types.Field, b []uint64, what string) error {
	if len(b) != len(f.Members) {
		return types.Errf(types.CodeInvalid, "%s: %d balances for %d members", what, len(b), len(f.Members))
	}
	var sum uint64
	for _, v := range b {
		if sum+v < sum {
			return types.Errf(types.CodeInvalid, "%s: balances overflow", what)
		}
		sum += v
	}
	if total := f.Total(); sum != total {
		return types.Errf(types.CodeInvalid, "%s: balances sum to %d, deposits total %d", what, sum, total)
	}
	return nil
}

var emptyRoot = merkle.RootOfHashes(nil)

// checkState checks a state claim co-signed under the state domain. State 0
// is the deposits: it needs no signatures, the empty root and the deposits
// as balances.
func (x *executor) checkState(f *types.Field, c *types.FieldStateClaim, what string) error {
	if err := checkBalances(f, c.Balances, what); err != nil {
		return err
	}
	if c.State == 0 {
		if c.Root != emptyRoot {
			return types.Errf(types.CodeInvalid, "%s: state 0 has no payments, so its root is the empty root %s", what, emptyRoot)
		}
		for i, m := range f.Members {
			if c.Balances[i] != m.Deposit {
				return types.Errf(types.CodeInvalid, "%s: state 0 balances are the deposits; member %d has %d, deposited %d", what, i, c.Balances[i], m.Deposit)
			}
		}
		return nil
	}
	cm := types.Commitment(x.chainID, f.FieldID, c.State, c.Root, f.MembersHash())
	return types.CheckMemberSigs(f.Members, crypto.DomainFieldState, types.StateSignBytes(cm), c.Signatures, fmt.Sprintf("%s: state %d", what, c.State))
}

func memberOf(f *types.Field, k crypto.PublicKey, what string) (uint16, error) {
	i := f.Index(k)
	if i < 0 {
		return 0, types.Errf(types.CodeInvalid, "%s: sender %s is not a member of field %s", what, k, f.FieldID)
	}
	return uint16(i), nil
}

func (x *executor) fieldClose(tx *types.Tx, f *types.Field, c *types.FieldStateClaim, h crypto.Hash) error {
	const what = "field.close"
	deadline := x.height + f.ChallengePeriod
	switch {
	case f.Status == types.FieldOpenStatus && x.height > f.Expiry:
		return types.Errf(types.CodeInvalid, "%s: field expired at height %d", what, f.Expiry)
	case f.Status == types.FieldClosingStatus:
		p := f.Pending
		if p.Kind == types.CloseCooperative {
			return types.Errf(types.CodeInvalid, "%s: field %s is already closed cooperatively", what, f.FieldID)
		}
		if x.height > p.Deadline {
			return types.Errf(types.CodeInvalid, "%s: the challenge period ended at height %d", what, p.Deadline)
		}
		if c.State < p.State {
			return types.Errf(types.CodeInvalid, "%s: state %d is before the pending state %d", what, c.State, p.State)
		}
		deadline = p.Deadline
	}
	if err := checkBalances(f, c.Balances, what); err != nil {
		return err
	}
	if c.State == 0 && c.Root != emptyRoot {
		return types.Errf(types.CodeInvalid, "%s: state 0 has no payments, so its root is the empty root %s", what, emptyRoot)
	}
	cm := types.Commitment(x.chainID, f.FieldID, c.State, c.Root, f.MembersHash())
	if err := types.CheckMemberSigs(f.Members, crypto.DomainFieldClose, types.CloseSignBytes(cm, c.Balances), c.Signatures, what); err != nil {
		return err
	}
	f.Status = types.FieldClosingStatus
	f.Pending = &types.FieldPending{Kind: types.CloseCooperative, State: c.State, Root: c.Root, Balances: c.Balances,
		Submitter: types.NoMember, Height: x.height, TxHash: h, Deadline: deadline}
	f.Due = deadline + 1
	return nil
}

func (x *executor) fieldUnilateral(tx *types.Tx, f *types.Field, c *types.FieldStateClaim, h crypto.Hash) error {
	const what = "field.close_unilateral"
	idx, err := memberOf(f, tx.Sender, what)
	if err != nil {
		return err
	}
	if f.Status != types.FieldOpenStatus {
		return types.Errf(types.CodeInvalid, "%s: a close is already pending (deadline %d); a later state goes in a field.challenge", what, f.Pending.Deadline)
	}
	if x.height > f.Expiry {
		return types.Errf(types.CodeInvalid, "%s: field expired at height %d", what, f.Expiry)
	}
	if err := x.checkState(f, c, what); err != nil {
		return err
	}
	deadline := x.height + f.ChallengePeriod
	f.Status = types.FieldClosingStatus
	f.Pending = &types.FieldPending{Kind: types.CloseUnilateral, State: c.State, Root: c.Root, Balances: c.Balances,
		Submitter: idx, Height: x.height, TxHash: h, Deadline: deadline}
	f.Due = deadline + 1
	return nil
}

// pendingOpen checks that a challenge or dispute may still change the
// pending close.
func (x *executor) pendingOpen(f *types.Field, what string) error {
	if f.Status != types.FieldClosingStatus {
		return types.Errf(types.CodeInvalid, "%s: field %s has no pending close", what, f.FieldID)
	}
	if x.height > f.Pending.Deadline {
		return types.Errf(types.CodeInvalid, "%s: the challenge period ended at height %d", what, f.Pending.Deadline)
	}
	return nil
}

// penalize records what the member answerable for the pending close owes
// the member who proved it stale or wrong (nothing when no member is
// answerable, the penalty is zero, or a member proves itself wrong).
func penalize(f *types.Field, to uint16, reason string) {
	from := f.Pending.Submitter
	if from == types.NoMember || from == to || f.Penalty == 0 {
		return
	}
	f.Penalties = append(f.Penalties, types.FieldPenalty{From: from, To: to, Amount: f.Penalty, Reason: reason})
}

func (x *executor) fieldChallenge(tx *types.Tx, f *types.Field, c *types.FieldStateClaim, h crypto.Hash) error {
	const what = "field.challenge"
	idx, err := memberOf(f, tx.Sender, what)
	if err != nil {
		return err
	}
	if err := x.pendingOpen(f, what); err != nil {
		return err
	}
	p := f.Pending
	if p.Kind == types.CloseCooperative {
		return types.Errf(types.CodeInvalid, "%s: field %s was closed cooperatively (every member signed it as final); only a field.dispute can correct it", what, f.FieldID)
	}
	if c.State <= p.State {
		return types.Errf(types.CodeInvalid, "%s: state %d is not after the pending state %d", what, c.State, p.State)
	}
	if err := x.checkState(f, c, what); err != nil {
		return err
	}
	penalize(f, idx, "stale_state")
	f.Pending = &types.FieldPending{Kind: types.CloseChallenge, State: c.State, Root: c.Root, Balances: c.Balances,
		Submitter: idx, Height: x.height, TxHash: h, Deadline: p.Deadline}
	return nil
}

func (x *executor) fieldDispute(tx *types.Tx, f *types.Field, d *types.FieldDispute, h crypto.Hash) error {
	const what = "field.dispute"
	idx, err := memberOf(f, tx.Sender, what)
	if err != nil {
		return err
	}
	if err := x.pendingOpen(f, what); err != nil {
		return err
	}
	p := f.Pending
	n := p.State
	pm := &d.Payment
	if n == 0 {
		return types.Errf(types.CodeInvalid, "%s: the pending state 0 has no payments to prove", what)
	}
	if pm.Seq != n || d.Proof.Size != n || d.Proof.Index != n-1 {
		return types.Errf(types.CodeInvalid, "%s: only the last payment of the pending state decides its balances: prove seq %d at index %d of %d (got seq %d, index %d of %d)",
			what, n, n-1, n, pm.Seq, d.Proof.Index, d.Proof.Size)
	}
	leaf := pm.LeafHash()
	if err := merkle.Verify(p.Root, leaf[:], d.Proof); err != nil {
		return types.Errf(types.CodeInvalid, "%s: payment %d is not in the pending root: %v", what, n, err)
	}
	m := len(f.Members)
	if int(pm.From) >= m || int(pm.To) >= m {
		return types.Errf(types.CodeInvalid, "%s: payment names member %d or %d of %d", what, pm.From, pm.To, m)
	}
	payer := f.Members[pm.From].Key
	if !types.VerifyFieldSig(payer, crypto.DomainFieldPayment, types.PaymentSignBytes(x.chainID, f.FieldID, pm.From, pm.To, pm.Amount, pm.PayerSeq), pm.PayerSig) {
		return types.Errf(types.CodeInvalid, "%s: the payer's signature on payment %d does not verify", what, n)
	}
	if err := checkBalances(f, pm.Balances, what+": payment balances"); err != nil {
		return err
	}
	if slices.Equal(pm.Balances, p.Balances) {
		return types.Errf(types.CodeInvalid, "%s: the pending balances already equal the balances after payment %d", what, n)
	}
	penalize(f, idx, "wrong_balances")
	p.Balances = slices.Clone(pm.Balances)
	// The submitter stays answerable for the state itself: a later state
	// still proves it stale.
	p.Kind, p.Height, p.TxHash = types.CloseDispute, x.height, h
	return nil
}

// dueFields takes the chain's own steps at the start of the block: a field
// past its expiry with no close pending is treated as closed at state 0 (the
// deposits), open to challenges for one challenge period; a field past its
// pending close's deadline is settled: penalties applied in the order they
// were recorded, each member's final balance credited to its account, and
// every member free to join another field.
func (x *executor) dueFields() ([]Write, error) {
	dk := types.FieldDueKey(x.height)
	e, err := x.get(dk)
	if err != nil || !e.found || len(e.raw) == 0 {
		return nil, err
	}
	ids, err := types.DecodeFieldIDs(e.raw)
	if err != nil {
		return nil, fmt.Errorf("fields due at %d: %w", x.height, err)
	}
	writes := []Write{{Key: dk, Value: []byte{}}}
	x.cache[string(dk)] = &entry{raw: []byte{}, found: true}
	for _, id := range ids {
		f, fk, err := x.loadField(id)
		if err != nil {
			return nil, fmt.Errorf("field due at %d: %w", x.height, err)
		}
		if f.Due != x.height {
			continue // moved on: closed before expiry
		}
		var ws []Write
		switch f.Status {
		case types.FieldOpenStatus:
			deadline := x.height - 1 + f.ChallengePeriod
			bal := make([]uint64, len(f.Members))
			for i, m := range f.Members {
				bal[i] = m.Deposit
			}
			f.Status = types.FieldClosingStatus
			f.Pending = &types.FieldPending{Kind: types.CloseExpiry, Root: emptyRoot, Balances: bal, Submitter: types.NoMember,
				Height: x.height, Deadline: deadline}
			f.Due = deadline + 1
			if ws, err = x.addDue(f.Due, f.FieldID); err != nil {
				return nil, err
			}
		case types.FieldClosingStatus:
			final := slices.Clone(f.Pending.Balances)
			for _, p := range f.Penalties {
				amt := min(p.Amount, final[p.From])
				final[p.From] -= amt
				final[p.To] += amt
			}
			for i, m := range f.Members {
				a := m.Key.Address()
				acc, ak, err := x.account(a)
				if err != nil {
					return nil, err
				}
				if acc.Balance+final[i] < acc.Balance {
					return nil, fmt.Errorf("field %s: member %d balance overflows", f.FieldID, i)
				}
				acc.Balance += final[i]
				ws = append(ws, Write{Key: ak, Value: acc.Encode()}, Write{Key: types.FieldMemberKey(a), Value: []byte{}})
			}
			f.Status, f.Final, f.SettledAt, f.Due = types.FieldSettledStatus, final, x.height, 0
		default:
			continue
		}
		ws = append(ws, Write{Key: fk, Value: f.Encode()})
		for _, w := range ws {
			x.cache[string(w.Key)] = &entry{raw: w.Value, found: true}
		}
		writes = append(writes, ws...)
	}
	return writes, nil
}
