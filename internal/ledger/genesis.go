package ledger

import (
	"encoding/json"
	"fmt"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// GenesisHash identifies a chain's genesis: SHA-256 of its JSON encoding as
// produced by encoding/json (struct field order, no insignificant space).
func GenesisHash(g *types.Genesis) (crypto.Hash, error) {
	b, err := json.Marshal(g)
	if err != nil {
		return crypto.Hash{}, fmt.Errorf("genesis hash: %w", err)
	}
	return crypto.Sum(b), nil
}
