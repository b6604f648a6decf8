package types

import (
	"fmt"

	"github.com/cairn-db/cairn/crypto"
)

// StakingReader decodes the staking records of a state read through Get:
// the one decoding both execution (over its staged writes) and the API (at
// a height, collecting proofs) use. An absent or empty record reads as its
// zero value: no candidate (nil), no keys, 0, an empty staker.
type StakingReader struct {
	Get func(key []byte) (value []byte, found bool, err error)
}

// Candidate reads a validator candidate; nil when pub is none.
func (r StakingReader) Candidate(pub crypto.PublicKey) (*Candidate, error) {
	v, ok, err := r.Get(CandidateKey(pub))
	if err != nil || !ok {
		return nil, err
	}
	c, err := DecodeCandidate(v)
	if err != nil {
		return nil, fmt.Errorf("candidate %s: %w", pub, err)
	}
	return c, nil
}

// Keys reads a list of public keys stored under key.
func (r StakingReader) Keys(key []byte) ([]crypto.PublicKey, error) {
	v, ok, err := r.Get(key)
	if err != nil || !ok || len(v) == 0 {
		return nil, err
	}
	ks, err := DecodeKeys(v)
	if err != nil {
		return nil, fmt.Errorf("state key %x: %w", key, err)
	}
	return ks, nil
}

// U64 reads a counter stored under key.
func (r StakingReader) U64(key []byte) (uint64, error) {
	v, ok, err := r.Get(key)
	if err != nil || !ok || len(v) == 0 {
		return 0, err
	}
	n, err := DecodeU64(v)
	if err != nil {
		return 0, fmt.Errorf("state key %x: %w", key, err)
	}
	return n, nil
}

// Delegators reads the accounts delegating to a candidate.
func (r StakingReader) Delegators(pub crypto.PublicKey) ([]crypto.Address, error) {
	v, ok, err := r.Get(DelegatorsKey(pub))
	if err != nil || !ok || len(v) == 0 {
		return nil, err
	}
	as, err := DecodeAddresses(v)
	if err != nil {
		return nil, fmt.Errorf("delegators of %s: %w", pub, err)
	}
	return as, nil
}

// Staker reads an account's delegations and votes; empty when it has none.
func (r StakingReader) Staker(a crypto.Address) (*Staker, error) {
	v, ok, err := r.Get(StakerKey(a))
	if err != nil || !ok {
		return &Staker{}, err
	}
	s, err := DecodeStaker(v)
	if err != nil {
		return nil, fmt.Errorf("staker %s: %w", a, err)
	}
	return s, nil
}

// Unbondings reads the stake leaving a candidate, oldest first.
func (r StakingReader) Unbondings(pub crypto.PublicKey) ([]Unbonding, error) {
	v, ok, err := r.Get(UnbondingKey(pub))
	if err != nil || !ok || len(v) == 0 {
		return nil, err
	}
	us, err := DecodeUnbondings(v)
	if err != nil {
		return nil, fmt.Errorf("unbonding from %s: %w", pub, err)
	}
	return us, nil
}

// Totals reads the staking totals (bonded, unbonding, issued, slashed).
func (r StakingReader) Totals() (StakingTotals, error) {
	v, ok, err := r.Get(StakingTotalsKey())
	if err != nil || !ok {
		return StakingTotals{}, err
	}
	t, err := DecodeStakingTotals(v)
	if err != nil {
		return t, fmt.Errorf("staking totals: %w", err)
	}
	return t, nil
}

// Validators reads a validator list (the next or target set, a recorded
// one) stored under key, and whether it is there.
func (r StakingReader) Validators(key []byte) ([]Validator, bool, error) {
	v, ok, err := r.Get(key)
	if err != nil || !ok {
		return nil, false, err
	}
	vals, err := DecodeValidators(v)
	if err != nil {
		return nil, false, fmt.Errorf("validator list %x: %w", key, err)
	}
	return vals, true, nil
}
