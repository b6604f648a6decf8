package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// The validator set of any height, and walking set changes from genesis
// (docs/consensus.md, "Validator set changes"; docs/api.md).

// ValidatorEntry is one validator of a set.
type ValidatorEntry struct {
	Index     uint16           `json:"index"`
	Name      string           `json:"name"`
	PublicKey crypto.PublicKey `json:"public_key"`
	Power     uint64           `json:"power"`
	Addr      string           `json:"p2p_addr,omitempty"`
}

// SetChange is a height from which another validator set is in force.
type SetChange struct {
	From           uint64      `json:"from"`
	ValidatorsHash crypto.Hash `json:"validators_hash"`
	Validators     int         `json:"validators"`
}

// ValidatorSet is GET /v1/validators?height=H: the set of height H, its
// hash, powers and the round-0 proposer; the set changes up to H; and the
// certified header of H-1, whose next_validators_hash commits to the set
// (absent for H = 1, whose set genesis fixes, and for H = head+2).
type ValidatorSet struct {
	Height         uint64           `json:"height"`
	Validators     []ValidatorEntry `json:"validators"`
	ValidatorsHash crypto.Hash      `json:"validators_hash"`
	TotalPower     uint64           `json:"total_power"`
	QuorumPower    uint64           `json:"quorum_power"`
	Proposer       ValidatorEntry   `json:"proposer"`
	Changes        []SetChange      `json:"changes"`
	CertifiedBy    *CertifiedHeader `json:"certified_by,omitempty"`
}

// Set returns the answer's validators as a types.ValidatorSet, checked
// against its hash.
func (v *ValidatorSet) Set() (*types.ValidatorSet, error) {
	vals := make([]types.Validator, len(v.Validators))
	for i, e := range v.Validators {
		vals[i] = types.Validator{Name: e.Name, PublicKey: e.PublicKey, Power: e.Power}
	}
	vs, err := types.NewValidatorSet(vals)
	if err != nil {
		return nil, verifyErr("validator set of height %d: %v", v.Height, err)
	}
	if vs.Hash() != v.ValidatorsHash {
		return nil, verifyErr("validator set of height %d hashes to %s, the answer says %s", v.Height, vs.Hash(), v.ValidatorsHash)
	}
	return vs, nil
}

// ValidatorStanding is GET /v1/validators/{key}: a validator in the set of
// the next height (Height) and in the target the set moves towards.
type ValidatorStanding struct {
	PublicKey   crypto.PublicKey `json:"public_key"`
	Name        string           `json:"name"`
	Addr        string           `json:"p2p_addr,omitempty"`
	Height      uint64           `json:"height"`
	InSet       bool             `json:"in_set"`
	Index       uint16           `json:"index,omitempty"`
	Power       uint64           `json:"power"`
	InTarget    bool             `json:"in_target"`
	TargetPower uint64           `json:"target_power"`
	// Stake is its staking record and delegators when it is a registered
	// candidate (docs/staking.md; /v1/staking/validators/{key} proves them).
	Stake *ValidatorStake `json:"stake,omitempty"`
}

// Validators returns the validator set of height (0: the next height).
func (c *Client) Validators(ctx context.Context, height uint64) (*ValidatorSet, error) {
	var q url.Values
	if height > 0 {
		q = url.Values{"height": {strconv.FormatUint(height, 10)}}
	}
	var v ValidatorSet
	if _, err := c.do(ctx, http.MethodGet, "/v1/validators", q, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Validator returns one validator's standing.
func (c *Client) Validator(ctx context.Context, pub crypto.PublicKey) (*ValidatorStanding, error) {
	var v ValidatorStanding
	if _, err := c.do(ctx, http.MethodGet, "/v1/validators/"+pub.String(), nil, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// ValidatorChange is a set change a walk verified: the set in force from
// height From.
type ValidatorChange struct {
	From uint64
	Set  *types.ValidatorSet
}

// VerifyValidatorSets returns the validator set of height, verified by
// walking every set change from the genesis set, the only set the caller
// trusts (WalkValidatorSets). The result certifies headers of height
// (Block.Verify, KVProof.Verify with it).
func (c *Client) VerifyValidatorSets(ctx context.Context, chainID string, genesis *types.ValidatorSet, height uint64) (*types.ValidatorSet, error) {
	changes, err := c.WalkValidatorSets(ctx, chainID, genesis, height)
	if err != nil {
		return nil, err
	}
	return changes[len(changes)-1].Set, nil
}

// WalkValidatorSets verifies every set change up to height from the
// genesis set: for each change from height F, the node's certified header
// of F-1 must verify against the set already verified (the set of F-1) and
// its next_validators_hash must be the new set's hash. It returns the
// changes, the first the genesis set from height 1.
//
// A node that leaves a change out is caught when a header's certificate
// or next_validators_hash no longer matches the set the walk holds.
func (c *Client) WalkValidatorSets(ctx context.Context, chainID string, genesis *types.ValidatorSet, height uint64) ([]ValidatorChange, error) {
	target, err := c.Validators(ctx, height)
	if err != nil {
		return nil, err
	}
	cur := genesis
	out := []ValidatorChange{{From: 1, Set: genesis}}
	for _, ch := range target.Changes {
		if ch.From <= 1 {
			if ch.ValidatorsHash != genesis.Hash() {
				return nil, verifyErr("the node's set of height 1 is %s, genesis says %s", ch.ValidatorsHash, genesis.Hash())
			}
			continue
		}
		step := target
		if ch.From != target.Height {
			if step, err = c.Validators(ctx, ch.From); err != nil {
				return nil, err
			}
		}
		if cur, err = verifySetStep(chainID, cur, step); err != nil {
			return nil, err
		}
		out = append(out, ValidatorChange{From: ch.From, Set: cur})
	}
	if cur.Hash() != target.ValidatorsHash {
		return nil, verifyErr("walking the changes gives set %s at height %d, the node says %s", cur.Hash(), target.Height, target.ValidatorsHash)
	}
	return out, nil
}

// verifySetStep checks one change: step's certified header (of
// step.Height-1) verifies against cur and names step's set as the next.
func verifySetStep(chainID string, cur *types.ValidatorSet, step *ValidatorSet) (*types.ValidatorSet, error) {
	next, err := step.Set()
	if err != nil {
		return nil, err
	}
	cb := step.CertifiedBy
	if cb == nil || cb.Height+1 != step.Height {
		return nil, verifyErr("set of height %d: no certified header of height %d in the answer", step.Height, step.Height-1)
	}
	h, err := verifyCertifiedHeader(chainID, cur, cb.HeaderHex, cb.Certificate)
	if err != nil {
		return nil, verifyErr("set of height %d: header %d: %v", step.Height, cb.Height, err)
	}
	if h.NextValidatorsHash != next.Hash() {
		return nil, verifyErr("set of height %d: header %d names next set %s, the answer's set is %s", step.Height, cb.Height, h.NextValidatorsHash, next.Hash())
	}
	return next, nil
}
