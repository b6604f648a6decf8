package api

// GET /v1/staking/...: delegated proof of stake (docs/staking.md). Every
// answer is read at one height (the latest or ?height=H) from the staking
// state; with ?prove=true it carries a proof of every state value it was
// read from, against the certified header of that height
// (client.StateProofs), so a client checks it like an account.

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

func (s *Server) stakingRoutes() []route {
	return []route{
		{method: "GET", pattern: "/v1/staking/params", h: s.stakingParams},
		{method: "GET", pattern: "/v1/staking/validators", h: s.stakingValidators},
		{method: "GET", pattern: "/v1/staking/validators/{key}", h: s.stakingValidator},
		{method: "GET", pattern: "/v1/staking/delegators/{address}", h: s.stakingDelegator},
		{method: "GET", pattern: "/v1/staking/rewards", h: s.stakingReward},
	}
}

// stateReads reads state values at one height, collecting their proofs
// when asked to.
type stateReads struct {
	types.StakingReader // over get
	l                   *ledger.Ledger
	h                   uint64
	prove               bool
	proofs              *client.StateProofs
}

// newStateReads resolves ?height and ?prove for a staking read.
func newStateReads(r *http.Request, l *ledger.Ledger) (*stateReads, error) {
	prove, err := boolParam(r, "prove")
	if err != nil {
		return nil, err
	}
	h, explicit, err := readHeight(r, l)
	if err != nil {
		return nil, err
	}
	if prove && h == 0 {
		if explicit {
			return nil, badRequest("height 0 is the genesis state and has no certificate; proofs need a height of at least 1")
		}
		return nil, notFound("no block has been committed yet, so there is no certified state root to prove against")
	}
	sr := &stateReads{l: l, h: h, prove: prove}
	sr.StakingReader = types.StakingReader{Get: sr.get}
	if prove {
		sr.proofs = &client.StateProofs{Entries: []client.ProvenValue{}}
	}
	return sr, nil
}

func (sr *stateReads) get(key []byte) ([]byte, bool, error) {
	if !sr.prove {
		v, ok, err := sr.l.State().GetAt(key, sr.h)
		if err != nil {
			return nil, false, fmt.Errorf("state key %x at %d: %w", key, sr.h, err)
		}
		return v, ok, nil
	}
	sp, err := sr.l.Prove(key, sr.h)
	if err != nil {
		return nil, false, err
	}
	if sp.Header == nil || sp.Certificate == nil || sp.Proof == nil {
		return nil, false, fmt.Errorf("prove %x at %d: ledger returned an incomplete proof", key, sr.h)
	}
	if sr.proofs.Header == nil {
		sr.proofs.Header, sr.proofs.HeaderHex = sp.Header, hex.EncodeToString(sp.HeaderBytes)
		sr.proofs.Certificate = certificateJSON(sp.Certificate, sr.l.Genesis().ChainID, sr.l.Validators())
	}
	e := client.ProvenValue{StateKeyHex: hex.EncodeToString(key), Found: sp.Found, Proof: sp.Proof, ProofHex: hex.EncodeToString(sp.Proof.Encode())}
	if sp.Found {
		e.ValueHex = hex.EncodeToString(sp.Value)
	}
	sr.proofs.Entries = append(sr.proofs.Entries, e)
	return sp.Value, sp.Found, nil
}

func (sr *stateReads) target() ([]types.Validator, error) {
	t, _, err := sr.Validators(types.TargetValidatorsKey())
	return t, err
}

// validator reads one candidate (nil when k is none) with its info.
func (sr *stateReads) validator(k crypto.PublicKey, target []types.Validator) (*client.StakingValidator, error) {
	c, err := sr.Candidate(k)
	if err != nil || c == nil {
		return nil, err
	}
	out := &client.StakingValidator{Candidate: *c}
	// The info is not proven: it is not part of what Verify checks (names
	// and addresses are cosmetic), so it is read without a proof.
	if raw, ok, err := sr.l.State().GetAt(types.ValidatorInfoKey(k), sr.h); err != nil {
		return nil, fmt.Errorf("validator info %s: %w", k, err)
	} else if ok {
		if info, err := types.DecodeValidatorInfo(raw); err == nil {
			out.Name, out.P2PAddr = info.Name, info.Addr
		}
	}
	for _, t := range target {
		if t.PublicKey == k {
			out.InTarget, out.TargetPower = true, t.Power
		}
	}
	return out, nil
}

// stakingParams is GET /v1/staking/params.
func (s *Server) stakingParams(w http.ResponseWriter, r *http.Request) error {
	l := s.cfg.Backend.Ledger()
	sr, err := newStateReads(r, l)
	if err != nil {
		return err
	}
	p := l.Genesis().Params
	out := client.StakingParamsInfo{Height: sr.h, Governance: p.ValidatorGovernance, Params: p.Staking(), Proofs: sr.proofs}
	if out.Governance == "" {
		out.Governance = types.GovernancePermissioned
	}
	v, ok, err := sr.get(types.StakingTotalsKey())
	if err != nil {
		return err
	}
	if ok {
		if out.Totals, err = types.DecodeStakingTotals(v); err != nil {
			return fmt.Errorf("staking totals at %d: %w", sr.h, err)
		}
	}
	if out.Burned, err = sr.U64(types.BurnedKey()); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

// stakingValidators is GET /v1/staking/validators.
func (s *Server) stakingValidators(w http.ResponseWriter, r *http.Request) error {
	sr, err := newStateReads(r, s.cfg.Backend.Ledger())
	if err != nil {
		return err
	}
	keys, err := sr.Keys(types.CandidatesKey())
	if err != nil {
		return err
	}
	target, err := sr.target()
	if err != nil {
		return err
	}
	out := client.StakingValidators{Height: sr.h, Validators: []client.StakingValidator{}, Target: target, Proofs: sr.proofs}
	if out.Target == nil {
		out.Target = []types.Validator{}
	}
	for _, k := range keys {
		v, err := sr.validator(k, target)
		if err != nil {
			return err
		}
		if v == nil {
			return fmt.Errorf("candidate %s is listed but has no record at %d", k, sr.h)
		}
		out.Validators = append(out.Validators, *v)
	}
	return writeJSON(w, http.StatusOK, out)
}

func pubKeyParam(r *http.Request, name string) (crypto.PublicKey, error) {
	k, err := crypto.ParsePublicKey(strings.ToLower(r.PathValue(name)))
	if err != nil {
		return k, badRequest("%v (a validator is named by its public key, 64 hex characters)", err)
	}
	return k, nil
}

// stakingValidator is GET /v1/staking/validators/{key}.
func (s *Server) stakingValidator(w http.ResponseWriter, r *http.Request) error {
	k, err := pubKeyParam(r, "key")
	if err != nil {
		return err
	}
	sr, err := newStateReads(r, s.cfg.Backend.Ledger())
	if err != nil {
		return err
	}
	target, err := sr.target()
	if err != nil {
		return err
	}
	v, err := sr.validator(k, target)
	if err != nil {
		return err
	}
	if v == nil {
		return notFound("%s is not a registered candidate at height %d", k, sr.h)
	}
	out := client.StakingValidatorDetail{Height: sr.h, StakingValidator: *v, Delegators: []client.Delegation{},
		Unbonding: []client.UnbondingEntry{}, MissedHeights: []uint64{}, Proofs: sr.proofs}
	raw, ok, err := sr.get(types.DelegatorsKey(k))
	if err != nil {
		return err
	}
	var ds []crypto.Address
	if ok && len(raw) > 0 {
		if ds, err = types.DecodeAddresses(raw); err != nil {
			return fmt.Errorf("delegators of %s: %w", k, err)
		}
	}
	for _, d := range ds {
		amt, err := sr.U64(types.DelegationKey(k, d))
		if err != nil {
			return err
		}
		out.Delegators = append(out.Delegators, client.Delegation{Delegator: d, Validator: k, Amount: amt})
	}
	us, err := sr.Unbondings(k)
	if err != nil {
		return err
	}
	for _, u := range us {
		out.Unbonding = append(out.Unbonding, client.UnbondingEntry{Delegator: u.Delegator, Validator: k, Amount: u.Amount, ReleaseHeight: u.ReleaseHeight})
	}
	if raw, ok, err := sr.l.State().GetAt(types.MissedKey(k), sr.h); err != nil {
		return fmt.Errorf("missed precommits of %s: %w", k, err)
	} else if ok && len(raw) > 0 {
		if hs, err := types.DecodeHeights(raw); err == nil {
			out.MissedHeights = hs
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// stakingDelegator is GET /v1/staking/delegators/{address}.
func (s *Server) stakingDelegator(w http.ResponseWriter, r *http.Request) error {
	a, err := addressParam(r)
	if err != nil {
		return err
	}
	sr, err := newStateReads(r, s.cfg.Backend.Ledger())
	if err != nil {
		return err
	}
	raw, ok, err := sr.get(types.StakerKey(a))
	if err != nil {
		return err
	}
	st := &types.Staker{}
	if ok {
		if st, err = types.DecodeStaker(raw); err != nil {
			return fmt.Errorf("staker %s at %d: %w", a, sr.h, err)
		}
	}
	out := client.StakingDelegator{Height: sr.h, Address: a, Bonded: st.Bonded, Unbonding: st.Unbonding,
		Delegations: []client.Delegation{}, Entries: []client.UnbondingEntry{}, Votes: append([]crypto.PublicKey{}, st.Votes...), Proofs: sr.proofs}
	for _, k := range st.Delegations {
		amt, err := sr.U64(types.DelegationKey(k, a))
		if err != nil {
			return err
		}
		out.Delegations = append(out.Delegations, client.Delegation{Delegator: a, Validator: k, Amount: amt})
	}
	for _, k := range st.UnbondingFrom {
		us, err := sr.Unbondings(k)
		if err != nil {
			return err
		}
		for _, u := range us {
			if u.Delegator == a {
				out.Entries = append(out.Entries, client.UnbondingEntry{Delegator: a, Validator: k, Amount: u.Amount, ReleaseHeight: u.ReleaseHeight})
			}
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// stakingReward is GET /v1/staking/rewards?height=H: block H's reward
// receipt, read from the state after H.
func (s *Server) stakingReward(w http.ResponseWriter, r *http.Request) error {
	sr, err := newStateReads(r, s.cfg.Backend.Ledger())
	if err != nil {
		return err
	}
	out := client.StakingReward{Height: sr.h, Proofs: sr.proofs}
	raw, ok, err := sr.get(types.CoinbaseKey())
	if err != nil {
		return err
	}
	if ok {
		cb, err := types.DecodeCoinbase(raw)
		if err != nil {
			return fmt.Errorf("coinbase at %d: %w", sr.h, err)
		}
		if cb.Height == sr.h {
			out.Paid, out.Coinbase = true, cb
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// validatorStake is a candidate's record and delegators at the latest
// height for GET /v1/validators/{key}; nil when pub is no candidate.
func validatorStake(l *ledger.Ledger, pub crypto.PublicKey) (*client.ValidatorStake, error) {
	sr := &stateReads{l: l, h: l.Head().Height}
	sr.StakingReader = types.StakingReader{Get: sr.get}
	raw, ok, err := sr.get(types.CandidateKey(pub))
	if err != nil || !ok {
		return nil, err
	}
	c, err := types.DecodeCandidate(raw)
	if err != nil {
		return nil, fmt.Errorf("candidate %s: %w", pub, err)
	}
	out := &client.ValidatorStake{Candidate: *c, Delegators: []client.Delegation{}}
	raw, ok, err = sr.get(types.DelegatorsKey(pub))
	if err != nil || !ok || len(raw) == 0 {
		return out, err
	}
	ds, err := types.DecodeAddresses(raw)
	if err != nil {
		return nil, fmt.Errorf("delegators of %s: %w", pub, err)
	}
	for _, d := range ds {
		amt, err := sr.U64(types.DelegationKey(pub, d))
		if err != nil {
			return nil, err
		}
		out.Delegators = append(out.Delegators, client.Delegation{Delegator: d, Validator: pub, Amount: amt})
	}
	return out, nil
}
