package execute

import (
	"fmt"

	"github.com/cairn-db/cairn/types"
)

// validatorStep is the end-of-block step of the validator set
// (types/valset.go): the state after block h holds in NextValidatorsKey
// the set of height h+2, one StepTowards from the set of h+1 (the value
// before this block) to the target as this block left it. So a change to
// the target made at h is in force at h+2 when it fits in one step.
//
// Nothing is written when the step changes nothing, or when its result is
// not a valid set (a target whose path CheckValidatorPath refused): the
// set then stays as it is until the target changes.
func (x *executor) validatorStep() ([]Write, error) {
	ne, err := x.get(types.NextValidatorsKey())
	if err != nil {
		return nil, err
	}
	te, err := x.get(types.TargetValidatorsKey())
	if err != nil {
		return nil, err
	}
	if !ne.found || !te.found {
		return nil, nil // a state without a set (tests that build one by hand)
	}
	cur, err := types.DecodeValidators(ne.raw)
	if err != nil {
		return nil, fmt.Errorf("next validators: %w", err)
	}
	target, err := types.DecodeValidators(te.raw)
	if err != nil {
		return nil, fmt.Errorf("target validators: %w", err)
	}
	next := types.StepTowards(cur, target)
	if types.SameValidators(next, cur) {
		return nil, nil
	}
	if _, err := types.NewValidatorSet(next); err != nil {
		return nil, nil
	}
	w := Write{Key: types.NextValidatorsKey(), Value: types.EncodeValidators(next)}
	x.cache[string(w.Key)] = &entry{raw: w.Value, found: true}
	return []Write{w}, nil
}

// genesisValidators writes the genesis set as both the next and the
// target list, and each genesis validator's info (no p2p address: its
// peers know it from their configs).
func genesisValidators(g *types.Genesis) []Write {
	enc := types.EncodeValidators(g.Validators)
	ws := []Write{{Key: types.NextValidatorsKey(), Value: enc}, {Key: types.TargetValidatorsKey(), Value: enc}}
	for _, v := range g.Validators {
		ws = append(ws, Write{Key: types.ValidatorInfoKey(v.PublicKey), Value: types.ValidatorInfo{Name: v.Name}.Encode()})
	}
	return ws
}
