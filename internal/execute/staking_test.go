package execute

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/internal/txfixtures"
	"github.com/cairn-db/cairn/types"
)

// What each staking sample writes (TestEveryTypeExecutes runs them in
// order: register, delegate 100, undelegate 40, vote, unjail (a no-op),
// evidence, which slashes and jails).
func init() {
	v := txfixtures.StakingValidator().Public()
	effects[types.TxValidatorRegister] = func(t *testing.T, tx *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		c := mustCandidate(t, writes, v)
		if c.Operator != tx.Sender.Address() || c.CommissionBP != 500 || c.Stake != 0 {
			t.Errorf("validator.register: candidate %+v", c)
		}
		if _, ok := writes[string(types.ValidatorInfoKey(v))]; !ok {
			t.Errorf("validator.register: no validator info written")
		}
	}
	effects[types.TxStakeDelegate] = func(t *testing.T, tx *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		if c := mustCandidate(t, writes, v); c.Stake != txfixtures.StakeAmount {
			t.Errorf("stake.delegate: stake %d", c.Stake)
		}
		if n, _ := types.DecodeU64(writes[string(types.DelegationKey(v, tx.Sender.Address()))]); n != txfixtures.StakeAmount {
			t.Errorf("stake.delegate: delegation %d", n)
		}
	}
	effects[types.TxStakeUndelegate] = func(t *testing.T, tx *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		us, err := types.DecodeUnbondings(writes[string(types.UnbondingKey(v))])
		if err != nil || len(us) != 1 || us[0].Amount != txfixtures.UnstakeAmount {
			t.Errorf("stake.undelegate: unbonding %+v, %v", us, err)
		}
	}
	effects[types.TxStakeVote] = func(t *testing.T, tx *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		if c := mustCandidate(t, writes, v); c.Votes != txfixtures.StakeAmount-txfixtures.UnstakeAmount {
			t.Errorf("stake.vote: votes %d", c.Votes)
		}
	}
	effects[types.TxValidatorUnjail] = func(t *testing.T, _ *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		if len(writes) != 1 {
			t.Errorf("validator.unjail of a candidate not jailed: %d keys written, want only the sender's account", len(writes))
		}
	}
	effects[types.TxEvidenceSubmit] = func(t *testing.T, _ *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		c := mustCandidate(t, writes, v)
		if !c.Jailed || c.Slashed == 0 {
			t.Errorf("evidence.submit: candidate %+v, want jailed and slashed", c)
		}
	}
}

func mustCandidate(t *testing.T, writes map[string][]byte, pub crypto.PublicKey) *types.Candidate {
	t.Helper()
	raw, ok := writes[string(types.CandidateKey(pub))]
	if !ok {
		t.Fatalf("candidate %s not written", pub)
	}
	c, err := types.DecodeCandidate(raw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// dpos is a DPoS chain run block by block on a map: the test fills in
// Env (proposer, last signers) by hand.
type dpos struct {
	t      *testing.T
	g      *types.Genesis
	state  mapReader
	h      uint64
	vals   []*crypto.PrivateKey // genesis validators
	users  []*crypto.PrivateKey
	nonce  map[crypto.PublicKey]uint64
	supply uint64
}

const dposChain = "cairn-dpos-test"

func dposKey(tag byte, i int) *crypto.PrivateKey {
	var seed [crypto.SeedSize]byte
	copy(seed[:], "staking test")
	seed[30], seed[31] = tag, byte(i)
	return crypto.MustKeyFromSeed(seed)
}

// newDPoS starts a chain of nv genesis validators, each with selfStake
// bonded by its own key's address, and nu users holding balance each.
func newDPoS(t *testing.T, nv, nu int, balance, selfStake uint64, sp types.StakingParams) *dpos {
	t.Helper()
	d := &dpos{t: t, state: mapReader{}, nonce: map[crypto.PublicKey]uint64{}}
	g := &types.Genesis{ChainID: dposChain, Params: types.DefaultParams()}
	g.Params.ValidatorGovernance = types.GovernanceDPoS
	g.Params.StakingParams = sp
	for i := 0; i < nv; i++ {
		k := dposKey('v', i)
		d.vals = append(d.vals, k)
		g.Validators = append(g.Validators, types.Validator{Name: fmt.Sprintf("v%d", i), PublicKey: k.Public(), Power: 1})
		g.Balances = append(g.Balances, types.Balance{Address: k.Public().Address(), Amount: balance})
		g.Stakes = append(g.Stakes, types.GenesisStake{Delegator: k.Public().Address(), Validator: k.Public(), Amount: selfStake})
		d.supply += balance + selfStake
	}
	for i := 0; i < nu; i++ {
		k := dposKey('u', i)
		d.users = append(d.users, k)
		g.Balances = append(g.Balances, types.Balance{Address: k.Public().Address(), Amount: balance})
		d.supply += balance
	}
	if err := g.Check(); err != nil {
		t.Fatal(err)
	}
	d.g = g
	for _, w := range Genesis(g) {
		d.state[string(w.Key)] = w.Value
	}
	return d
}

func (d *dpos) tx(k *crypto.PrivateKey, p types.Payload) *types.Tx {
	d.nonce[k.Public()]++
	tx := &types.Tx{ChainID: dposChain, Nonce: d.nonce[k.Public()], Timestamp: 1, Payload: p}
	tx.Sign(k)
	return tx
}

// block runs the next block with env's proposer and last signers (the
// height is filled in) and applies its writes. A failed receipt gives the
// nonce back, as the chain does.
func (d *dpos) block(env Env, txs ...*types.Tx) *Result {
	d.t.Helper()
	d.h++
	env.Height = d.h
	res, err := Block(d.state, dposChain, d.g.Params, env, txs, Options{})
	if err != nil {
		d.t.Fatalf("height %d: %v", d.h, err)
	}
	for i, rc := range res.Receipts {
		if !rc.OK {
			d.nonce[txs[i].Sender]--
		}
	}
	for _, w := range res.Writes {
		d.state[string(w.Key)] = w.Value
	}
	d.checkBalanced()
	return res
}

// proposed runs a block proposed by validator i, every validator signing.
func (d *dpos) proposed(i int, txs ...*types.Tx) *Result {
	return d.block(Env{Proposer: d.vals[i].Public()}, txs...)
}

func (d *dpos) mustOK(res *Result) {
	d.t.Helper()
	for i, rc := range res.Receipts {
		if !rc.OK {
			d.t.Fatalf("height %d tx %d: %s", d.h, i, rc.Reason)
		}
	}
}

func (d *dpos) candidate(pub crypto.PublicKey) *types.Candidate {
	d.t.Helper()
	c, err := types.DecodeCandidate(d.state[string(types.CandidateKey(pub))])
	if err != nil {
		d.t.Fatalf("candidate %s: %v", pub, err)
	}
	return c
}

func (d *dpos) balance(a crypto.Address) uint64 {
	raw, ok := d.state[string(types.AccountKey(a))]
	if !ok {
		return 0
	}
	acc, err := types.DecodeAccount(raw)
	if err != nil {
		d.t.Fatal(err)
	}
	return acc.Balance
}

func (d *dpos) delegation(pub crypto.PublicKey, a crypto.Address) uint64 {
	n, _ := types.DecodeU64(d.state[string(types.DelegationKey(pub, a))])
	return n
}

func (d *dpos) totals() types.StakingTotals {
	t, err := types.DecodeStakingTotals(d.state[string(types.StakingTotalsKey())])
	if err != nil {
		d.t.Fatal(err)
	}
	return t
}

func (d *dpos) validators(key []byte) []types.Validator {
	vals, err := types.DecodeValidators(d.state[string(key)])
	if err != nil {
		d.t.Fatal(err)
	}
	return vals
}

// checkBalanced is the supply invariant: every account balance plus all
// bonded and unbonding stake is the genesis supply plus what was issued
// minus what was burned (fees) and slashed; and the totals agree with the
// records they sum.
func (d *dpos) checkBalanced() {
	d.t.Helper()
	var balances, bonded, unbonding, candStake uint64
	for k, v := range d.state {
		switch {
		case k[0] == 'a' && len(k) == 1+crypto.AddressSize:
			acc, err := types.DecodeAccount(v)
			if err != nil {
				d.t.Fatal(err)
			}
			balances += acc.Balance
		case bytes.HasPrefix([]byte(k), []byte{types.StakingPrefix, 'd'}):
			n, _ := types.DecodeU64(v)
			bonded += n
		case bytes.HasPrefix([]byte(k), []byte{types.StakingPrefix, 'u'}):
			us, err := types.DecodeUnbondings(v)
			if err != nil {
				d.t.Fatal(err)
			}
			for _, u := range us {
				unbonding += u.Amount
			}
		case bytes.HasPrefix([]byte(k), []byte{types.StakingPrefix, 'c'}):
			c, err := types.DecodeCandidate(v)
			if err != nil {
				d.t.Fatal(err)
			}
			candStake += c.Stake
		}
	}
	var burned uint64
	if raw, ok := d.state[string(types.BurnedKey())]; ok {
		burned, _ = types.DecodeU64(raw)
	}
	t := d.totals()
	if t.Bonded != bonded || t.Unbonding != unbonding || candStake != bonded {
		d.t.Fatalf("height %d: totals %+v, records: bonded %d (candidates %d), unbonding %d", d.h, t, bonded, candStake, unbonding)
	}
	if balances+bonded+unbonding != d.supply+t.Issued-burned-t.Slashed {
		d.t.Fatalf("height %d: balances %d + bonded %d + unbonding %d != supply %d + issued %d - burned %d - slashed %d",
			d.h, balances, bonded, unbonding, d.supply, t.Issued, burned, t.Slashed)
	}
}

func register(d *dpos, operator, key *crypto.PrivateKey, name string, commission uint16) *types.Tx {
	p := &types.ValidatorRegister{Name: name, P2PAddr: "127.0.0.1:19999", CommissionBP: commission}
	types.SignRegistration(p, dposChain, operator.Public().Address(), key)
	return d.tx(operator, p)
}

func code(res *Result, i int) types.Code {
	if res.Receipts[i].OK {
		return ""
	}
	return res.Receipts[i].Code
}

// Bad input is a failed receipt with its own code, and changes nothing:
// the block writes exactly what the same block without the transaction
// writes.
func TestStakingBadInput(t *testing.T) {
	d := newDPoS(t, 4, 2, 1000, 500, types.StakingParams{JailBlocks: 50})
	alice, bob := d.users[0], d.users[1]
	cand := dposKey('c', 0)
	d.mustOK(d.proposed(0, register(d, alice, cand, "cand", 1000), d.tx(alice, &types.StakeDelegate{Validator: cand.Public(), Amount: 300})))

	other := dposKey('c', 1)
	wrongSig := &types.ValidatorRegister{Name: "x", P2PAddr: "h:1", CommissionBP: 0}
	types.SignRegistration(wrongSig, dposChain, alice.Public().Address(), other) // signed for alice, sent by bob

	cases := []struct {
		name string
		from *crypto.PrivateKey
		p    types.Payload
		want types.Code
	}{
		{"self-delegation beyond the balance", alice, &types.StakeDelegate{Validator: cand.Public(), Amount: 701}, types.CodeInsufficientBalance},
		{"undelegating more than delegated", alice, &types.StakeUndelegate{Validator: cand.Public(), Amount: 301}, types.CodeInsufficientStake},
		{"undelegating from a candidate never delegated to", bob, &types.StakeUndelegate{Validator: cand.Public(), Amount: 1}, types.CodeInsufficientStake},
		{"delegating to a non-candidate", bob, &types.StakeDelegate{Validator: other.Public(), Amount: 1}, types.CodeNotCandidate},
		{"votes for a non-candidate", bob, &types.StakeVote{Candidates: []crypto.PublicKey{cand.Public(), other.Public()}}, types.CodeNotCandidate},
		{"a registration with a key already registered", bob, func() types.Payload {
			p := &types.ValidatorRegister{Name: "again", P2PAddr: "h:1"}
			types.SignRegistration(p, dposChain, bob.Public().Address(), cand)
			return p
		}(), types.CodeKeyInUse},
		{"a registration with a genesis validator's key", bob, func() types.Payload {
			p := &types.ValidatorRegister{Name: "again", P2PAddr: "h:1"}
			types.SignRegistration(p, dposChain, bob.Public().Address(), d.vals[1])
			return p
		}(), types.CodeKeyInUse},
		{"a registration whose key signature is for another operator", bob, wrongSig, types.CodeInvalid},
		{"unjailing a candidate of another operator", bob, &types.ValidatorUnjail{Validator: cand.Public()}, types.CodeInvalid},
		{"evidence of votes that are not the validator's", bob, &types.EvidenceSubmit{Validator: d.vals[0].Public(),
			Evidence: txfixtures.DoubleVote(dposChain, d.vals[1], 1, 0)}, types.CodeBadEvidence},
		{"evidence about a future height", bob, &types.EvidenceSubmit{Validator: d.vals[0].Public(),
			Evidence: txfixtures.DoubleVote(dposChain, d.vals[0], 99, 0)}, types.CodeBadEvidence},
		{"evidence with the wrong index for the set of its height", bob, &types.EvidenceSubmit{Validator: d.vals[0].Public(),
			Evidence: txfixtures.DoubleVote(dposChain, d.vals[0], 1, 2)}, types.CodeBadEvidence},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := Env{Height: d.h + 1, Proposer: d.vals[0].Public()}
			tx := d.tx(c.from, c.p)
			d.nonce[c.from.Public()]-- // this block is not kept
			with, err := Block(d.state, dposChain, d.g.Params, env, []*types.Tx{tx}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			without, err := Block(d.state, dposChain, d.g.Params, env, nil, Options{})
			if err != nil {
				t.Fatal(err)
			}
			rc := with.Receipts[0]
			if rc.OK || rc.Code != c.want {
				t.Fatalf("receipt ok=%v code %q (%s), want %q", rc.OK, rc.Code, rc.Reason, c.want)
			}
			if !errors.Is(types.Errf(rc.Code, ""), &types.TxError{Code: c.want}) || rc.Reason == "" {
				t.Errorf("reason %q", rc.Reason)
			}
			if fmt.Sprint(with.Writes) != fmt.Sprint(without.Writes) {
				t.Errorf("the failed tx changed the block's writes")
			}
		})
	}

	// Evidence against a candidate that was not in the set of the height.
	if res := d.proposed(0, d.tx(bob, &types.EvidenceSubmit{Validator: cand.Public(), Evidence: txfixtures.DoubleVote(dposChain, cand, 1, 0)})); code(res, 0) != types.CodeBadEvidence {
		t.Fatalf("evidence against a non-validator: %q", code(res, 0))
	}
	// Unjailing before jail_blocks is over: jailed, nothing changed.
	v1 := d.vals[1]
	d.mustOK(d.proposed(0, d.tx(bob, &types.EvidenceSubmit{Validator: v1.Public(), Evidence: txfixtures.DoubleVote(dposChain, v1, 1, 1)})))
	if !d.candidate(v1.Public()).Jailed {
		t.Fatal("evidence did not jail")
	}
	if res := d.proposed(0, d.tx(v1, &types.ValidatorUnjail{Validator: v1.Public()})); code(res, 0) != types.CodeJailed {
		t.Fatalf("early unjail: %q", code(res, 0))
	}
}

// The epoch step elects the top max_validators by votes: a candidate
// voted in enters the target at the epoch boundary, the incumbent with the
// fewest votes drops out, and the set of the following heights moves to
// the target, at most a third of the power a height.
func TestEpochElection(t *testing.T) {
	d := newDPoS(t, 4, 2, 100_000, 1000, types.StakingParams{EpochBlocks: 10, MaxValidators: 4})
	alice := d.users[0]
	newcomer := dposKey('c', 0)
	// v3's own vote is moved away: it keeps its stake but has no votes.
	d.mustOK(d.proposed(0,
		register(d, alice, newcomer, "newcomer", 500),
		d.tx(alice, &types.StakeDelegate{Validator: newcomer.Public(), Amount: 2000}),
		d.tx(alice, &types.StakeVote{Candidates: []crypto.PublicKey{newcomer.Public()}}),
		d.tx(d.vals[3], &types.StakeVote{Candidates: nil}),
	))
	if c := d.candidate(newcomer.Public()); c.Votes != 2000 || c.Stake != 2000 {
		t.Fatalf("newcomer %+v", c)
	}
	if c := d.candidate(d.vals[3].Public()); c.Votes != 0 || c.Stake != 1000 {
		t.Fatalf("v3 %+v", c)
	}
	genesisTarget := d.validators(types.TargetValidatorsKey())
	for d.h < 9 {
		d.proposed(int(d.h) % 4)
		if !types.SameValidators(d.validators(types.TargetValidatorsKey()), genesisTarget) {
			t.Fatalf("height %d: the target changed before the epoch boundary", d.h)
		}
	}
	d.proposed(1) // height 10: the epoch boundary
	target := d.validators(types.TargetValidatorsKey())
	keys := map[crypto.PublicKey]uint64{}
	for _, v := range target {
		keys[v.PublicKey] = v.Power
	}
	if len(target) != 4 || keys[newcomer.Public()] == 0 || keys[d.vals[3].Public()] != 0 {
		t.Fatalf("target after the epoch: %+v", target)
	}
	// Power by stake: 2000 against 1000 each, divided by the common divisor.
	if target[0].PublicKey != newcomer.Public() || target[0].Power != 2*target[1].Power {
		t.Errorf("target order or powers: %+v", target)
	}
	// The set of h+2 moves towards it, under a third of the power a step.
	prev := d.validators(types.NextValidatorsKey())
	for i := 0; i < 50 && !types.SameMembers(prev, target); i++ {
		d.proposed(0)
		next := d.validators(types.NextValidatorsKey())
		var total, moved uint64
		old := map[crypto.PublicKey]uint64{}
		for _, v := range prev {
			total += v.Power
			old[v.PublicKey] = v.Power
		}
		for _, v := range next {
			if o := old[v.PublicKey]; v.Power > o {
				moved += v.Power - o
			} else {
				moved += o - v.Power
			}
			delete(old, v.PublicKey)
		}
		for _, p := range old {
			moved += p
		}
		if 3*moved >= total {
			t.Fatalf("height %d: the set moved %d of %d power", d.h, moved, total)
		}
		prev = next
	}
	if !types.SameMembers(prev, target) {
		t.Fatalf("the set never reached the target: %+v", prev)
	}
}

// Rewards: block_reward to the proposer's operator (commission and the
// rounding remainder) and its delegators by stake; the coinbase record
// says who got what; totals balance (dpos.block checks every height).
func TestRewardsPaidAndBalanced(t *testing.T) {
	d := newDPoS(t, 4, 3, 10_000, 1000, types.StakingParams{BlockReward: 1001})
	alice, bob := d.users[0], d.users[1]
	cand := dposKey('c', 0)
	d.mustOK(d.proposed(0,
		register(d, d.users[2], cand, "cand", 1000), // 10% commission
		d.tx(alice, &types.StakeDelegate{Validator: cand.Public(), Amount: 300}),
		d.tx(bob, &types.StakeDelegate{Validator: cand.Public(), Amount: 600}),
		d.tx(d.users[2], &types.StakeDelegate{Validator: cand.Public(), Amount: 100}),
	))
	issued := d.totals().Issued // the first block's, proposed by v0
	before := map[crypto.Address]uint64{}
	for _, k := range d.users {
		before[k.Public().Address()] = d.balance(k.Public().Address())
	}
	d.block(Env{Proposer: cand.Public()})
	// 1001: commission 100 (10%, rounded down), 901 shared by stake
	// 300/600/100 of 1000: 270, 540, 90 (each rounded down: 270.3, 540.6,
	// 90.1), remainder 1 to the operator.
	want := map[crypto.Address]uint64{alice.Public().Address(): 270, bob.Public().Address(): 540, d.users[2].Public().Address(): 100 + 90 + 1}
	for a, w := range want {
		if got := d.balance(a) - before[a]; got != w {
			t.Errorf("%s: paid %d, want %d", a, got, w)
		}
	}
	cb, err := types.DecodeCoinbase(d.state[string(types.CoinbaseKey())])
	if err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for _, p := range cb.Payments {
		sum += p.Amount
	}
	if cb.Height != d.h || cb.Proposer != cand.Public() || cb.Reward != 1001 || cb.Commission != 100 || sum != 1001 ||
		cb.Payments[0].Address != d.users[2].Public().Address() || cb.Payments[0].Amount != 191 {
		t.Errorf("coinbase %+v", cb)
	}
	if c := d.candidate(cand.Public()); c.Rewards != 1001 {
		t.Errorf("candidate rewards %d", c.Rewards)
	}
	if tot := d.totals(); tot.Issued != issued+1001 {
		t.Errorf("issued %d", tot.Issued)
	}
	// A proposer that is not a candidate issues nothing.
	d.block(Env{Proposer: dposKey('x', 0).Public()})
	if tot := d.totals(); tot.Issued != issued+1001 {
		t.Errorf("issued %d after a block of a non-candidate", tot.Issued)
	}
}

// Evidence of a double precommit slashes slash_fraction_bp of the
// validator's delegations, its unbonding stake included, jails it, takes
// it out of the target at once, and is accepted once; the validator is
// unjailed by its operator after jail_blocks.
func TestSlashingEvidence(t *testing.T) {
	d := newDPoS(t, 4, 2, 10_000, 1000, types.StakingParams{SlashFractionBP: 1000, JailBlocks: 5, UnbondingBlocks: 100})
	alice, bob := d.users[0], d.users[1]
	bad := d.vals[2]
	d.mustOK(d.proposed(0,
		d.tx(alice, &types.StakeDelegate{Validator: bad.Public(), Amount: 2000}),
		d.tx(alice, &types.StakeUndelegate{Validator: bad.Public(), Amount: 500}),
	))
	d.proposed(1)
	ev := &types.EvidenceSubmit{Validator: bad.Public(), Evidence: txfixtures.DoubleVote(dposChain, bad, 2, 2)}
	res := d.proposed(0, d.tx(bob, ev))
	d.mustOK(res)
	if n := len(res.Receipts); n != 1 {
		t.Fatal(n)
	}
	c := d.candidate(bad.Public())
	// Self-stake 1000 -> 900, alice's 1500 -> 1350, alice's unbonding 500 -> 450.
	if !c.Jailed || c.JailedUntil != d.h+5 || c.Stake != 900+1350 || c.Slashed != 100+150+50 {
		t.Errorf("candidate after evidence: %+v", c)
	}
	if got := d.delegation(bad.Public(), alice.Public().Address()); got != 1350 {
		t.Errorf("alice's delegation %d, want 1350", got)
	}
	us, _ := types.DecodeUnbondings(d.state[string(types.UnbondingKey(bad.Public()))])
	if len(us) != 1 || us[0].Amount != 450 {
		t.Errorf("unbonding %+v", us)
	}
	if tot := d.totals(); tot.Slashed != 300 {
		t.Errorf("slashed total %d", tot.Slashed)
	}
	for _, v := range d.validators(types.TargetValidatorsKey()) {
		if v.PublicKey == bad.Public() {
			t.Errorf("the jailed validator is still in the target")
		}
	}
	// Once only: the same piece again, or another about a height before
	// the punishment, is refused.
	if res := d.proposed(0, d.tx(bob, ev)); code(res, 0) != types.CodeBadEvidence {
		t.Errorf("second submission: %q", code(res, 0))
	}
	other := &types.EvidenceSubmit{Validator: bad.Public(), Evidence: txfixtures.DoubleVote(dposChain, bad, 1, 2)}
	if res := d.proposed(0, d.tx(bob, other)); code(res, 0) != types.CodeBadEvidence {
		t.Errorf("evidence about an earlier height after the punishment: %q", code(res, 0))
	}
	later := &types.EvidenceSubmit{Validator: bad.Public(), Evidence: txfixtures.DoubleVote(dposChain, bad, d.h, 2)}
	if res := d.proposed(0, d.tx(bob, later)); code(res, 0) != types.CodeBadEvidence {
		t.Errorf("evidence about a later height within its jail: %q", code(res, 0))
	}
	if c := d.candidate(bad.Public()); c.Slashed != 300 || c.SlashedAt != d.h-3 {
		t.Errorf("slashed again: %+v", c)
	}
	// Evidence is free: bob's balance did not move.
	if b := d.balance(bob.Public().Address()); b != 10_000 {
		t.Errorf("bob's balance %d", b)
	}
	// The operator (its own key's address for a genesis validator) unjails
	// it after the wait; it is elected again at the next epoch.
	for d.h+1 < c.JailedUntil-1 {
		d.proposed(0)
	}
	if res := d.proposed(0, d.tx(bad, &types.ValidatorUnjail{Validator: bad.Public()})); code(res, 0) != types.CodeJailed {
		t.Fatalf("unjail one height early: %q", code(res, 0))
	}
	d.mustOK(d.proposed(0, d.tx(bad, &types.ValidatorUnjail{Validator: bad.Public()})))
	if d.candidate(bad.Public()).Jailed {
		t.Error("still jailed")
	}
	// The slashed unbonding entry matures to 450.
	before := d.balance(alice.Public().Address())
	for d.h < 101 {
		d.proposed(0)
	}
	if got := d.balance(alice.Public().Address()) - before; got != 450 {
		t.Errorf("matured unbonding paid %d, want 450", got)
	}
}

// Downtime: a validator whose precommit is missing from more than
// downtime_max_missed of the last downtime_window blocks is jailed
// without burning anything.
func TestDowntimeJails(t *testing.T) {
	d := newDPoS(t, 4, 0, 1000, 1000, types.StakingParams{DowntimeWindow: 10, DowntimeMaxMissed: 3})
	set := d.g.Validators
	all := []crypto.PublicKey{set[0].PublicKey, set[1].PublicKey, set[2].PublicKey, set[3].PublicKey}
	withoutV3 := all[:3]
	d.block(Env{Proposer: all[0]})
	// Three misses in the window are tolerated, spread with signed blocks.
	for i, signers := range [][]crypto.PublicKey{withoutV3, all, withoutV3, all, withoutV3} {
		d.block(Env{Proposer: all[i%3], LastSigners: signers, LastValidators: set})
	}
	if c := d.candidate(all[3]); c.Jailed {
		t.Fatalf("jailed after 3 misses")
	}
	d.block(Env{Proposer: all[0], LastSigners: withoutV3, LastValidators: set})
	c := d.candidate(all[3])
	if !c.Jailed || c.Slashed != 0 || c.Stake != 1000 {
		t.Fatalf("after a 4th miss: %+v", c)
	}
	if tot := d.totals(); tot.Slashed != 0 {
		t.Errorf("downtime burned %d", tot.Slashed)
	}
	// Misses older than the window are forgotten.
	d2 := newDPoS(t, 4, 0, 1000, 1000, types.StakingParams{DowntimeWindow: 4, DowntimeMaxMissed: 2})
	d2.block(Env{Proposer: all[0]})
	for i := 0; i < 12; i++ {
		signers := all
		if i%3 == 0 {
			signers = withoutV3
		}
		d2.block(Env{Proposer: all[0], LastSigners: signers, LastValidators: set})
	}
	if d2.candidate(all[3]).Jailed {
		t.Error("jailed for misses spread wider than the window")
	}
}

// Undelegated stake returns to the balance at the end of the block
// unbonding_blocks later, and no earlier.
func TestUnbondingMatures(t *testing.T) {
	d := newDPoS(t, 4, 1, 1000, 1000, types.StakingParams{UnbondingBlocks: 5})
	alice := d.users[0]
	v := d.vals[0].Public()
	d.mustOK(d.proposed(0, d.tx(alice, &types.StakeDelegate{Validator: v, Amount: 400})))
	d.mustOK(d.proposed(0, d.tx(alice, &types.StakeUndelegate{Validator: v, Amount: 400})))
	at := d.h
	st, _ := types.DecodeStaker(d.state[string(types.StakerKey(alice.Public().Address()))])
	if st.Bonded != 0 || st.Unbonding != 400 || len(st.Delegations) != 0 || !slices.Equal(st.UnbondingFrom, []crypto.PublicKey{v}) {
		t.Fatalf("staker %+v", st)
	}
	for d.h < at+4 {
		d.proposed(0)
		if b := d.balance(alice.Public().Address()); b != 600 {
			t.Fatalf("height %d: balance %d before the release", d.h, b)
		}
	}
	d.proposed(0)
	if b := d.balance(alice.Public().Address()); b != 1000 {
		t.Fatalf("balance %d after the release", b)
	}
	st, _ = types.DecodeStaker(d.state[string(types.StakerKey(alice.Public().Address()))])
	if st.Unbonding != 0 || len(st.UnbondingFrom) != 0 {
		t.Errorf("staker after the release %+v", st)
	}
}

// Elected ranks by votes, then stake, then key; skips jailed and unstaked
// candidates; scales powers so the set's proposer cycle stays in bounds.
func TestElected(t *testing.T) {
	var cands []*types.Candidate
	for i := 0; i < 30; i++ {
		k := dposKey('e', i).Public()
		cands = append(cands, &types.Candidate{PublicKey: k, Stake: uint64(1_000_000_007 * (i + 1)), Votes: uint64(i % 5)})
	}
	cands[29].Jailed = true
	cands[28].Stake = 0
	el := Elected(cands, 21, nil)
	if len(el) != 21 {
		t.Fatalf("%d elected", len(el))
	}
	if _, err := types.NewValidatorSet(el); err != nil {
		t.Fatalf("the elected set is not a valid set: %v", err)
	}
	for _, v := range el {
		if v.PublicKey == cands[29].PublicKey || v.PublicKey == cands[28].PublicKey {
			t.Fatal("a jailed or unstaked candidate was elected")
		}
	}
	rank := func(v types.Validator) *types.Candidate {
		for _, c := range cands {
			if c.PublicKey == v.PublicKey {
				return c
			}
		}
		return nil
	}
	if !sort.SliceIsSorted(el, func(i, j int) bool {
		a, b := rank(el[i]), rank(el[j])
		return a.Votes > b.Votes || a.Votes == b.Votes && a.Stake > b.Stake
	}) {
		t.Errorf("not in rank order")
	}
	// Shuffled input, same answer.
	rev := slices.Clone(cands)
	slices.Reverse(rev)
	if !types.SameValidators(Elected(rev, 21, nil), el) {
		t.Error("the election depends on the candidates' order")
	}
	// Equal stakes: power 1 each.
	eq := []*types.Candidate{{PublicKey: dposKey('q', 0).Public(), Stake: 5}, {PublicKey: dposKey('q', 1).Public(), Stake: 5}}
	if el := Elected(eq, 4, nil); el[0].Power != 1 || el[1].Power != 1 {
		t.Errorf("equal stakes: %+v", el)
	}
}

// A permissioned chain keeps staking's books but elects nothing, pays no
// reward and records no set history.
func TestPermissionedChainHasNoStakingSteps(t *testing.T) {
	d := newDPoS(t, 4, 0, 1000, 1000, types.StakingParams{BlockReward: 5, EpochBlocks: 1})
	d.g.Params.ValidatorGovernance = ""
	before := fmt.Sprint(d.state)
	res := d.proposed(0)
	if len(res.Writes) != 0 {
		t.Errorf("an empty block of a permissioned chain wrote %d keys", len(res.Writes))
	}
	if fmt.Sprint(d.state) != before {
		t.Error("state changed")
	}
}

// Conflicting proposals: the proposer of (height, round) that signed two
// proposals is slashed and jailed like a double voter; two proposals of a
// validator that was not the proposer are no evidence. The evidence is the
// engine's own encoding (consensus.ConflictingProposal).
func TestConflictingProposalEvidence(t *testing.T) {
	d := newDPoS(t, 4, 1, 1000, 1000, types.StakingParams{SlashFractionBP: 1000})
	bob := d.users[0]
	d.proposed(0)
	d.proposed(0)
	proposals := func(k *crypto.PrivateKey, index uint16, height uint64, round uint32) []byte {
		cp := &consensus.ConflictingProposal{Validator: index}
		for i, p := range []*consensus.SignedProposal{&cp.A, &cp.B} {
			p.Height, p.Round, p.POLRound = height, round, -1
			p.BlockHash = crypto.Sum([]byte{byte(i)})
			p.Signature = k.SignRaw(consensus.ProposalSignBytes(dposChain, height, round, -1, p.BlockHash))
			if !bytes.Equal(types.ProposalSignBytes(dposChain, height, round, -1, p.BlockHash), consensus.ProposalSignBytes(dposChain, height, round, -1, p.BlockHash)) {
				t.Fatal("types.ProposalSignBytes differs from the engine's")
			}
		}
		return cp.Encode()
	}
	// Slots of 6 (the default): height 2, round 1 is validator 1's.
	notProposer := &types.EvidenceSubmit{Validator: d.vals[2].Public(), Evidence: proposals(d.vals[2], 2, 2, 1)}
	if res := d.proposed(0, d.tx(bob, notProposer)); code(res, 0) != types.CodeBadEvidence {
		t.Fatalf("proposals of a non-proposer: %q", code(res, 0))
	}
	ev := &types.EvidenceSubmit{Validator: d.vals[1].Public(), Evidence: proposals(d.vals[1], 1, 2, 1)}
	d.mustOK(d.proposed(0, d.tx(bob, ev)))
	if c := d.candidate(d.vals[1].Public()); !c.Jailed || c.Slashed != 100 || c.Stake != 900 {
		t.Errorf("after proposal evidence: %+v", c)
	}
}
