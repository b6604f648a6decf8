package txfixtures

import (
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// The staking samples (types/staking.go): the sender registers
// StakingValidator's key as a candidate, delegates StakeAmount to it,
// undelegates UnstakeAmount, votes for it, unjails it (it is not jailed:
// a no-op that succeeds) and submits evidence that it double-precommitted
// at height 1, which slashes and jails it. The staking transactions keep
// their books on any chain, so these run on the samples' chain.
const (
	StakeAmount   uint64 = 100
	UnstakeAmount uint64 = 40
)

// StakingValidator is the consensus key the staking samples register.
func StakingValidator() *crypto.PrivateKey { return Key(3000) }

// EvidenceHeight is the height of the sample evidence's votes.
const EvidenceHeight = 1

func stakingSamples() map[types.TxType]func(string, *crypto.PrivateKey) types.Payload {
	v := StakingValidator()
	return map[types.TxType]func(string, *crypto.PrivateKey) types.Payload{
		types.TxValidatorRegister: func(chainID string, k *crypto.PrivateKey) types.Payload {
			p := &types.ValidatorRegister{Name: "fixture-validator", P2PAddr: "127.0.0.1:26656", CommissionBP: 500}
			types.SignRegistration(p, chainID, k.Public().Address(), v)
			return p
		},
		types.TxStakeDelegate: func(string, *crypto.PrivateKey) types.Payload {
			return &types.StakeDelegate{Validator: v.Public(), Amount: StakeAmount}
		},
		types.TxStakeUndelegate: func(string, *crypto.PrivateKey) types.Payload {
			return &types.StakeUndelegate{Validator: v.Public(), Amount: UnstakeAmount}
		},
		types.TxStakeVote: func(string, *crypto.PrivateKey) types.Payload {
			return &types.StakeVote{Candidates: []crypto.PublicKey{v.Public()}}
		},
		types.TxValidatorUnjail: func(string, *crypto.PrivateKey) types.Payload {
			return &types.ValidatorUnjail{Validator: v.Public()}
		},
		types.TxEvidenceSubmit: func(chainID string, _ *crypto.PrivateKey) types.Payload {
			return &types.EvidenceSubmit{Validator: v.Public(), Evidence: DoubleVote(chainID, v, EvidenceHeight, 0)}
		},
	}
}

// DoubleVote returns evidence (the consensus encoding) that k, as validator
// index, precommitted two different blocks at height and round 0.
func DoubleVote(chainID string, k *crypto.PrivateKey, height uint64, index uint16) []byte {
	a := types.SignVote(k, chainID, types.Precommit, height, 0, crypto.Sum([]byte("block a")), index)
	b := types.SignVote(k, chainID, types.Precommit, height, 0, crypto.Sum([]byte("block b")), index)
	out := []byte{byte(types.Precommit)}
	out = append(out, a.Encode()...)
	return append(out, b.Encode()...)
}
