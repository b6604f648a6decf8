package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/cairn-db/cairn/internal/vm"
	"github.com/cairn-db/cairn/types"
)

// contractGas is the gas limit of each invoke of a contract run: a voucher
// issue uses about 0.2 M, and the block's first call of the contract about
// 1.2 M (it fills encoding/json's caches).
const contractGas = 10_000_000

// deployContract deploys Options.Contract from the faucet and instantiates
// it under a name of this run, which the invokes then call.
func (r *runner) deployContract(ctx context.Context) error {
	ectx := context.Background()
	eng, err := vm.New(ectx, vm.Config{})
	if err != nil {
		return fmt.Errorf("bench: contract engine: %w", err)
	}
	code, err := eng.Prepare(ectx, r.o.Contract)
	eng.Close(ectx)
	if err != nil {
		return fmt.Errorf("bench: the contract would be refused: %w", err)
	}
	faucet, err := r.o.Network.LoadFaucetKey()
	if err != nil {
		return err
	}
	c := r.clients[r.o.Nodes[0]]
	s := c.NewSigner(faucet, r.o.Network.ChainID)
	r.contract = fmt.Sprintf("bench-%d", time.Now().UnixNano())
	for _, step := range []func() (*types.Tx, error){
		func() (*types.Tx, error) { return s.Deploy(ctx, r.o.Contract) },
		func() (*types.Tx, error) {
			return s.Instantiate(ctx, r.contract, vm.CodeHash(code), faucet.Public().Address(), nil, contractGas)
		},
	} {
		tx, err := step()
		if err != nil {
			return fmt.Errorf("bench: contract: %w", err)
		}
		res, err := c.SubmitWait(ctx, tx, 60*time.Second)
		if err != nil {
			return fmt.Errorf("bench: contract %s: %w", tx.Type(), err)
		}
		if res.Receipt == nil || !res.Receipt.OK {
			return fmt.Errorf("bench: contract %s did not commit: %+v", tx.Type(), res)
		}
	}
	return nil
}
