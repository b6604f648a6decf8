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
