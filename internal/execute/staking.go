package execute

// Delegated proof of stake (types/staking.go, docs/staking.md): the
// staking transactions and the chain's own staking steps around a block.
//
// Before the first transaction (stakingBegin):
//   - the set history records the set of height h+1 (NextValidatorsKey as
//     the previous block left it) when it differs from the last one, so
//     evidence about a recent height is checked against that height's set;
//   - downtime: each validator of h-1 (Env.LastValidators) whose precommit
//     the block's last commit lacks (Env.LastSigners) has h-1 added to its
//     missed heights; more than downtime_max_missed of them within the last
//     downtime_window heights jails it, without burning.
//
// After the last transaction, before the burned-fee total and the
// validator-set step (stakingEnd):
//  1. the block reward: block_reward is issued to the proposer's operator
//     and the proposer's delegators (rewardBlock);
//  2. unbonding entries maturing at h return to their balances;
//  3. at an epoch boundary (h a multiple of epoch_blocks) the elected set
//     becomes the target (electTarget); the validator-set step then moves
//     the set of h+2 towards it.
//
// Every amount is an integer; each division's remainder is documented
// where it is taken, and StakingTotals keeps the sums so that balances,
// bonded and unbonding stake always add up to the genesis supply plus
// issued minus burned minus slashed.

import (
	"bytes"
	"fmt"
	"math/bits"
	"slices"
	"sort"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// overlay stages the staking writes of one transaction or step over the
// executor's cache: reads see the staged values, and nothing reaches the
// cache until the caller commits (a failed transaction changes nothing).
// Writes come out in the order keys were first written.
type overlay struct {
	types.StakingReader // over get: staged values first
	x                   *executor
	vals                map[string][]byte
	order               []string
}

func newOverlay(x *executor) *overlay {
	o := &overlay{x: x, vals: map[string][]byte{}}
	o.StakingReader = types.StakingReader{Get: o.get}
	return o
}

func (o *overlay) get(key []byte) ([]byte, bool, error) {
	if v, ok := o.vals[string(key)]; ok {
		return v, true, nil
	}
	e, err := o.x.get(key)
	if err != nil {
		return nil, false, err
	}
	return e.raw, e.found, nil
}

func (o *overlay) put(key, value []byte) {
	k := string(key)
	if _, ok := o.vals[k]; !ok {
		o.order = append(o.order, k)
	}
	o.vals[k] = value
}

func (o *overlay) writes() []Write {
	ws := make([]Write, 0, len(o.order))
	for _, k := range o.order {
		ws = append(ws, Write{Key: []byte(k), Value: o.vals[k]})
	}
	return ws
}

// commit puts the staged writes in the executor's cache and returns them.
func (o *overlay) commit() []Write {
	ws := o.writes()
	for _, w := range ws {
		o.x.cache[string(w.Key)] = &entry{raw: w.Value, found: true}
	}
	return ws
}

func (o *overlay) putCandidate(c *types.Candidate) {
	o.put(types.CandidateKey(c.PublicKey), c.Encode())
}

func (o *overlay) account(a crypto.Address) (types.Account, error) {
	v, ok, err := o.get(types.AccountKey(a))
	if err != nil || !ok {
		return types.Account{}, err
	}
	acc, err := types.DecodeAccount(v)
	if err != nil {
		return acc, fmt.Errorf("account %s: %w", a, err)
	}
	return acc, nil
}

// credit adds amount to an account's balance.
func (o *overlay) credit(a crypto.Address, amount uint64) error {
	acc, err := o.account(a)
	if err != nil {
		return err
	}
	if acc.Balance+amount < acc.Balance {
		return fmt.Errorf("account %s: balance overflows", a)
	}
	acc.Balance += amount
	o.put(types.AccountKey(a), acc.Encode())
	return nil
}

// addBonded changes an account's bonded total by +amount (or -amount when
// neg) and the votes of every candidate it votes for with it.
func (o *overlay) addBonded(a crypto.Address, s *types.Staker, amount uint64, neg bool) error {
	if neg {
		s.Bonded -= amount
	} else {
		s.Bonded += amount
	}
	for _, k := range s.Votes {
		c, err := o.Candidate(k)
		if err != nil {
			return err
		}
		if c == nil {
			continue // unreachable: candidates are never removed
		}
		if neg {
			c.Votes -= min(c.Votes, amount)
		} else {
			c.Votes += amount
		}
		o.putCandidate(c)
	}
	o.put(types.StakerKey(a), s.Encode())
	return nil
}

// mulDiv returns a*b/c without overflow for results that fit (b <= c).
func mulDiv(a, b, c uint64) uint64 {
	if c == 0 {
		return 0
	}
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return ^uint64(0)
	}
	q, _ := bits.Div64(hi, lo, c)
	return q
}

func addKey(ks []crypto.PublicKey, k crypto.PublicKey) []crypto.PublicKey {
	if slices.Contains(ks, k) {
		return ks
	}
	return append(ks, k)
}

func removeKey(ks []crypto.PublicKey, k crypto.PublicKey) []crypto.PublicKey {
	return slices.DeleteFunc(ks, func(x crypto.PublicKey) bool { return x == k })
}

// --- transactions ---------------------------------------------------------------

// stakingTx applies a staking transaction; acct is the sender's account
// (its fee already taken), which the caller writes.
func (x *executor) stakingTx(tx *types.Tx, acct *types.Account) ([]Write, error) {
	sp := x.params.Staking()
	from := tx.Sender.Address()
	o := newOverlay(x)
	var err error
	switch p := tx.Payload.(type) {
	case *types.ValidatorRegister:
		err = o.register(p, from, x.chainID, x.height, sp)
	case *types.StakeDelegate:
		if p.Amount > acct.Balance {
			return nil, types.Errf(types.CodeInsufficientBalance, "balance %d, delegation %d", acct.Balance, p.Amount)
		}
		if err = o.delegate(from, p.Validator, p.Amount, sp); err == nil {
			acct.Balance -= p.Amount
		}
	case *types.StakeUndelegate:
		err = o.undelegate(from, p.Validator, p.Amount, x.height, sp)
	case *types.StakeVote:
		err = o.vote(from, p.Candidates, sp)
	case *types.ValidatorUnjail:
		err = o.unjail(from, p.Validator, x.height)
	case *types.EvidenceSubmit:
		err = o.evidence(p, x.chainID, x.height, sp)
	default:
		return nil, types.Errf(types.CodeUnknownType, "unknown staking payload %T", p)
	}
	if err != nil {
		return nil, err
	}
	// The sender's account is the caller's to write: a staking step never
	// stages it (delegate changes acct instead).
	return o.writes(), nil
}

func (o *overlay) register(p *types.ValidatorRegister, from crypto.Address, chainID string, height uint64, sp types.StakingParams) error {
	if !crypto.Verify(p.PublicKey, crypto.DomainStake, types.RegisterSignBytes(chainID, from), p.KeySignature[:]) {
		return types.Errf(types.CodeInvalid, "key_signature is not %s's signature of the registration by %s", p.PublicKey, from)
	}
	c, err := o.Candidate(p.PublicKey)
	if err != nil {
		return err
	}
	if c != nil {
		return types.Errf(types.CodeKeyInUse, "key %s is already registered (operator %s)", p.PublicKey, c.Operator)
	}
	// A validator of the set or the target that is not a candidate (a
	// genesis written before staking) holds the key too, as does any key
	// with validator info.
	if _, ok, err := o.get(types.ValidatorInfoKey(p.PublicKey)); err != nil {
		return err
	} else if ok {
		return types.Errf(types.CodeKeyInUse, "key %s belongs to a validator", p.PublicKey)
	}
	for _, key := range [][]byte{types.NextValidatorsKey(), types.TargetValidatorsKey()} {
		vals, _, err := o.Validators(key)
		if err != nil {
			return err
		}
		for _, v := range vals {
			if v.PublicKey == p.PublicKey {
				return types.Errf(types.CodeKeyInUse, "key %s belongs to validator %q", p.PublicKey, v.Name)
			}
		}
	}
	list, err := o.Keys(types.CandidatesKey())
	if err != nil {
		return err
	}
	if len(list) >= sp.MaxCandidates {
		return types.Errf(types.CodeInvalid, "%d candidates are registered, max_candidates is %d", len(list), sp.MaxCandidates)
	}
	o.putCandidate(&types.Candidate{PublicKey: p.PublicKey, Operator: from, CommissionBP: p.CommissionBP, RegisteredAt: height})
	o.put(types.CandidatesKey(), types.EncodeKeys(append(list, p.PublicKey)))
	o.put(types.ValidatorInfoKey(p.PublicKey), types.ValidatorInfo{Name: p.Name, Addr: p.P2PAddr}.Encode())
	return nil
}

// delegate bonds amount from a's balance (which the caller debits) to pub.
func (o *overlay) delegate(a crypto.Address, pub crypto.PublicKey, amount uint64, sp types.StakingParams) error {
	c, err := o.Candidate(pub)
	if err != nil {
		return err
	}
	if c == nil {
		return types.Errf(types.CodeNotCandidate, "%s is not a registered candidate", pub)
	}
	ds, err := o.Delegators(pub)
	if err != nil {
		return err
	}
	if !slices.Contains(ds, a) {
		if len(ds) >= sp.MaxDelegators {
			return types.Errf(types.CodeInvalid, "%s has %d delegators, max_delegators is %d", pub, len(ds), sp.MaxDelegators)
		}
		o.put(types.DelegatorsKey(pub), types.EncodeAddresses(append(ds, a)))
	}
	cur, err := o.U64(types.DelegationKey(pub, a))
	if err != nil {
		return err
	}
	if cur+amount < cur || c.Stake+amount < c.Stake {
		return types.Errf(types.CodeInvalid, "stake would overflow")
	}
	o.put(types.DelegationKey(pub, a), types.EncodeU64(cur+amount))
	c.Stake += amount
	o.putCandidate(c)
	s, err := o.Staker(a)
	if err != nil {
		return err
	}
	s.Delegations = addKey(s.Delegations, pub)
	if err := o.addBonded(a, s, amount, false); err != nil {
		return err
	}
	t, err := o.Totals()
	if err != nil {
		return err
	}
	t.Bonded += amount
	o.put(types.StakingTotalsKey(), t.Encode())
	return nil
}

func (o *overlay) undelegate(a crypto.Address, pub crypto.PublicKey, amount, height uint64, sp types.StakingParams) error {
	cur, err := o.U64(types.DelegationKey(pub, a))
	if err != nil {
		return err
	}
	if amount > cur {
		return types.Errf(types.CodeInsufficientStake, "%s has %d delegated to %s, undelegating %d", a, cur, pub, amount)
	}
	c, err := o.Candidate(pub)
	if err != nil {
		return err
	}
	if c == nil {
		return types.Errf(types.CodeNotCandidate, "%s is not a registered candidate", pub)
	}
	o.put(types.DelegationKey(pub, a), types.EncodeU64(cur-amount))
	s, err := o.Staker(a)
	if err != nil {
		return err
	}
	if cur == amount {
		ds, err := o.Delegators(pub)
		if err != nil {
			return err
		}
		o.put(types.DelegatorsKey(pub), types.EncodeAddresses(slices.DeleteFunc(ds, func(d crypto.Address) bool { return d == a })))
		s.Delegations = removeKey(s.Delegations, pub)
	}
	c.Stake -= amount
	o.putCandidate(c)
	release := height + sp.UnbondingBlocks
	us, err := o.Unbondings(pub)
	if err != nil {
		return err
	}
	o.put(types.UnbondingKey(pub), types.EncodeUnbondings(append(us, types.Unbonding{Delegator: a, Amount: amount, ReleaseHeight: release})))
	q, err := o.Keys(types.UnbondingQueueKey(release))
	if err != nil {
		return err
	}
	if !slices.Contains(q, pub) {
		o.put(types.UnbondingQueueKey(release), types.EncodeKeys(append(q, pub)))
	}
	s.Unbonding += amount
	s.UnbondingFrom = addKey(s.UnbondingFrom, pub)
	if err := o.addBonded(a, s, amount, true); err != nil {
		return err
	}
	t, err := o.Totals()
	if err != nil {
		return err
	}
	t.Bonded -= amount
	t.Unbonding += amount
	o.put(types.StakingTotalsKey(), t.Encode())
	return nil
}

func (o *overlay) vote(a crypto.Address, cands []crypto.PublicKey, sp types.StakingParams) error {
	if len(cands) > sp.MaxVotes {
		return types.Errf(types.CodeInvalid, "%d candidates, max_votes is %d", len(cands), sp.MaxVotes)
	}
	for _, k := range cands {
		c, err := o.Candidate(k)
		if err != nil {
			return err
		}
		if c == nil {
			return types.Errf(types.CodeNotCandidate, "%s is not a registered candidate", k)
		}
	}
	s, err := o.Staker(a)
	if err != nil {
		return err
	}
	// Take the voter's weight off its old candidates, put it on the new.
	bonded := s.Bonded
	if err := o.addBonded(a, s, bonded, true); err != nil {
		return err
	}
	s.Votes = append([]crypto.PublicKey(nil), cands...)
	return o.addBonded(a, s, bonded, false)
}

func (o *overlay) unjail(a crypto.Address, pub crypto.PublicKey, height uint64) error {
	c, err := o.Candidate(pub)
	if err != nil {
		return err
	}
	if c == nil {
		return types.Errf(types.CodeNotCandidate, "%s is not a registered candidate", pub)
	}
	if c.Operator != a {
		return types.Errf(types.CodeInvalid, "%s is operated by %s, not %s", pub, c.Operator, a)
	}
	if !c.Jailed {
		return nil // nothing to do: unjail is idempotent
	}
	if height < c.JailedUntil {
		return types.Errf(types.CodeJailed, "%s is jailed until height %d (this is %d)", pub, c.JailedUntil, height)
	}
	c.Jailed, c.JailedUntil = false, 0
	o.putCandidate(c)
	return nil
}

// evidence checks double-vote evidence and punishes the validator: slash
// and jail. The votes must be signed by p.Validator, for a height neither
// in the future nor older than evidence_max_age; where the state knows the
// set of that height (the set history of a DPoS chain) the votes' index
// must name p.Validator in it. A validator is punished once for all it
// signs until its jail ends: evidence about a height before SlashedAt +
// jail_blocks is refused (it stays in the set a few heights after being
// jailed, and a double-voter keeps double-voting there).
func (o *overlay) evidence(p *types.EvidenceSubmit, chainID string, height uint64, sp types.StakingParams) error {
	h, index, round, pub := uint64(0), uint16(0), uint32(0), p.Validator
	var proposal *types.ProposalEvidence
	if len(p.Evidence) > 0 && p.Evidence[0] == types.EvidenceKindProposal {
		e, err := types.ParseProposalEvidence(p.Evidence)
		if err != nil {
			return types.Errf(types.CodeBadEvidence, "%v", err)
		}
		for _, pr := range []types.SignedProposal{e.A, e.B} {
			if !crypto.VerifyRaw(pub, types.ProposalSignBytes(chainID, pr.Height, pr.Round, pr.POLRound, pr.BlockHash), pr.Signature[:]) {
				return types.Errf(types.CodeBadEvidence, "the proposal of block %s is not signed by %s", pr.BlockHash, pub)
			}
		}
		h, index, round, proposal = e.A.Height, e.Validator, e.A.Round, e
	} else {
		a, b, err := types.ParseVoteEvidence(p.Evidence)
		if err != nil {
			return types.Errf(types.CodeBadEvidence, "%v", err)
		}
		for _, v := range []types.Vote{a, b} {
			if !crypto.VerifyRaw(pub, types.VoteSignBytes(chainID, v.Type, v.Height, v.Round, v.BlockHash), v.Signature[:]) {
				return types.Errf(types.CodeBadEvidence, "the %s for block %s is not signed by %s", v.Type, v.BlockHash, pub)
			}
		}
		h, index = a.Height, a.Validator
	}
	if h > height {
		return types.Errf(types.CodeBadEvidence, "evidence about height %d in block %d: a future height", h, height)
	}
	if height-h > sp.EvidenceMaxAge {
		return types.Errf(types.CodeBadEvidence, "evidence about height %d is older than evidence_max_age (%d) at height %d", h, sp.EvidenceMaxAge, height)
	}
	set, known, err := o.setAt(h)
	if err != nil {
		return err
	}
	if known && (int(index) >= len(set) || set[index].PublicKey != pub) {
		return types.Errf(types.CodeBadEvidence, "%s is not validator %d of height %d", pub, index, h)
	}
	if known && proposal != nil {
		// Only the proposer of (height, round) proposes: two proposals of
		// anyone else are no proposer's equivocation.
		vs, err := o.x.params.ValidatorSet(set)
		if err != nil { // a recorded set is always valid
			return types.Errf(types.CodeBadEvidence, "set of height %d: %v", h, err)
		}
		if vs.Proposer(h, round) != int(index) {
			return types.Errf(types.CodeBadEvidence, "%s is not the proposer of height %d round %d", pub, h, round)
		}
	}
	c, err := o.Candidate(pub)
	if err != nil {
		return err
	}
	if c == nil {
		return types.Errf(types.CodeNotCandidate, "%s is not a registered candidate: no stake to slash", pub)
	}
	if c.SlashedAt > 0 && h < c.SlashedAt+sp.JailBlocks {
		return types.Errf(types.CodeBadEvidence, "%s was punished at height %d for all it signs until height %d (evidence about height %d)", pub, c.SlashedAt, c.SlashedAt+sp.JailBlocks, h)
	}
	if err := o.slash(pub, sp.SlashFractionBP, height); err != nil {
		return err
	}
	return o.jail(pub, height, sp)
}

// slash burns bp basis points of every delegation to pub and of every
// unbonding entry from it (each rounded down, so a delegator never loses
// more than the fraction).
func (o *overlay) slash(pub crypto.PublicKey, bp, height uint64) error {
	ds, err := o.Delegators(pub)
	if err != nil {
		return err
	}
	var bondedCut, unbondingCut uint64
	for _, d := range ds {
		amt, err := o.U64(types.DelegationKey(pub, d))
		if err != nil {
			return err
		}
		cut := mulDiv(amt, bp, types.MaxCommissionBP)
		if cut == 0 {
			continue
		}
		o.put(types.DelegationKey(pub, d), types.EncodeU64(amt-cut))
		s, err := o.Staker(d)
		if err != nil {
			return err
		}
		if err := o.addBonded(d, s, cut, true); err != nil {
			return err
		}
		bondedCut += cut
	}
	us, err := o.Unbondings(pub)
	if err != nil {
		return err
	}
	for i := range us {
		cut := mulDiv(us[i].Amount, bp, types.MaxCommissionBP)
		if cut == 0 {
			continue
		}
		us[i].Amount -= cut
		s, err := o.Staker(us[i].Delegator)
		if err != nil {
			return err
		}
		s.Unbonding -= cut
		o.put(types.StakerKey(us[i].Delegator), s.Encode())
		unbondingCut += cut
	}
	if unbondingCut > 0 {
		o.put(types.UnbondingKey(pub), types.EncodeUnbondings(us))
	}
	c, err := o.Candidate(pub)
	if err != nil {
		return err
	}
	c.Stake -= bondedCut
	c.Slashed += bondedCut + unbondingCut
	c.SlashedAt = height
	o.putCandidate(c)
	t, err := o.Totals()
	if err != nil {
		return err
	}
	t.Bonded -= bondedCut
	t.Unbonding -= unbondingCut
	t.Slashed += bondedCut + unbondingCut
	o.put(types.StakingTotalsKey(), t.Encode())
	return nil
}

// jail marks pub jailed until height+jail_blocks and takes it out of the
// target set at once (the validator-set step then removes it from the set
// in force, at most a third of the power per height). A target of one
// validator keeps it: the set is never empty.
func (o *overlay) jail(pub crypto.PublicKey, height uint64, sp types.StakingParams) error {
	c, err := o.Candidate(pub)
	if err != nil {
		return err
	}
	c.Jailed, c.JailedUntil = true, height+sp.JailBlocks
	o.putCandidate(c)
	o.put(types.MissedKey(pub), types.EncodeHeights(nil))
	target, ok, err := o.Validators(types.TargetValidatorsKey())
	if err != nil || !ok {
		return err
	}
	kept := slices.DeleteFunc(slices.Clone(target), func(v types.Validator) bool { return v.PublicKey == pub })
	if len(kept) == len(target) || len(kept) == 0 {
		return nil
	}
	return o.setTarget(kept)
}

// setTarget writes a new target if the set can move there (the path check
// valset.go asks of every writer of the target); otherwise the target
// stays and the next epoch tries again.
func (o *overlay) setTarget(target []types.Validator) error {
	next, ok, err := o.Validators(types.NextValidatorsKey())
	if err != nil {
		return err
	}
	if ok {
		if _, err := types.CheckValidatorPath(next, target); err != nil {
			return nil
		}
	}
	o.put(types.TargetValidatorsKey(), types.EncodeValidators(target))
	return nil
}

// --- the set history (for evidence) ---------------------------------------------

func setHash(vals []types.Validator) crypto.Hash { return crypto.Sum(types.EncodeValidators(vals)) }

func (o *overlay) setHistory() ([]types.SetEntry, error) {
	v, ok, err := o.get(types.SetHistoryKey())
	if err != nil || !ok {
		return nil, err
	}
	es, err := types.DecodeSetHistory(v)
	if err != nil {
		return nil, fmt.Errorf("set history: %w", err)
	}
	return es, nil
}

// setAt returns the validator set of height h from the history, and
// whether the history covers h.
func (o *overlay) setAt(h uint64) ([]types.Validator, bool, error) {
	es, err := o.setHistory()
	if err != nil {
		return nil, false, err
	}
	i := sort.Search(len(es), func(i int) bool { return es[i].From > h }) - 1
	if i < 0 {
		return nil, false, nil
	}
	vals, ok, err := o.Validators(types.SetByHashKey(es[i].Hash))
	if err != nil || !ok {
		return nil, false, err
	}
	return vals, true, nil
}

// recordSet notes that vals is the set from height from on, and forgets
// entries no evidence can need any more (those replaced before
// height-maxAge).
func (o *overlay) recordSet(vals []types.Validator, from, height, maxAge uint64) error {
	es, err := o.setHistory()
	if err != nil {
		return err
	}
	h := setHash(vals)
	if n := len(es); n > 0 && es[n-1].Hash == h {
		return nil
	}
	es = append(es, types.SetEntry{From: from, Hash: h})
	oldest := uint64(0)
	if height > maxAge {
		oldest = height - maxAge
	}
	for len(es) > 1 && es[1].From <= oldest {
		es = es[1:]
	}
	if _, ok, err := o.get(types.SetByHashKey(h)); err != nil {
		return err
	} else if !ok {
		o.put(types.SetByHashKey(h), types.EncodeValidators(vals))
	}
	o.put(types.SetHistoryKey(), types.EncodeSetHistory(es))
	return nil
}

// --- the block's steps -------------------------------------------------------------

// stakingBegin runs before the block's first transaction (see the file
// comment): the set history and downtime.
func (x *executor) stakingBegin() ([]Write, error) {
	if !x.params.DPoS() {
		return nil, nil
	}
	sp := x.params.Staking()
	o := newOverlay(x)
	next, ok, err := o.Validators(types.NextValidatorsKey())
	if err != nil {
		return nil, err
	}
	if ok {
		if err := o.recordSet(next, x.height+1, x.height, sp.EvidenceMaxAge); err != nil {
			return nil, err
		}
	}
	if err := o.downtime(x.env, sp); err != nil {
		return nil, err
	}
	return o.commit(), nil
}

// downtime records the precommits of height h-1 the block's last commit
// lacks, and jails a validator that missed too many.
func (o *overlay) downtime(env Env, sp types.StakingParams) error {
	if env.Height < 2 || len(env.LastValidators) == 0 {
		return nil
	}
	signed := make(map[crypto.PublicKey]bool, len(env.LastSigners))
	for _, k := range env.LastSigners {
		signed[k] = true
	}
	missedAt := env.Height - 1
	for _, v := range env.LastValidators {
		if signed[v.PublicKey] {
			continue
		}
		c, err := o.Candidate(v.PublicKey)
		if err != nil {
			return err
		}
		if c == nil || c.Jailed {
			continue
		}
		raw, _, err := o.get(types.MissedKey(v.PublicKey))
		if err != nil {
			return err
		}
		var hs []uint64
		if len(raw) > 0 {
			if hs, err = types.DecodeHeights(raw); err != nil {
				return fmt.Errorf("missed precommits of %s: %w", v.PublicKey, err)
			}
		}
		// Keep the heights within the window (missedAt-window, missedAt].
		hs = slices.DeleteFunc(hs, func(h uint64) bool { return h+sp.DowntimeWindow <= missedAt })
		hs = append(hs, missedAt)
		if uint64(len(hs)) > sp.DowntimeMaxMissed {
			if err := o.jail(v.PublicKey, env.Height, sp); err != nil {
				return err
			}
			continue
		}
		o.put(types.MissedKey(v.PublicKey), types.EncodeHeights(hs))
	}
	return nil
}

// stakingEnd runs after the block's last transaction: reward, matured
// unbonding, epoch.
func (x *executor) stakingEnd() ([]Write, error) {
	if !x.params.DPoS() {
		return nil, nil
	}
	sp := x.params.Staking()
	o := newOverlay(x)
	if err := o.rewardBlock(x.height, x.env.Proposer, sp); err != nil {
		return nil, err
	}
	if err := o.matureUnbonding(x.height); err != nil {
		return nil, err
	}
	if x.height%sp.EpochBlocks == 0 {
		if err := o.electTarget(sp); err != nil {
			return nil, err
		}
	}
	return o.commit(), nil
}

// rewardBlock issues block_reward for the block proposed by pub: the
// commission (reward * commission_bp / 10,000, rounded down) to the
// operator, the rest shared by the delegators in proportion to their
// stake, each share rounded down; what the rounding leaves goes to the
// operator too. A proposer that is not a candidate, or is jailed, gets
// nothing and nothing is issued.
func (o *overlay) rewardBlock(height uint64, pub crypto.PublicKey, sp types.StakingParams) error {
	if sp.BlockReward == 0 || pub == (crypto.PublicKey{}) {
		return nil
	}
	c, err := o.Candidate(pub)
	if err != nil || c == nil || c.Jailed {
		return err
	}
	r := sp.BlockReward
	cb := &types.Coinbase{Height: height, Proposer: pub, Reward: r, Commission: mulDiv(r, uint64(c.CommissionBP), types.MaxCommissionBP)}
	rest := r - cb.Commission
	cb.Payments = []types.Payment{{Address: c.Operator}}
	var paid uint64
	if c.Stake > 0 {
		ds, err := o.Delegators(pub)
		if err != nil {
			return err
		}
		for _, d := range ds {
			amt, err := o.U64(types.DelegationKey(pub, d))
			if err != nil {
				return err
			}
			share := mulDiv(rest, amt, c.Stake)
			if share == 0 {
				continue
			}
			paid += share
			if d == c.Operator {
				cb.Payments[0].Amount += share
				continue
			}
			cb.Payments = append(cb.Payments, types.Payment{Address: d, Amount: share})
		}
	}
	cb.Payments[0].Amount += cb.Commission + rest - paid
	for _, p := range cb.Payments {
		if err := o.credit(p.Address, p.Amount); err != nil {
			return err
		}
	}
	c.Rewards += r
	o.putCandidate(c)
	t, err := o.Totals()
	if err != nil {
		return err
	}
	t.Issued += r
	o.put(types.StakingTotalsKey(), t.Encode())
	o.put(types.CoinbaseKey(), cb.Encode())
	return nil
}

// matureUnbonding credits the unbonding entries whose release height is
// this one.
func (o *overlay) matureUnbonding(height uint64) error {
	q, err := o.Keys(types.UnbondingQueueKey(height))
	if err != nil || len(q) == 0 {
		return err
	}
	var released uint64
	for _, pub := range q {
		us, err := o.Unbondings(pub)
		if err != nil {
			return err
		}
		var left []types.Unbonding
		var done []types.Unbonding
		for _, u := range us {
			if u.ReleaseHeight <= height {
				done = append(done, u)
			} else {
				left = append(left, u)
			}
		}
		if len(done) == 0 {
			continue
		}
		o.put(types.UnbondingKey(pub), types.EncodeUnbondings(left))
		for _, u := range done {
			if err := o.credit(u.Delegator, u.Amount); err != nil {
				return err
			}
			s, err := o.Staker(u.Delegator)
			if err != nil {
				return err
			}
			s.Unbonding -= u.Amount
			if !slices.ContainsFunc(left, func(l types.Unbonding) bool { return l.Delegator == u.Delegator }) {
				s.UnbondingFrom = removeKey(s.UnbondingFrom, pub)
			}
			o.put(types.StakerKey(u.Delegator), s.Encode())
			released += u.Amount
		}
	}
	t, err := o.Totals()
	if err != nil {
		return err
	}
	t.Unbonding -= released
	o.put(types.StakingTotalsKey(), t.Encode())
	return nil
}

// Elected returns the top max_validators of cands as a validator list:
// unjailed candidates with stake, ranked by votes, then stake, then key
// (bytes, ascending), listed in that rank order; power is stake scaled to
// PowerScale (types/staking.go), at least 1, divided by the powers'
// greatest common divisor. Names come from names (may be nil).
func Elected(cands []*types.Candidate, maxValidators int, names map[crypto.PublicKey]string) []types.Validator {
	var el []*types.Candidate
	for _, c := range cands {
		if !c.Jailed && c.Stake > 0 {
			el = append(el, c)
		}
	}
	sort.SliceStable(el, func(i, j int) bool {
		a, b := el[i], el[j]
		if a.Votes != b.Votes {
			return a.Votes > b.Votes
		}
		if a.Stake != b.Stake {
			return a.Stake > b.Stake
		}
		return bytes.Compare(a.PublicKey[:], b.PublicKey[:]) < 0
	})
	if len(el) > maxValidators {
		el = el[:maxValidators]
	}
	var total uint64
	for _, c := range el {
		total += c.Stake // bounded by the supply
	}
	out := make([]types.Validator, len(el))
	var g uint64
	for i, c := range el {
		p := max(1, mulDiv(c.Stake, types.PowerScale, total))
		out[i] = types.Validator{Name: names[c.PublicKey], PublicKey: c.PublicKey, Power: p}
		g = gcdU64(g, p)
	}
	for i := range out {
		out[i].Power /= g
	}
	return out
}

func gcdU64(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// electTarget makes the elected candidates the target set, when any is
// electable and the set can move there.
func (o *overlay) electTarget(sp types.StakingParams) error {
	keys, err := o.Keys(types.CandidatesKey())
	if err != nil {
		return err
	}
	cands := make([]*types.Candidate, 0, len(keys))
	names := make(map[crypto.PublicKey]string, len(keys))
	for _, k := range keys {
		c, err := o.Candidate(k)
		if err != nil {
			return err
		}
		if c == nil {
			continue
		}
		cands = append(cands, c)
		if raw, ok, err := o.get(types.ValidatorInfoKey(k)); err != nil {
			return err
		} else if ok {
			if info, err := types.DecodeValidatorInfo(raw); err == nil {
				names[k] = info.Name
			}
		}
	}
	target := Elected(cands, sp.MaxValidators, names)
	if len(target) == 0 {
		return nil
	}
	cur, _, err := o.Validators(types.TargetValidatorsKey())
	if err != nil {
		return err
	}
	if types.SameMembers(cur, target) {
		return nil
	}
	return o.setTarget(target)
}

// --- genesis ------------------------------------------------------------------------

// emptyState is the state before genesis.
type emptyState struct{}

func (emptyState) Get([]byte) ([]byte, bool, error)      { return nil, false, nil }
func (emptyState) TxCommitted(crypto.Hash) (bool, error) { return false, nil }

// stakingGenesis returns a DPoS chain's genesis staking state: every
// genesis validator a candidate operated by its own key's address (no
// commission), the genesis stakes bonded (each delegator voting for the
// validators it delegates to), and the set history's first entry.
func stakingGenesis(g *types.Genesis) []Write {
	if !g.Params.DPoS() {
		return nil
	}
	sp := g.Params.Staking()
	x := &executor{r: emptyState{}, params: g.Params, cache: map[string]*entry{}}
	o := newOverlay(x)
	keys := make([]crypto.PublicKey, 0, len(g.Validators))
	for _, v := range g.Validators {
		o.putCandidate(&types.Candidate{PublicKey: v.PublicKey, Operator: v.PublicKey.Address()})
		keys = append(keys, v.PublicKey)
	}
	o.put(types.CandidatesKey(), types.EncodeKeys(keys))
	o.put(types.StakingTotalsKey(), types.StakingTotals{}.Encode())
	for _, st := range g.Stakes {
		// Genesis.Check refused what could fail here (a non-validator, a
		// zero amount, too many delegators); reads are of the overlay.
		_ = o.delegate(st.Delegator, st.Validator, st.Amount, sp)
		s, _ := o.Staker(st.Delegator)
		if !slices.Contains(s.Votes, st.Validator) && len(s.Votes) < sp.MaxVotes {
			_ = o.vote(st.Delegator, append(slices.Clone(s.Votes), st.Validator), sp)
		}
	}
	_ = o.recordSet(g.Validators, 1, 0, sp.EvidenceMaxAge)
	return o.writes()
}
