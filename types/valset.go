package types

import (
	"bytes"
	"fmt"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
)

// The validator set lives in the authenticated state under one prefix, 'v'
// (docs/consensus.md, "Validator set changes"):
//
//   - NextValidatorsKey: the list in force at height h+2, in the state after
//     block h. Genesis writes the genesis set (so heights 1 and 2 use it);
//     afterwards only execute's end-of-block step writes it, one
//     StepTowards of the target at a time.
//   - TargetValidatorsKey: the set the chain is moving towards, written by
//     validator.update (permissioned chains) or by the DPoS epoch step.
//     Genesis writes the genesis set.
//   - ValidatorInfoKey(pub): what a node needs to reach a validator and is
//     not part of the set's hash: its name and p2p address.
const (
	stateValidatorPrefix = 'v'
	valsNextTag          = 'n'
	valsTargetTag        = 't'
	valsInfoTag          = 'i'
)

// Validator governance modes (Params.ValidatorGovernance).
const (
	// GovernancePermissioned: validator.update with the governors' m-of-n
	// approvals moves the target (the default, "").
	GovernancePermissioned = "permissioned"
	// GovernanceDPoS: the staking epoch step writes the target;
	// validator.update is refused.
	GovernanceDPoS = "dpos"
)

// MaxValidatorNameBytes bounds a validator's name; MaxValidatorAddrBytes its
// p2p address (host:port).
const (
	MaxValidatorNameBytes = 64
	MaxValidatorAddrBytes = 255
)

// NextValidatorsKey is the state key of the validator list in force two
// heights after the block that wrote the state.
func NextValidatorsKey() []byte { return []byte{stateValidatorPrefix, valsNextTag} }

// TargetValidatorsKey is the state key of the set the chain moves towards.
func TargetValidatorsKey() []byte { return []byte{stateValidatorPrefix, valsTargetTag} }

// ValidatorInfoKey is the state key of a validator's metadata.
func ValidatorInfoKey(pub crypto.PublicKey) []byte {
	return append([]byte{stateValidatorPrefix, valsInfoTag}, pub[:]...)
}

// EncodeValidators returns the canonical bytes of a validator list: a u16
// count, then per validator its name (u16 length), key (32 bytes) and power
// (u64), in list order. The order is meaningful (it gives each validator
// its index in certificates): StepTowards keeps the current order, removes
// leavers in place and appends joiners in the target's order.
func EncodeValidators(vals []Validator) []byte {
	e := canon.Encoder{B: make([]byte, 0, 2+len(vals)*(2+16+32+8))}
	e.U16(uint16(len(vals)))
	for _, v := range vals {
		e.Bytes16([]byte(v.Name))
		e.Fixed(v.PublicKey[:])
		e.U64(v.Power)
	}
	return e.B
}

// DecodeValidators parses EncodeValidators' bytes. It checks the encoding
// only; NewValidatorSet checks the set.
func DecodeValidators(b []byte) ([]Validator, error) {
	d := canon.NewDecoder(b, "validator list", ErrNonCanonical)
	n := int(d.U16("count"))
	if n > MaxValidators {
		d.Fail("%d validators, at most %d", n, MaxValidators)
	}
	var vals []Validator
	if d.Err() == nil {
		vals = make([]Validator, 0, n)
	}
	for i := 0; i < n && d.Err() == nil; i++ {
		var v Validator
		v.Name = string(d.Bytes16("name", MaxValidatorNameBytes))
		d.Fixed(v.PublicKey[:], "public_key")
		v.Power = d.U64("power")
		vals = append(vals, v)
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return vals, nil
}

// ValidatorInfo is a validator's metadata outside the set hash.
type ValidatorInfo struct {
	Name string `json:"name"`
	// Addr is where peers dial the validator (host:port); empty for a
	// genesis validator (its peers know it from their configs).
	Addr string `json:"p2p_addr,omitempty"`
}

// Encode returns the canonical bytes: name and address, each behind a u16
// length.
func (v ValidatorInfo) Encode() []byte {
	e := canon.Encoder{}
	e.Bytes16([]byte(v.Name))
	e.Bytes16([]byte(v.Addr))
	return e.B
}

// DecodeValidatorInfo parses ValidatorInfo bytes.
func DecodeValidatorInfo(b []byte) (ValidatorInfo, error) {
	d := canon.NewDecoder(b, "validator info", ErrNonCanonical)
	v := ValidatorInfo{Name: string(d.Bytes16("name", MaxValidatorNameBytes)), Addr: string(d.Bytes16("p2p_addr", MaxValidatorAddrBytes))}
	return v, d.Finish()
}

// SameValidators reports whether a and b list the same keys with the same
// powers in the same order (names are cosmetic and ignored).
func SameValidators(a, b []Validator) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].PublicKey != b[i].PublicKey || a[i].Power != b[i].Power {
			return false
		}
	}
	return true
}

// SameMembers reports whether a and b give the same keys the same powers,
// in any order: StepTowards has nothing left to do.
func SameMembers(a, b []Validator) bool {
	if len(a) != len(b) {
		return false
	}
	pow := make(map[crypto.PublicKey]uint64, len(a))
	for _, v := range a {
		pow[v.PublicKey] = v.Power
	}
	for _, v := range b {
		if p, ok := pow[v.PublicKey]; !ok || p != v.Power {
			return false
		}
	}
	return true
}

// StepTowards returns the set that follows cur on the way to target. It
// moves strictly less than a third of cur's total power, counting per key
// the absolute change of its power (a join counts the power it enters
// with, a leave its whole old power), so a bigger change is spread over
// consecutive heights: a joiner may enter with part of its power and grow,
// a leaver shrink before it goes.
//
// Every move is a multiple of the greatest common divisor g of all the
// powers in cur and target, which keeps the intermediate sets' proposer
// cycles in the same range as the two ends'. When no such move fits under
// a third (a total power below 4, or a g that large) the step moves g once:
// a step always makes progress, so the target is reached after finitely
// many heights.
//
// The moves are applied in a fixed order: first joins and power increases
// in target order, then decreases and leaves in cur order; so power is
// added before it is taken away (a replacement never dips the total) and
// the result is never empty. The result keeps cur's order, leavers removed
// in place, joiners appended in target order (with target's name; a
// member keeps its name). No result has a zero power. Target entries
// with zero power are ignored; an empty target leaves cur unchanged.
func StepTowards(cur, target []Validator) []Validator {
	out := append([]Validator(nil), cur...)
	tgt := make([]Validator, 0, len(target))
	for _, t := range target {
		if t.Power > 0 {
			tgt = append(tgt, t)
		}
	}
	if len(tgt) == 0 || SameMembers(cur, tgt) {
		return out
	}
	var total, g uint64
	for _, v := range cur {
		total += v.Power
		g = gcd(g, v.Power)
	}
	for _, t := range tgt {
		g = gcd(g, t.Power)
	}
	budget := (total - 1) / 3 // the largest integer strictly below total/3
	if total == 0 {
		budget = 0
	}
	budget = budget / g * g
	if budget == 0 {
		budget = g
	}
	want := make(map[crypto.PublicKey]Validator, len(tgt))
	for _, t := range tgt {
		want[t.PublicKey] = t
	}
	// Joins and increases, in target order.
	for _, t := range tgt {
		if budget == 0 {
			break
		}
		i := indexOfKey(out, t.PublicKey)
		if i < 0 {
			p := min(t.Power, budget)
			out = append(out, Validator{Name: t.Name, PublicKey: t.PublicKey, Power: p})
			budget -= p
			continue
		}
		if out[i].Power < t.Power {
			d := min(t.Power-out[i].Power, budget)
			out[i].Power += d
			budget -= d
		}
	}
	// Decreases and leaves, in cur order.
	kept := out[:0]
	for _, v := range out {
		t, stays := want[v.PublicKey]
		if budget > 0 && v.Power > t.Power {
			d := v.Power - t.Power // t.Power is 0 for a leaver
			switch {
			case d <= budget && !stays:
				budget -= d
				continue // leaves
			case d <= budget:
				v.Power, budget = t.Power, budget-d
			default:
				v.Power, budget = v.Power-budget, 0
			}
		}
		kept = append(kept, v)
	}
	if len(kept) == 0 { // unreachable (see above); never return an empty set
		return append([]Validator(nil), cur...)
	}
	return kept
}

func indexOfKey(vals []Validator, pub crypto.PublicKey) int {
	for i, v := range vals {
		if bytes.Equal(v.PublicKey[:], pub[:]) {
			return i
		}
	}
	return -1
}

// MaxValidatorSteps bounds the heights CheckValidatorPath follows.
const MaxValidatorSteps = 1000

// CheckValidatorPath checks that the chain can move from cur to target:
// target is a valid set and every intermediate set StepTowards produces
// is one too (its total power and proposer cycle within bounds), within
// MaxValidatorSteps heights. It returns the number of steps. Execute keeps
// the current set when a step's result is not a valid set, so whoever
// writes a target checks its path first.
func CheckValidatorPath(cur, target []Validator) (int, error) {
	if _, err := NewValidatorSet(target); err != nil {
		return 0, fmt.Errorf("target %w", err)
	}
	s := cur
	for n := 0; n <= MaxValidatorSteps; n++ {
		if SameMembers(s, target) {
			return n, nil
		}
		s = StepTowards(s, target)
		if _, err := NewValidatorSet(s); err != nil {
			return 0, fmt.Errorf("step %d towards the target: %w", n+1, err)
		}
	}
	return 0, fmt.Errorf("the target is more than %d steps away", MaxValidatorSteps)
}
