package ledger

import (
	"fmt"

	"github.com/cairn-db/cairn/types"
)

// Coinbase returns the reward receipt of the block at height
// (docs/staking.md), nil when that block paid no reward: the chain's
// block-reward step is no transaction, so it has no receipt; the search
// index reads it here, from the state after the block.
func (l *Ledger) Coinbase(height uint64) (*types.Coinbase, error) {
	if height == 0 || !l.genesis.Params.DPoS() {
		return nil, nil
	}
	raw, ok, err := l.state.GetAt(types.CoinbaseKey(), height)
	if err != nil || !ok {
		return nil, err
	}
	cb, err := types.DecodeCoinbase(raw)
	if err != nil {
		return nil, fmt.Errorf("coinbase at %d: %w", height, err)
	}
	if cb.Height != height {
		return nil, nil
	}
	return cb, nil
}

// Unbonded returns the stake the block at height released to its
// delegators' balances (unbonding entries that matured there, in the order
// the block paid them), nil when none did. Like the reward, the release is
// a step of the chain, not a transaction; the search index reads it here,
// from the state before the block, with the rule the block applied.
func (l *Ledger) Unbonded(height uint64) ([]types.Payment, error) {
	if height == 0 || !l.genesis.Params.DPoS() {
		return nil, nil
	}
	r := types.StakingReader{Get: func(key []byte) ([]byte, bool, error) { return l.state.GetAt(key, height-1) }}
	queue, err := r.Keys(types.UnbondingQueueKey(height))
	if err != nil {
		return nil, fmt.Errorf("unbonded at %d: %w", height, err)
	}
	var out []types.Payment
	for _, pub := range queue {
		us, err := r.Unbondings(pub)
		if err != nil {
			return nil, fmt.Errorf("unbonded at %d: %w", height, err)
		}
		for _, u := range us {
			if u.ReleaseHeight <= height {
				out = append(out, types.Payment{Address: u.Delegator, Amount: u.Amount})
			}
		}
	}
	return out, nil
}
