package execute

import (
	"bytes"
	"fmt"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/state"
	"github.com/cairn-db/cairn/internal/vm"
	"github.com/cairn-db/cairn/types"
)

// ContractReader is committed state with the two reads contracts need
// beyond Reader.Get: an ordered scan of latest values and a key's versions,
// newest first (internal/state's Tree, through the ledger).
type ContractReader interface {
	Get(key []byte) (value []byte, found bool, err error)
	// Scan calls fn for every committed key k with start <= k < end in key
	// order until fn returns false.
	Scan(start, end []byte, fn func(key, value []byte) (bool, error)) error
	// HistoryNewest returns up to limit committed versions of key, newest
	// first.
	HistoryNewest(key []byte, limit int) ([]state.Version, error)
}

// ContractState is the committed state as contracts see it: a vm.State
// (their own namespaces of the authenticated state and account balances)
// and a vm.Resolver (instances and code). Its reads decode the stored forms
// of types.ContractEntry, types.ContractInfo and types.Account; a stored
// value that does not decode is an error of the node, never of a contract.
type ContractState struct{ R ContractReader }

var (
	_ vm.State    = ContractState{}
	_ vm.Resolver = ContractState{}
)

// Get returns a contract key's live value.
func (s ContractState) Get(contract string, key []byte) ([]byte, bool, error) {
	v, found, err := s.R.Get(types.ContractKey(contract, key))
	if err != nil || !found {
		return nil, false, err
	}
	e, err := types.DecodeContractEntry(v)
	if err != nil {
		return nil, false, fmt.Errorf("contract %s key %x: %w", contract, key, err)
	}
	if e.Deleted {
		return nil, false, nil
	}
	return e.Value, true, nil
}

// Range returns up to limit live entries with start <= key < end (no upper
// bound when end is nil) in key order. Tombstones are skipped; each costs
// the node one step of the scan, never the contract a result.
func (s ContractState) Range(contract string, start, end []byte, limit int) ([]vm.KV, error) {
	if limit <= 0 {
		return nil, nil
	}
	from, to := types.ContractKeyRange(contract, start, end)
	prefix := len(types.ContractKeyPrefix(contract))
	var out []vm.KV
	err := s.R.Scan(from, to, func(k, v []byte) (bool, error) {
		e, err := types.DecodeContractEntry(v)
		if err != nil {
			return false, fmt.Errorf("contract %s key %x: %w", contract, k[prefix:], err)
		}
		if !e.Deleted {
			out = append(out, vm.KV{Key: bytes.Clone(k[prefix:]), Value: e.Value})
		}
		return len(out) < limit, nil
	})
	if err != nil {
		return nil, fmt.Errorf("range of contract %s: %w", contract, err)
	}
	return out, nil
}

// History returns up to limit committed versions of a contract key, newest
// first; a deletion is a version with Deleted set.
func (s ContractState) History(contract string, key []byte, limit int) ([]vm.Version, error) {
	vs, err := s.R.HistoryNewest(types.ContractKey(contract, key), limit)
	if err != nil {
		return nil, fmt.Errorf("history of contract %s key %x: %w", contract, key, err)
	}
	out := make([]vm.Version, 0, len(vs))
	for _, v := range vs {
		e, err := types.DecodeContractEntry(v.Value)
		if err != nil {
			return nil, fmt.Errorf("history of contract %s key %x at %d: %w", contract, key, v.Height, err)
		}
		out = append(out, vm.Version{Height: v.Height, Deleted: e.Deleted, Value: e.Value})
	}
	return out, nil
}

// Balance returns an account's committed balance.
func (s ContractState) Balance(a crypto.Address) (uint64, error) {
	v, found, err := s.R.Get(types.AccountKey(a))
	if err != nil || !found {
		return 0, err
	}
	acc, err := types.DecodeAccount(v)
	if err != nil {
		return 0, fmt.Errorf("account %s: %w", a, err)
	}
	return acc.Balance, nil
}

// Info returns a contract instance's metadata; a missing instance is a
// *types.TxError with vm.CodeNoSuchContract.
func (s ContractState) Info(name string) (*types.ContractInfo, error) {
	v, found, err := s.R.Get(types.ContractInfoKey(name))
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, types.Errf(vm.CodeNoSuchContract, "no contract %q", name)
	}
	info, err := types.DecodeContractInfo(v)
	if err != nil {
		return nil, fmt.Errorf("contract %s: %w", name, err)
	}
	return info, nil
}

// Resolve returns the code hash of a contract instance.
func (s ContractState) Resolve(name string) (crypto.Hash, error) {
	info, err := s.Info(name)
	if err != nil {
		return crypto.Hash{}, err
	}
	return info.CodeHash, nil
}

// CodeByHash returns deployed (instrumented) code.
func (s ContractState) CodeByHash(h crypto.Hash) ([]byte, error) {
	v, found, err := s.R.Get(types.ContractCodeKey(h))
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("no code %s deployed", h)
	}
	return v, nil
}

// ContractWrites turns the contract key writes a transaction's calls left
// in an overlay (in execution order) into state writes: one
// types.ContractEntry version per write, a delete as a tombstone.
func ContractWrites(ws []vm.Write, height uint64, tx crypto.Hash) []Write {
	out := make([]Write, 0, len(ws))
	for _, w := range ws {
		e := &types.ContractEntry{Height: height, TxHash: tx, Deleted: w.Delete, Value: w.Value}
		if w.Delete || e.Value == nil {
			e.Value = []byte{}
		}
		out = append(out, Write{Key: types.ContractKey(w.Contract, w.Key), Value: e.Encode()})
	}
	return out
}
