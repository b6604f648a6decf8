package client

// Delegated proof of stake (docs/staking.md): the /v1/staking reads, their
// proofs, and the signer's staking transactions.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/smt"
	"github.com/cairn-db/cairn/types"
)

// StateProofs proves the state values a /v1/staking answer was read from
// (?prove=true): one certified header, and for each state key its value
// (or absence) with a sparse Merkle proof against the header's state root.
type StateProofs struct {
	HeaderHex   string        `json:"header_hex"`
	Header      *types.Header `json:"header"`
	Certificate *Certificate  `json:"certificate"`
	Entries     []ProvenValue `json:"entries"`
}

// ProvenValue is one state key's value at the proofs' height.
type ProvenValue struct {
	StateKeyHex string     `json:"state_key_hex"`
	Found       bool       `json:"found"`
	ValueHex    string     `json:"value_hex,omitempty"`
	Proof       *smt.Proof `json:"proof"`
	ProofHex    string     `json:"proof_hex"`
}

// provenState is what StateProofs proves: value by state key.
type provenState struct {
	height uint64
	values map[string][]byte
	found  map[string]bool
}

// verify checks the header against vals and every entry against its state
// root, and returns the proven values.
func (p *StateProofs) verify(chainID string, vals *types.ValidatorSet, height uint64) (*provenState, error) {
	if p == nil {
		return nil, verifyErr("no proofs (ask with ?prove=true)")
	}
	h, err := verifyCertifiedHeader(chainID, vals, p.HeaderHex, p.Certificate)
	if err != nil {
		return nil, err
	}
	if h.Height != height || (p.Header != nil && *p.Header != *h) {
		return nil, verifyErr("header does not match height %d", height)
	}
	ps := &provenState{height: height, values: map[string][]byte{}, found: map[string]bool{}}
	for i, e := range p.Entries {
		sk, err := decodeHex(e.StateKeyHex, "state_key_hex")
		if err != nil {
			return nil, err
		}
		v, err := verifyState(h.StateRoot, sk, e.StateKeyHex, e.Found, e.ValueHex, e.Proof, e.ProofHex)
		if err != nil {
			return nil, fmt.Errorf("entry %d at height %d: %w", i, height, err)
		}
		ps.values[string(sk)], ps.found[string(sk)] = v, e.Found
	}
	return ps, nil
}

// get returns the proven value of key; a key the proofs do not cover is
// a verification failure (the answer rests on something unproven).
func (ps *provenState) get(key []byte) ([]byte, bool, error) {
	v, ok := ps.values[string(key)]
	if !ok {
		return nil, false, verifyErr("no proof for state key %x", key)
	}
	return v, ps.found[string(key)], nil
}

// StakingParamsInfo is GET /v1/staking/params: the governance mode, the
// staking params in force (defaults filled in), and the chain's staking
// totals and burned fees at Height. With them the supply balances: every
// balance plus Totals.Bonded plus Totals.Unbonding (plus payment-field
// deposits) is the genesis supply plus Issued minus Burned minus Slashed.
type StakingParamsInfo struct {
	Height     uint64              `json:"height"`
	Governance string              `json:"validator_governance"`
	Params     types.StakingParams `json:"params"`
	Totals     types.StakingTotals `json:"totals"`
	Burned     uint64              `json:"burned"`
	Proofs     *StateProofs        `json:"proofs,omitempty"`
}

// Verify checks the proofs and that Totals and Burned are the proven ones.
func (s *StakingParamsInfo) Verify(chainID string, vals *types.ValidatorSet) error {
	ps, err := s.Proofs.verify(chainID, vals, s.Height)
	if err != nil {
		return err
	}
	raw, found, err := ps.get(types.StakingTotalsKey())
	if err != nil {
		return err
	}
	var t types.StakingTotals
	if found {
		if t, err = types.DecodeStakingTotals(raw); err != nil {
			return verifyErr("totals: %v", err)
		}
	}
	if t != s.Totals {
		return verifyErr("totals %+v, proven %+v", s.Totals, t)
	}
	raw, found, err = ps.get(types.BurnedKey())
	if err != nil {
		return err
	}
	var burned uint64
	if found {
		if burned, err = types.DecodeU64(raw); err != nil {
			return verifyErr("burned: %v", err)
		}
	}
	if burned != s.Burned {
		return verifyErr("burned %d, proven %d", s.Burned, burned)
	}
	return nil
}

// StakingValidator is a candidate as /v1/staking reports it: its record,
// its name and p2p address, and whether it is in the target set.
type StakingValidator struct {
	types.Candidate
	Name     string `json:"name"`
	P2PAddr  string `json:"p2p_addr,omitempty"`
	InTarget bool   `json:"in_target"`
	// TargetPower is its power in the target set (0 when not in it).
	TargetPower uint64 `json:"target_power"`
}

// StakingValidators is GET /v1/staking/validators: every registered
// candidate at Height in registration order, and the target set.
type StakingValidators struct {
	Height     uint64             `json:"height"`
	Validators []StakingValidator `json:"validators"`
	Target     []types.Validator  `json:"target"`
	Proofs     *StateProofs       `json:"proofs,omitempty"`
}

// Verify checks the proofs and that every candidate is the proven record,
// the list is the proven candidate list, and the target the proven one.
func (s *StakingValidators) Verify(chainID string, vals *types.ValidatorSet) error {
	ps, err := s.Proofs.verify(chainID, vals, s.Height)
	if err != nil {
		return err
	}
	raw, found, err := ps.get(types.CandidatesKey())
	if err != nil {
		return err
	}
	var keys []crypto.PublicKey
	if found && len(raw) > 0 {
		if keys, err = types.DecodeKeys(raw); err != nil {
			return verifyErr("candidates: %v", err)
		}
	}
	if len(keys) != len(s.Validators) {
		return verifyErr("%d validators listed, %d proven", len(s.Validators), len(keys))
	}
	target, err := provenTarget(ps)
	if err != nil {
		return err
	}
	if !types.SameValidators(target, s.Target) {
		return verifyErr("target differs from the proven one")
	}
	for i, k := range keys {
		if err := s.Validators[i].verify(ps, k, target); err != nil {
			return err
		}
	}
	return nil
}

func provenTarget(ps *provenState) ([]types.Validator, error) {
	raw, found, err := ps.get(types.TargetValidatorsKey())
	if err != nil || !found {
		return nil, err
	}
	t, err := types.DecodeValidators(raw)
	if err != nil {
		return nil, verifyErr("target: %v", err)
	}
	return t, nil
}

func (v *StakingValidator) verify(ps *provenState, k crypto.PublicKey, target []types.Validator) error {
	raw, found, err := ps.get(types.CandidateKey(k))
	if err != nil {
		return err
	}
	if !found {
		return verifyErr("candidate %s: no record", k)
	}
	c, err := types.DecodeCandidate(raw)
	if err != nil {
		return verifyErr("candidate %s: %v", k, err)
	}
	if *c != v.Candidate {
		return verifyErr("candidate %s: %+v, proven %+v", k, v.Candidate, *c)
	}
	var power uint64
	for _, t := range target {
		if t.PublicKey == k {
			power = t.Power
		}
	}
	if v.TargetPower != power || v.InTarget != (power > 0) {
		return verifyErr("candidate %s: target power %d, proven %d", k, v.TargetPower, power)
	}
	return nil
}

// ValidatorStake is a candidate's staking record (stake, votes, jail,
// rewards, slashed) and its delegators, as GET /v1/validators/{key} adds
// them to a validator's standing.
type ValidatorStake struct {
	types.Candidate
	Delegators []Delegation `json:"delegators"`
}

// Delegation is one account's bonded stake on a candidate.
type Delegation struct {
	Delegator crypto.Address   `json:"delegator"`
	Validator crypto.PublicKey `json:"validator"`
	Amount    uint64           `json:"amount"`
}

// UnbondingEntry is stake on its way back to Delegator's balance.
type UnbondingEntry struct {
	Delegator     crypto.Address   `json:"delegator"`
	Validator     crypto.PublicKey `json:"validator"`
	Amount        uint64           `json:"amount"`
	ReleaseHeight uint64           `json:"release_height"`
}

// StakingValidatorDetail is GET /v1/staking/validators/{key}: the
// candidate, its delegators and their stake, its unbonding entries, and
// the heights of its recently missed precommits.
type StakingValidatorDetail struct {
	Height uint64 `json:"height"`
	StakingValidator
	Delegators    []Delegation     `json:"delegators"`
	Unbonding     []UnbondingEntry `json:"unbonding"`
	MissedHeights []uint64         `json:"missed_heights"`
	Proofs        *StateProofs     `json:"proofs,omitempty"`
}

// Verify checks the proofs and that the answer is what they prove.
func (s *StakingValidatorDetail) Verify(chainID string, vals *types.ValidatorSet) error {
	ps, err := s.Proofs.verify(chainID, vals, s.Height)
	if err != nil {
		return err
	}
	target, err := provenTarget(ps)
	if err != nil {
		return err
	}
	k := s.PublicKey
	if err := s.StakingValidator.verify(ps, k, target); err != nil {
		return err
	}
	raw, found, err := ps.get(types.DelegatorsKey(k))
	if err != nil {
		return err
	}
	var ds []crypto.Address
	if found && len(raw) > 0 {
		if ds, err = types.DecodeAddresses(raw); err != nil {
			return verifyErr("delegators: %v", err)
		}
	}
	if len(ds) != len(s.Delegators) {
		return verifyErr("%d delegators listed, %d proven", len(s.Delegators), len(ds))
	}
	for i, d := range ds {
		amt, err := provenU64(ps, types.DelegationKey(k, d))
		if err != nil {
			return err
		}
		if got := s.Delegators[i]; got.Delegator != d || got.Validator != k || got.Amount != amt {
			return verifyErr("delegation %d: %+v, proven %s %d", i, got, d, amt)
		}
	}
	us, err := provenUnbondings(ps, k)
	if err != nil {
		return err
	}
	if len(us) != len(s.Unbonding) {
		return verifyErr("%d unbonding entries listed, %d proven", len(s.Unbonding), len(us))
	}
	for i, u := range us {
		if got := s.Unbonding[i]; got != (UnbondingEntry{Delegator: u.Delegator, Validator: k, Amount: u.Amount, ReleaseHeight: u.ReleaseHeight}) {
			return verifyErr("unbonding entry %d: %+v, proven %+v", i, got, u)
		}
	}
	return nil
}

func provenU64(ps *provenState, key []byte) (uint64, error) {
	raw, found, err := ps.get(key)
	if err != nil || !found || len(raw) == 0 {
		return 0, err
	}
	n, err := types.DecodeU64(raw)
	if err != nil {
		return 0, verifyErr("state key %x: %v", key, err)
	}
	return n, nil
}

func provenUnbondings(ps *provenState, k crypto.PublicKey) ([]types.Unbonding, error) {
	raw, found, err := ps.get(types.UnbondingKey(k))
	if err != nil || !found || len(raw) == 0 {
		return nil, err
	}
	us, err := types.DecodeUnbondings(raw)
	if err != nil {
		return nil, verifyErr("unbonding from %s: %v", k, err)
	}
	return us, nil
}

// StakingDelegator is GET /v1/staking/delegators/{address}: an account's
// staking summary, its delegations and unbonding stake, and its votes.
type StakingDelegator struct {
	Height      uint64             `json:"height"`
	Address     crypto.Address     `json:"address"`
	Bonded      uint64             `json:"bonded"`
	Unbonding   uint64             `json:"unbonding"`
	Delegations []Delegation       `json:"delegations"`
	Entries     []UnbondingEntry   `json:"unbonding_entries"`
	Votes       []crypto.PublicKey `json:"votes"`
	Proofs      *StateProofs       `json:"proofs,omitempty"`
}

// Verify checks the proofs and that the answer is what they prove.
func (s *StakingDelegator) Verify(chainID string, vals *types.ValidatorSet) error {
	ps, err := s.Proofs.verify(chainID, vals, s.Height)
	if err != nil {
		return err
	}
	raw, found, err := ps.get(types.StakerKey(s.Address))
	if err != nil {
		return err
	}
	st := &types.Staker{}
	if found {
		if st, err = types.DecodeStaker(raw); err != nil {
			return verifyErr("staker: %v", err)
		}
	}
	if st.Bonded != s.Bonded || st.Unbonding != s.Unbonding || len(st.Delegations) != len(s.Delegations) || len(st.Votes) != len(s.Votes) {
		return verifyErr("summary differs from the proven staker record %+v", st)
	}
	for i, v := range st.Votes {
		if s.Votes[i] != v {
			return verifyErr("vote %d: %s, proven %s", i, s.Votes[i], v)
		}
	}
	for i, k := range st.Delegations {
		amt, err := provenU64(ps, types.DelegationKey(k, s.Address))
		if err != nil {
			return err
		}
		if got := s.Delegations[i]; got != (Delegation{Delegator: s.Address, Validator: k, Amount: amt}) {
			return verifyErr("delegation %d: %+v, proven %s %d", i, got, k, amt)
		}
	}
	var want []UnbondingEntry
	for _, k := range st.UnbondingFrom {
		us, err := provenUnbondings(ps, k)
		if err != nil {
			return err
		}
		for _, u := range us {
			if u.Delegator == s.Address {
				want = append(want, UnbondingEntry{Delegator: s.Address, Validator: k, Amount: u.Amount, ReleaseHeight: u.ReleaseHeight})
			}
		}
	}
	if len(want) != len(s.Entries) {
		return verifyErr("%d unbonding entries listed, %d proven", len(s.Entries), len(want))
	}
	for i := range want {
		if want[i] != s.Entries[i] {
			return verifyErr("unbonding entry %d: %+v, proven %+v", i, s.Entries[i], want[i])
		}
	}
	return nil
}

// StakingReward is GET /v1/staking/rewards?height=H: the reward receipt
// (coinbase) of block H. Paid is false when block H paid no reward; the
// proof then shows the last coinbase before it (or none).
type StakingReward struct {
	Height   uint64          `json:"height"`
	Paid     bool            `json:"paid"`
	Coinbase *types.Coinbase `json:"coinbase,omitempty"`
	Proofs   *StateProofs    `json:"proofs,omitempty"`
}

// Verify checks the proof and that Coinbase is the proven reward of
// Height (or that Height paid none).
func (s *StakingReward) Verify(chainID string, vals *types.ValidatorSet) error {
	ps, err := s.Proofs.verify(chainID, vals, s.Height)
	if err != nil {
		return err
	}
	raw, found, err := ps.get(types.CoinbaseKey())
	if err != nil {
		return err
	}
	var cb *types.Coinbase
	if found {
		if cb, err = types.DecodeCoinbase(raw); err != nil {
			return verifyErr("coinbase: %v", err)
		}
	}
	paid := cb != nil && cb.Height == s.Height
	if paid != s.Paid {
		return verifyErr("paid %v, proven %v", s.Paid, paid)
	}
	if paid && (s.Coinbase == nil || !bytes.Equal(s.Coinbase.Encode(), raw)) {
		return verifyErr("coinbase differs from the proven one")
	}
	return nil
}

func proveQuery(height uint64, prove bool) url.Values {
	q := heightQuery(height)
	if prove {
		q.Set("prove", "true")
	}
	return q
}

// StakingParams returns the staking params and totals at height (0:
// latest), with proofs when prove is set.
func (c *Client) StakingParams(ctx context.Context, height uint64, prove bool) (*StakingParamsInfo, error) {
	var out StakingParamsInfo
	if _, err := c.do(ctx, http.MethodGet, "/v1/staking/params", proveQuery(height, prove), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StakingValidators returns every candidate and the target set at height
// (0: latest).
func (c *Client) StakingValidators(ctx context.Context, height uint64, prove bool) (*StakingValidators, error) {
	var out StakingValidators
	if _, err := c.do(ctx, http.MethodGet, "/v1/staking/validators", proveQuery(height, prove), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StakingValidator returns one candidate with its delegators at height
// (0: latest). An unknown key is an *Error with status 404.
func (c *Client) StakingValidator(ctx context.Context, key crypto.PublicKey, height uint64, prove bool) (*StakingValidatorDetail, error) {
	var out StakingValidatorDetail
	if _, err := c.do(ctx, http.MethodGet, "/v1/staking/validators/"+key.String(), proveQuery(height, prove), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StakingDelegator returns an account's delegations, unbonding stake and
// votes at height (0: latest).
func (c *Client) StakingDelegator(ctx context.Context, a crypto.Address, height uint64, prove bool) (*StakingDelegator, error) {
	var out StakingDelegator
	if _, err := c.do(ctx, http.MethodGet, "/v1/staking/delegators/"+a.String(), proveQuery(height, prove), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StakingReward returns the reward receipt of block height (0: latest).
func (c *Client) StakingReward(ctx context.Context, height uint64, prove bool) (*StakingReward, error) {
	var out StakingReward
	if _, err := c.do(ctx, http.MethodGet, "/v1/staking/rewards", proveQuery(height, prove), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RegisterValidator signs a validator.register of consensus key ck (which
// signs its consent for this signer's account and chain) as a candidate
// named name, dialled at p2pAddr, with commissionBP basis points.
func (s *Signer) RegisterValidator(ctx context.Context, ck *crypto.PrivateKey, name, p2pAddr string, commissionBP uint16) (*types.Tx, error) {
	chainID, err := s.ChainID(ctx)
	if err != nil {
		return nil, err
	}
	p := &types.ValidatorRegister{Name: name, P2PAddr: p2pAddr, CommissionBP: commissionBP}
	types.SignRegistration(p, chainID, s.Address(), ck)
	return s.Sign(ctx, p)
}

// Delegate signs a stake.delegate of amount to validator.
func (s *Signer) Delegate(ctx context.Context, validator crypto.PublicKey, amount uint64) (*types.Tx, error) {
	return s.Sign(ctx, &types.StakeDelegate{Validator: validator, Amount: amount})
}

// Undelegate signs a stake.undelegate of amount from validator.
func (s *Signer) Undelegate(ctx context.Context, validator crypto.PublicKey, amount uint64) (*types.Tx, error) {
	return s.Sign(ctx, &types.StakeUndelegate{Validator: validator, Amount: amount})
}

// Vote signs a stake.vote for candidates (none: clear the votes).
func (s *Signer) Vote(ctx context.Context, candidates ...crypto.PublicKey) (*types.Tx, error) {
	return s.Sign(ctx, &types.StakeVote{Candidates: append([]crypto.PublicKey{}, candidates...)})
}

// Unjail signs a validator.unjail of validator.
func (s *Signer) Unjail(ctx context.Context, validator crypto.PublicKey) (*types.Tx, error) {
	return s.Sign(ctx, &types.ValidatorUnjail{Validator: validator})
}

// SubmitEvidence signs an evidence.submit of encoded double-vote evidence
// against validator.
func (s *Signer) SubmitEvidence(ctx context.Context, validator crypto.PublicKey, evidence []byte) (*types.Tx, error) {
	return s.Sign(ctx, &types.EvidenceSubmit{Validator: validator, Evidence: evidence})
}
