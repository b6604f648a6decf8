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

// validatorUpdate applies a validator.update whose approvals Authorize
// checked: it changes the target list, and for an add writes the
// validator's info. Refused, changing nothing: adding a key already in the
// target, removing or re-weighting one that is not, setting the power it
// already has, removing the last validator, and a target the set cannot
// step to (types.CheckValidatorPath: a proposer cycle or total power out of
// bounds on the way).
func (x *executor) validatorUpdate(p *types.ValidatorUpdate) ([]Write, error) {
	te, err := x.get(types.TargetValidatorsKey())
	if err != nil {
		return nil, err
	}
	ne, err := x.get(types.NextValidatorsKey())
	if err != nil {
		return nil, err
	}
	if !te.found || !ne.found {
		return nil, types.Errf(types.CodeInvalid, "this chain's state holds no validator set")
	}
	target, err := types.DecodeValidators(te.raw)
	if err != nil {
		return nil, fmt.Errorf("target validators: %w", err)
	}
	next, err := types.DecodeValidators(ne.raw)
	if err != nil {
		return nil, fmt.Errorf("next validators: %w", err)
	}
	i := -1
	for j, v := range target {
		if v.PublicKey == p.PublicKey {
			i = j
		}
	}
	var ws []Write
	switch p.Op {
	case types.ValidatorAdd:
		if i >= 0 {
			return nil, types.Errf(types.CodeInvalid, "validator %s (%s) is already in the validator set", p.PublicKey, target[i].Name)
		}
		target = append(target, types.Validator{Name: p.Name, PublicKey: p.PublicKey, Power: p.Power})
		ws = append(ws, Write{Key: types.ValidatorInfoKey(p.PublicKey), Value: types.ValidatorInfo{Name: p.Name, Addr: p.Addr}.Encode()})
	case types.ValidatorRemove:
		if i < 0 {
			return nil, types.Errf(types.CodeNotFound, "validator %s is not in the validator set", p.PublicKey)
		}
		if len(target) == 1 {
			return nil, types.Errf(types.CodeInvalid, "removing %s would leave no validator", target[i].Name)
		}
		target = append(target[:i:i], target[i+1:]...)
	case types.ValidatorSetPower:
		if i < 0 {
			return nil, types.Errf(types.CodeNotFound, "validator %s is not in the validator set", p.PublicKey)
		}
		if target[i].Power == p.Power {
			return nil, types.Errf(types.CodeInvalid, "validator %s already has power %d", target[i].Name, p.Power)
		}
		target = append([]types.Validator(nil), target...)
		target[i].Power = p.Power
	default:
		return nil, types.Errf(types.CodeMalformed, "unknown validator op %d", p.Op)
	}
	if _, err := types.CheckValidatorPath(next, target); err != nil {
		return nil, types.Errf(types.CodeInvalid, "validator set after this change: %v", err)
	}
	return append(ws, Write{Key: types.TargetValidatorsKey(), Value: types.EncodeValidators(target)}), nil
}
