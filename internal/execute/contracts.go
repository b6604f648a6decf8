package execute

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/vm"
	"github.com/cairn-db/cairn/types"
)

// blockContracts is the contract side of one block's execution: the engine,
// the block's vm.Scope (one instance per contract, shared by the block's
// calls in order), and the keys each contract wrote in the block so far.
//
// Calls see the committed state plus the effects of the block's earlier
// transactions: contract keys, instances, code and balances all read
// through the executor's cache first. History is of committed versions
// only (a key's versions written earlier in the same block are not yet
// history), as docs/contracts.md says.
type blockContracts struct {
	x         *executor
	eng       *vm.Engine
	scope     *vm.Scope
	committed ContractState
	// written: contract -> keys written by earlier transactions of the
	// block, for merging into range reads.
	written map[string]map[string]bool
}

func newBlockContracts(x *executor, eng *vm.Engine, r ContractReader) *blockContracts {
	return &blockContracts{x: x, eng: eng, scope: vm.NewScope(), committed: ContractState{R: r}, written: map[string]map[string]bool{}}
}

// close returns the block's instances to the engine.
func (b *blockContracts) close(ctx context.Context) { b.scope.Close(ctx, b.eng) }

var (
	_ vm.State    = (*blockContracts)(nil)
	_ vm.Resolver = (*blockContracts)(nil)
)

func (b *blockContracts) entry(contract string, key []byte) (*types.ContractEntry, error) {
	e, err := b.x.get(types.ContractKey(contract, key))
	if err != nil || !e.found {
		return nil, err
	}
	ce, err := types.DecodeContractEntry(e.raw)
	if err != nil {
		return nil, fmt.Errorf("contract %s key %x: %w", contract, key, err)
	}
	return ce, nil
}

// Get returns a contract key's live value.
func (b *blockContracts) Get(contract string, key []byte) ([]byte, bool, error) {
	ce, err := b.entry(contract, key)
	if err != nil || ce == nil || ce.Deleted {
		return nil, false, err
	}
	return ce.Value, true, nil
}

// Range merges the keys the block's earlier transactions wrote into a page
// of committed entries.
func (b *blockContracts) Range(contract string, start, end []byte, limit int) ([]vm.KV, error) {
	var pending [][]byte
	for k := range b.written[contract] {
		kb := []byte(k)
		if bytes.Compare(kb, start) >= 0 && (end == nil || bytes.Compare(kb, end) < 0) {
			pending = append(pending, kb)
		}
	}
	if len(pending) == 0 {
		return b.committed.Range(contract, start, end, limit)
	}
	want := limit + len(pending)
	base, err := b.committed.Range(contract, start, end, want)
	if err != nil {
		return nil, err
	}
	merged := make(map[string][]byte, len(base)+len(pending))
	for _, kv := range base {
		merged[string(kv.Key)] = kv.Value
	}
	for _, k := range pending {
		ce, err := b.entry(contract, k)
		if err != nil {
			return nil, err
		}
		if ce == nil || ce.Deleted {
			delete(merged, string(k))
		} else {
			merged[string(k)] = ce.Value
		}
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// A full committed page may miss committed entries past its last key,
	// but never matters: the page has limit+len(pending) entries and at
	// most len(pending) of them were deleted, so the first limit merged
	// keys are all at or below its last key.
	if len(keys) > limit {
		keys = keys[:limit]
	}
	out := make([]vm.KV, len(keys))
	for i, k := range keys {
		out[i] = vm.KV{Key: []byte(k), Value: merged[k]}
	}
	return out, nil
}

// History returns a key's committed versions, newest first.
func (b *blockContracts) History(contract string, key []byte, limit int) ([]vm.Version, error) {
	return b.committed.History(contract, key, limit)
}

// Balance returns an account's balance after the block's earlier
// transactions.
func (b *blockContracts) Balance(a crypto.Address) (uint64, error) {
	acc, _, err := b.x.account(a)
	return acc.Balance, err
}

// Info returns a contract instance's metadata, instances of earlier
// transactions of the block included.
func (b *blockContracts) Info(name string) (*types.ContractInfo, error) {
	e, err := b.x.get(types.ContractInfoKey(name))
	if err != nil {
		return nil, err
	}
	if !e.found {
		return nil, types.Errf(vm.CodeNoSuchContract, "no contract %q", name)
	}
	info, err := types.DecodeContractInfo(e.raw)
	if err != nil {
		return nil, fmt.Errorf("contract %s: %w", name, err)
	}
	return info, nil
}

// Resolve returns a contract instance's code hash.
func (b *blockContracts) Resolve(name string) (crypto.Hash, error) {
	info, err := b.Info(name)
	if err != nil {
		return crypto.Hash{}, err
	}
	return info.CodeHash, nil
}

// CodeByHash returns deployed code, code deployed earlier in the block
// included.
func (b *blockContracts) CodeByHash(h crypto.Hash) ([]byte, error) {
	e, err := b.x.get(types.ContractCodeKey(h))
	if err != nil {
		return nil, err
	}
	if !e.found {
		return nil, fmt.Errorf("no code %s deployed", h)
	}
	return e.raw, nil
}

// callEffects is what a successful contract call changes: its state writes
// in execution order (contract entries, then the accounts its transfers
// touched, each once, in order of first touch) and its events as the
// receipt carries them.
type callEffects struct {
	Writes []Write
	Events []types.Event
}

// call runs one contract call of transaction tx at the block's height and
// time, from caller, with gasLimit. A contract failure is out.Err (and no
// effects); the error is for failures of the node (state reads). On
// success, nothing is written to the executor's cache: the caller does that
// with the rest of the transaction's writes, and must read accounts it
// writes itself (the sender's) after the call's.
func (b *blockContracts) call(ctx context.Context, tx crypto.Hash, caller crypto.Address, name string, kind byte, fn string, args []byte, gasLimit uint64, timeNs int64) (*vm.Outcome, *callEffects, error) {
	info, err := b.Info(name)
	if err != nil {
		var te *types.TxError
		if errors.As(err, &te) {
			return &vm.Outcome{Err: te}, nil, nil
		}
		return nil, nil, err
	}
	return b.run(ctx, tx, caller, name, info.CodeHash, kind, fn, args, gasLimit, timeNs, nil)
}

// callWith is call with transfers made before the call starts (an
// invoke's funds): the contract sees them in its balances, and they are
// part of the call's effects, undone with them if it fails.
func (b *blockContracts) callWith(ctx context.Context, tx crypto.Hash, caller crypto.Address, name string, kind byte, fn string, args []byte, gasLimit uint64, timeNs int64, pre []vm.Transfer) (*vm.Outcome, *callEffects, error) {
	info, err := b.Info(name)
	if err != nil {
		var te *types.TxError
		if errors.As(err, &te) {
			return &vm.Outcome{Err: te}, nil, nil
		}
		return nil, nil, err
	}
	return b.run(ctx, tx, caller, name, info.CodeHash, kind, fn, args, gasLimit, timeNs, pre)
}

// run runs code h as contract name (see call and callWith).
func (b *blockContracts) run(ctx context.Context, tx crypto.Hash, caller crypto.Address, name string, h crypto.Hash, kind byte, fn string, args []byte, gasLimit uint64, timeNs int64, pre []vm.Transfer) (*vm.Outcome, *callEffects, error) {
	ov := vm.NewOverlay(b)
	ov.Transfers = append(ov.Transfers, pre...)
	env := vm.Env{Contract: name, Self: vm.ContractAddress(name), Caller: caller, TxHash: tx, Height: b.x.height, Time: timeNs}
	out, err := b.eng.Call(ctx, b.scope, ov, b, h, env, kind, fn, args, gasLimit)
	if err != nil {
		return nil, nil, fmt.Errorf("contract %s: %w", name, err)
	}
	if out.Err != nil {
		return out, nil, nil
	}
	fx := &callEffects{Writes: ContractWrites(ov.Writes, b.x.height, tx), Events: make([]types.Event, len(ov.Events))}
	for i, ev := range ov.Events {
		fx.Events[i] = types.Event{Contract: ev.Contract, Name: ev.Name, Data: ev.Data}
	}
	accs := map[crypto.Address]*types.Account{}
	var order []crypto.Address
	acct := func(a crypto.Address) (*types.Account, error) {
		if p, ok := accs[a]; ok {
			return p, nil
		}
		acc, _, err := b.x.account(a)
		if err != nil {
			return nil, err
		}
		accs[a], order = &acc, append(order, a)
		return &acc, nil
	}
	for _, t := range ov.Transfers {
		from, err := acct(t.From)
		if err != nil {
			return nil, nil, err
		}
		to, err := acct(t.To)
		if err != nil {
			return nil, nil, err
		}
		// The host checked both against the overlay's balances, which are
		// these same reads plus the call's own earlier transfers.
		if from.Balance < t.Amount || to.Balance+t.Amount < to.Balance {
			return nil, nil, fmt.Errorf("contract %s: transfer of %d from %s to %s does not fit the balances", name, t.Amount, t.From, t.To)
		}
		from.Balance -= t.Amount
		to.Balance += t.Amount
	}
	for _, a := range order {
		fx.Writes = append(fx.Writes, Write{Key: types.AccountKey(a), Value: accs[a].Encode()})
	}
	for _, w := range ov.Writes {
		m := b.written[w.Contract]
		if m == nil {
			m = map[string]bool{}
			b.written[w.Contract] = m
		}
		m[string(w.Key)] = true
	}
	return out, fx, nil
}

// deploy checks raw code as every validator does (instrumentation,
// compilation and the module's start-up, all bounded by the engine's
// module size limit and start-up gas) and returns the instrumented code's
// hash and, when no identical code is deployed yet, the one write that
// stores it. Compilation happens here, once per code on this engine: later
// calls find it compiled. A refused module is a *types.TxError with
// vm.CodeInvalidCode naming the problem.
func (b *blockContracts) deploy(ctx context.Context, raw []byte) (crypto.Hash, []Write, error) {
	code, err := b.eng.Prepare(ctx, raw)
	if err != nil {
		return crypto.Hash{}, nil, err
	}
	h := vm.CodeHash(code)
	e, err := b.x.get(types.ContractCodeKey(h))
	if err != nil {
		return crypto.Hash{}, nil, err
	}
	if e.found {
		return h, nil, nil
	}
	return h, []Write{{Key: types.ContractCodeKey(h), Value: code}}, nil
}

// instantiate creates instance name of deployed code h, owned by owner,
// and runs its Init with args and gasLimit. It succeeds or changes
// nothing: a taken name or unknown code is a *types.TxError, a failed Init
// an Outcome with Err (its gas used reported all the same). On success the
// writes are the instance's info, then Init's effects. While Init runs the
// instance is not yet resolvable: a call from Init to its own name fails
// with no_such_contract.
func (b *blockContracts) instantiate(ctx context.Context, tx crypto.Hash, caller crypto.Address, name string, h crypto.Hash, owner crypto.Address, args []byte, gasLimit uint64, timeNs int64) (*vm.Outcome, *callEffects, error) {
	if err := types.CheckContractName(name); err != nil {
		return nil, nil, err
	}
	if e, err := b.x.get(types.ContractInfoKey(name)); err != nil {
		return nil, nil, err
	} else if e.found {
		return nil, nil, types.Errf(types.CodeInvalid, "contract %q already exists", name)
	}
	if e, err := b.x.get(types.ContractCodeKey(h)); err != nil {
		return nil, nil, err
	} else if !e.found {
		return nil, nil, types.Errf(types.CodeNotFound, "no code %s deployed", h)
	}
	info := &types.ContractInfo{Name: name, CodeHash: h, Owner: owner, Created: b.x.height, Updated: b.x.height}
	out, fx, err := b.run(ctx, tx, caller, name, h, vm.KindInit, "", args, gasLimit, timeNs, nil)
	if err != nil || out.Err != nil {
		return out, nil, err
	}
	fx.Writes = append([]Write{{Key: types.ContractInfoKey(name), Value: info.Encode()}}, fx.Writes...)
	return out, fx, nil
}

// upgrade points instance name at deployed code h; only its owner may.
// The instance keeps its name, account and state.
func (b *blockContracts) upgrade(sender crypto.Address, name string, h crypto.Hash) ([]Write, error) {
	info, err := b.Info(name)
	if err != nil {
		return nil, err
	}
	if info.Owner != sender {
		return nil, types.Errf(types.CodeInvalid, "only the owner %s may upgrade contract %q", info.Owner, name)
	}
	if e, err := b.x.get(types.ContractCodeKey(h)); err != nil {
		return nil, err
	} else if !e.found {
		return nil, types.Errf(types.CodeNotFound, "no code %s deployed", h)
	}
	info.CodeHash, info.Updated = h, b.x.height
	return []Write{{Key: types.ContractInfoKey(name), Value: info.Encode()}}, nil
}

// MayDeploy is the rule for who may deploy contract code: the accounts the
// genesis parameter contract_deployers lists, or every account when it
// lists none.
func MayDeploy(p types.Params, a crypto.Address) error {
	if len(p.ContractDeployers) == 0 {
		return nil
	}
	for _, d := range p.ContractDeployers {
		if d == a {
			return nil
		}
	}
	return types.Errf(types.CodeInvalid, "account %s may not deploy contracts (not in contract_deployers)", a)
}

var (
	defaultEngineOnce sync.Once
	defaultEngine     *vm.Engine
	defaultEngineErr  error
)

// DefaultEngine is the process's shared contract engine (default limits),
// used when Options.Contracts is nil.
func DefaultEngine() (*vm.Engine, error) {
	defaultEngineOnce.Do(func() {
		defaultEngine, defaultEngineErr = vm.New(context.Background(), vm.Config{})
	})
	return defaultEngine, defaultEngineErr
}

// blockContracts returns the block's contract side, starting it at the
// block's first contract transaction.
func (x *executor) blockContracts() (*blockContracts, error) {
	if x.contracts != nil {
		return x.contracts, nil
	}
	eng := x.engine
	if eng == nil {
		var err error
		if eng, err = DefaultEngine(); err != nil {
			return nil, fmt.Errorf("contract engine: %w", err)
		}
	}
	cr, ok := x.r.(ContractReader)
	if !ok {
		return nil, fmt.Errorf("contract transactions need a state reader that scans and reads history (%T does not)", x.r)
	}
	x.contracts = newBlockContracts(x, eng, cr)
	return x.contracts, nil
}

func (x *executor) closeContracts() {
	if x.contracts != nil {
		x.contracts.close(context.Background())
	}
}

// contractTx applies a contract transaction (apply has checked its nonce).
// A call's effects reach the cache only when it succeeded; then the
// sender's account is read again, since the call (its funds, a contract's
// transfer to the sender) may have changed its balance, and written once
// with the nonce bumped. A failed call returns its gas in the contract
// section along with the error.
func (x *executor) contractTx(tx *types.Tx, h crypto.Hash, sender types.Account, senderKey []byte) ([]Write, uint64, *types.ContractResult, error) {
	ctx := context.Background()
	from := tx.Sender.Address()
	b, err := x.blockContracts()
	if err != nil {
		return nil, 0, nil, err
	}
	timeNs := x.timeMs * int64(time.Millisecond)
	var (
		writes []Write
		out    *vm.Outcome
		fx     *callEffects
	)
	switch p := tx.Payload.(type) {
	case *types.ContractDeploy:
		if err := MayDeploy(x.params, from); err != nil {
			return nil, 0, nil, err
		}
		if _, writes, err = b.deploy(ctx, p.Code); err != nil {
			return nil, 0, nil, err
		}
	case *types.ContractUpgrade:
		if writes, err = b.upgrade(from, p.Name, p.CodeHash); err != nil {
			return nil, 0, nil, err
		}
	case *types.ContractInstantiate:
		if out, fx, err = b.instantiate(ctx, h, from, p.Name, p.CodeHash, p.Owner, p.Args, p.GasLimit, timeNs); err != nil {
			return nil, 0, nil, err
		}
	case *types.ContractInvoke:
		if p.Funds > sender.Balance {
			return nil, 0, nil, types.Errf(types.CodeInsufficientBalance, "balance %d, funds %d", sender.Balance, p.Funds)
		}
		var funds []vm.Transfer
		if p.Funds > 0 {
			funds = []vm.Transfer{{From: from, To: types.ContractAddress(p.Name), Amount: p.Funds}}
		}
		if out, fx, err = b.callWith(ctx, h, from, p.Name, vm.KindInvoke, p.Function, p.Args, p.GasLimit, timeNs, funds); err != nil {
			return nil, 0, nil, err
		}
	default:
		return nil, 0, nil, types.Errf(types.CodeUnknownType, "unknown payload %T", p)
	}
	var result *types.ContractResult
	if out != nil {
		result = &types.ContractResult{GasUsed: out.GasUsed}
		if out.Err != nil {
			var te *types.TxError
			if !errors.As(out.Err, &te) {
				return nil, 0, nil, fmt.Errorf("contract call: %w", out.Err)
			}
			return nil, 0, result, te
		}
		result.Events = fx.Events
		writes = fx.Writes
	}
	// The transaction succeeded: its effects go into the cache, then the
	// sender's account as they left it, with the nonce bumped.
	kept := writes[:0:0]
	for _, w := range writes {
		x.cache[string(w.Key)] = &entry{raw: w.Value, found: true}
		if string(w.Key) != string(senderKey) {
			kept = append(kept, w)
		}
	}
	sender, _, err = x.account(from)
	if err != nil {
		return nil, 0, nil, err
	}
	sender.Nonce++
	kept = append(kept, Write{Key: senderKey, Value: sender.Encode()})
	x.cache[string(senderKey)] = &entry{raw: sender.Encode(), found: true}
	return kept, 0, result, nil
}
