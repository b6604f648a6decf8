package types

import (
	"fmt"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
)

// Validator is one member of the validator set.
type Validator struct {
	Name      string           `json:"name"`
	PublicKey crypto.PublicKey `json:"public_key"`
	Power     uint64           `json:"power"`
}

// MaxValidators bounds the set so indexes fit in 16 bits.
const MaxValidators = 1 << 15

// ValidatorSet is an ordered set of validators. The order is fixed by genesis
// and gives each validator its index in certificates.
type ValidatorSet struct {
	Validators []Validator
	total      uint64
	index      map[crypto.PublicKey]int
	hash       crypto.Hash
}

// NewValidatorSet checks and indexes vals: at least one, distinct keys,
// positive power, total power without overflow.
func NewValidatorSet(vals []Validator) (*ValidatorSet, error) {
	if len(vals) == 0 || len(vals) > MaxValidators {
		return nil, fmt.Errorf("validator set: need 1..%d validators, got %d", MaxValidators, len(vals))
	}
	vs := &ValidatorSet{Validators: append([]Validator(nil), vals...), index: make(map[crypto.PublicKey]int, len(vals))}
	e := canon.Encoder{}
	e.U16(uint16(len(vals)))
	for i, v := range vals {
		if v.Power == 0 {
			return nil, fmt.Errorf("validator set: validator %d (%s) has zero power", i, v.Name)
		}
		if _, dup := vs.index[v.PublicKey]; dup {
			return nil, fmt.Errorf("validator set: duplicate public key %s", v.PublicKey)
		}
		if vs.total+v.Power < vs.total || vs.total+v.Power > 1<<60 {
			return nil, fmt.Errorf("validator set: total power overflows")
		}
		vs.total += v.Power
		vs.index[v.PublicKey] = i
		e.Fixed(v.PublicKey[:])
		e.U64(v.Power)
	}
	vs.hash = crypto.Sum(e.B)
	return vs, nil
}

// Len is the number of validators.
func (vs *ValidatorSet) Len() int { return len(vs.Validators) }

// TotalPower is the sum of voting power.
func (vs *ValidatorSet) TotalPower() uint64 { return vs.total }

// Quorum is the smallest power strictly greater than two thirds of the total:
// 2f+1 when n = 3f+1 validators have equal power. Any two quorums overlap in
// more than a third, hence in at least one honest validator.
func (vs *ValidatorSet) Quorum() uint64 { return vs.total*2/3 + 1 }

// MaxFaulty is the largest power strictly below a third of the total, f.
func (vs *ValidatorSet) MaxFaulty() uint64 { return (vs.total - 1) / 3 }

// Hash commits to the keys and powers in order (names are cosmetic).
func (vs *ValidatorSet) Hash() crypto.Hash { return vs.hash }

// IndexOf returns the index of pub, or -1.
func (vs *ValidatorSet) IndexOf(pub crypto.PublicKey) int {
	if i, ok := vs.index[pub]; ok {
		return i
	}
	return -1
}

// Proposer returns the index of the proposer for height and round: weighted
// round-robin, each validator taking as many consecutive turns as its power.
// Every validator computes the same answer from the set alone.
func (vs *ValidatorSet) Proposer(height uint64, round uint32) int {
	slot := (height + uint64(round)) % vs.total
	for i, v := range vs.Validators {
		if slot < v.Power {
			return i
		}
		slot -= v.Power
	}
	return 0 // unreachable: slot < total
}
