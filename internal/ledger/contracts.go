package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/state"
	"github.com/cairn-db/cairn/internal/vm"
	"github.com/cairn-db/cairn/types"
)

// readerAt is the committed state as of the end of one height, as
// contracts read it (an execute.ContractReader).
//
// Range reads at a height scan the latest keys and read each at the
// height: a contract key never leaves the latest index once written (a
// delete is a tombstone version), so every key live at the height is
// among them.
type readerAt struct {
	s *state.Tree
	h uint64
}

func (r readerAt) Get(key []byte) ([]byte, bool, error) { return r.s.GetAt(key, r.h) }

func (r readerAt) Scan(start, end []byte, fn func(key, value []byte) (bool, error)) error {
	return r.s.Scan(start, end, func(k, _ []byte) (bool, error) {
		v, found, err := r.s.GetAt(k, r.h)
		if err != nil || !found {
			return err == nil, err
		}
		return fn(k, v)
	})
}

func (r readerAt) HistoryNewest(key []byte, limit int) ([]state.Version, error) {
	return r.s.HistoryNewestAt(key, r.h, limit)
}

// ContractsAt is the committed state of contracts as of the end of height
// h (at most the head).
func (l *Ledger) ContractsAt(h uint64) (execute.ContractState, error) {
	if head := l.Head().Height; h > head {
		return execute.ContractState{}, fmt.Errorf("contracts at height %d: head is %d: %w", h, head, ErrNotFound)
	}
	return execute.ContractState{R: readerAt{s: l.state, h: h}}, nil
}

// ContractInfos returns up to limit contract instances with names after
// after, in name order, as of the latest committed height.
func (l *Ledger) ContractInfos(after string, limit int) ([]*types.ContractInfo, error) {
	start, end := types.ContractInfoRange()
	if after != "" {
		start = append(types.ContractInfoKey(after), 0)
	}
	var out []*types.ContractInfo
	err := l.state.Scan(start, end, func(k, v []byte) (bool, error) {
		info, err := types.DecodeContractInfo(v)
		if err != nil {
			return false, fmt.Errorf("contract info %q: %w", k[1:], err)
		}
		out = append(out, info)
		return len(out) < limit, nil
	})
	return out, err
}

// QueryResult is the outcome of a read-only contract call.
type QueryResult struct {
	Height  uint64
	Outcome *vm.Outcome
}

// Query runs a read-only call of contract name's function fn at height h
// (the state as of the end of h, the block time of h), with gasLimit: a
// contract's writes, events and transfers fail it with read_only. caller is
// what the contract sees as its caller. A missing contract, like any
// failure of the contract, is in the outcome's Err; the error is for
// failures of the node.
func (l *Ledger) Query(ctx context.Context, name, fn string, args []byte, gasLimit uint64, h uint64, caller crypto.Address) (*QueryResult, error) {
	cs, err := l.ContractsAt(h)
	if err != nil {
		return nil, err
	}
	timeMs := l.genesis.GenesisTime
	if h > 0 {
		hdr, err := l.store.Header(h)
		if err != nil {
			return nil, err
		}
		timeMs = hdr.Time
	}
	info, err := cs.Info(name)
	if err != nil {
		var te *types.TxError
		if errors.As(err, &te) {
			return &QueryResult{Height: h, Outcome: &vm.Outcome{Err: te}}, nil
		}
		return nil, err
	}
	env := vm.Env{Contract: name, Self: types.ContractAddress(name), Caller: caller, Height: h,
		Time: timeMs * int64(time.Millisecond), ReadOnly: true}
	out, err := l.contracts.Call(ctx, nil, vm.NewOverlay(cs), cs, info.CodeHash, env, vm.KindQuery, fn, args, gasLimit)
	if err != nil {
		return nil, fmt.Errorf("query %s.%s at %d: %w", name, fn, h, err)
	}
	return &QueryResult{Height: h, Outcome: out}, nil
}
