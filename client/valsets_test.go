package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// A client that trusts only the genesis set walks a set change (a
// validator's power doubled by validator.update) and gets the set of a
// later height, with which that height's block verifies; the genesis set
// alone no longer verifies it.
func TestVerifyValidatorSetsWalksFromGenesis(t *testing.T) {
	var gov *crypto.PrivateKey
	c := apitest.New(t, apitest.Options{Validators: 7, Genesis: func(g *types.Genesis) {
		gov = apitest.Key('u', 0)
		g.Params.GovernanceThreshold = 1
		g.Roles = []types.Role{{Name: types.RoleGovernors, Members: []crypto.Address{gov.Public().Address()}}}
	}})
	ctx := context.Background()
	genesis := c.Ledger.GenesisValidators()
	up := &types.ValidatorUpdate{Op: types.ValidatorSetPower, PublicKey: c.ValKeys[0].Public(), Power: 2, Approvals: []types.Approval{}}
	c.CommitBlock(apitest.Tx(gov, 1, up))
	for i := 0; i < 3; i++ {
		c.CommitBlock()
	}
	h := c.Ledger.Head().Height
	cl := c.Client()
	vs, err := cl.VerifyValidatorSets(ctx, c.Genesis.ChainID, genesis, h)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := c.Ledger.ValidatorsAt(h)
	if vs.Hash() != want.Hash() || vs.Hash() == genesis.Hash() || vs.TotalPower() != 8 {
		t.Fatalf("walked set %s (power %d), the ledger's %s", vs.Hash(), vs.TotalPower(), want.Hash())
	}
	b, err := cl.Block(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Verify(c.Genesis.ChainID, vs); err != nil {
		t.Fatalf("block %d against the walked set: %v", h, err)
	}
	if err := b.Verify(c.Genesis.ChainID, genesis); !errors.Is(err, client.ErrVerify) {
		t.Fatalf("block %d against the genesis set: %v", h, err)
	}
	// A wrong genesis set is refused.
	other, _ := types.NewValidatorSet([]types.Validator{{Name: "x", PublicKey: apitest.Key('x', 1).Public(), Power: 1}})
	if _, err := cl.VerifyValidatorSets(ctx, c.Genesis.ChainID, other, h); !errors.Is(err, client.ErrVerify) {
		t.Fatalf("walk from a foreign genesis set: %v", err)
	}
}
