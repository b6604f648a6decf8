package txfixtures

import (
	"context"
	"sync"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/vm"
	"github.com/cairn-db/cairn/types"
)

// ContractName is the instance the contract samples create and call.
const ContractName = "fixture"

// ContractGas is the gas limit of the contract samples.
const ContractGas = 1_000_000

// ContractModule is the smallest useful contract, written by hand: it
// imports the host's put_state and exports cairn_invoke, which stores key
// "k" = "v" in the contract's namespace whatever it is called with (Init
// included).
var ContractModule = []byte("\x00asm\x01\x00\x00\x00" +
	"\x01\x0b\x02\x60\x04\x7f\x7f\x7f\x7f\x00\x60\x00\x00" + // types: (i32 i32 i32 i32) -> (), () -> ()
	"\x02\x13\x01\x05cairn\x09put_state\x00\x00" + // import cairn.put_state, type 0
	"\x03\x02\x01\x01" + // one function of type 1
	"\x05\x03\x01\x00\x01" + // one memory of 1 page
	"\x07\x10\x01\x0ccairn_invoke\x00\x01" + // export cairn_invoke = function 1
	"\x0a\x0e\x01\x0c\x00\x41\x00\x41\x01\x41\x01\x41\x01\x10\x00\x0b" + // put_state(0, 1, 1, 1)
	"\x0b\x08\x01\x00\x41\x00\x0b\x02kv") // memory[0..2] = "kv"

var (
	codeHashOnce sync.Once
	codeHash     crypto.Hash
)

// ContractCodeHash is the code hash ContractModule is deployed under (the
// SHA-256 of its instrumented form, as a validator stores it).
func ContractCodeHash() crypto.Hash {
	codeHashOnce.Do(func() {
		ctx := context.Background()
		e, err := vm.New(ctx, vm.Config{Interpreter: true})
		if err != nil {
			panic(err) // no engine at all: nothing any test could do
		}
		defer e.Close(ctx)
		code, err := e.Prepare(ctx, ContractModule)
		if err != nil {
			panic(err) // the module above is fixed and valid
		}
		codeHash = vm.CodeHash(code)
	})
	return codeHash
}

func contractSamples() map[types.TxType]func(string, *crypto.PrivateKey) types.Payload {
	return map[types.TxType]func(string, *crypto.PrivateKey) types.Payload{
		types.TxContractDeploy: func(string, *crypto.PrivateKey) types.Payload {
			return &types.ContractDeploy{Code: ContractModule}
		},
		types.TxContractInstantiate: func(_ string, k *crypto.PrivateKey) types.Payload {
			return &types.ContractInstantiate{Name: ContractName, CodeHash: ContractCodeHash(), Owner: k.Public().Address(), Args: []byte("init"), GasLimit: ContractGas}
		},
		types.TxContractInvoke: func(string, *crypto.PrivateKey) types.Payload {
			return &types.ContractInvoke{Name: ContractName, Function: "store", Args: []byte("x"), GasLimit: ContractGas, Funds: 50}
		},
		types.TxContractUpgrade: func(string, *crypto.PrivateKey) types.Payload {
			return &types.ContractUpgrade{Name: ContractName, CodeHash: ContractCodeHash()}
		},
	}
}
