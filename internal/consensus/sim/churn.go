package sim

import (
	"fmt"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// Validator set changes during a run (Config.Churn). The schedule keeps
// every validator's index equal to its node id, which the Byzantine
// behaviours rely on: the joiner (node n) is appended, a power change
// moves no index, and the joiner is the one that leaves again. Each change
// moves less than a third of the power (1 of 4, 1 of 5, 1 of 6 with equal
// powers), as the chain's StepTowards allows in one height. The validator
// whose power doubles is the first honest one, so the Byzantine power
// stays at most f of every set.
const (
	ChurnJoin  = 4  // the joiner is in the set from this height
	ChurnPower = 8  // an honest validator's power doubles from this height
	ChurnLeave = 12 // the joiner is out of the set from this height
)

// initChurn makes the joiner's key and the sets of the schedule.
func (s *sim) initChurn(roles []role) {
	n := len(s.keys)
	var seed [32]byte
	copy(seed[:], fmt.Sprintf("sim-%d-joiner", s.cfg.Seed))
	seed = crypto.Sum(seed[:])
	s.keys = append(s.keys, crypto.MustKeyFromSeed(seed))
	base := append([]types.Validator(nil), s.vs.Validators...)
	joined := append(append([]types.Validator(nil), base...), types.Validator{Name: fmt.Sprintf("v%d", n), PublicKey: s.keys[n].Public(), Power: 1})
	powered := append([]types.Validator(nil), joined...)
	for i, r := range roles {
		if r == honest {
			powered[i].Power *= 2
			break
		}
	}
	left := append([]types.Validator(nil), powered[:n]...)
	for _, vals := range [][]types.Validator{joined, powered, left} {
		vs, err := types.NewValidatorSet(vals)
		if err != nil {
			panic(err) // unreachable: distinct keys, positive powers
		}
		s.churn = append(s.churn, vs)
	}
}

// setAt is the validator set of height h.
func (s *sim) setAt(h uint64) *types.ValidatorSet {
	if !s.cfg.Churn {
		return s.vs
	}
	switch {
	case h >= ChurnLeave:
		return s.churn[2]
	case h >= ChurnPower:
		return s.churn[1]
	case h >= ChurnJoin:
		return s.churn[0]
	}
	return s.vs
}
