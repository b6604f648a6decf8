// Package execute turns a block's transactions into receipts and state
// writes. It is a pure function of (committed state, block): no clock, no
// randomness, no map iteration order in its output, so every validator derives
// the same receipts and the same state root. (A failed receipt's Reason is
// the one exception: it is error text, which may change between releases or
// Go versions, so the results root leaves it out and validators need only
// agree on the Code; see types.Receipt.)
//
// Rules every transaction passes through, in order:
//
//  1. chain id, size limits, a usable sender key (types.ValidateTxStateless)
//  2. signature (batch-verified up front)
//     2b. authorization: the sender holds a role the chain's permission
//     table allows for the type, and a governance transaction carries its
//     governors' approvals (access.go)
//  3. not a replay: its hash is not already committed, nor earlier in this block
//  4. nonce = sender's nonce + 1
//  5. type rules: transfer amount <= balance; kv.put/kv.delete expect_version
//     matches; kv.delete of a live key; the payment-field rules (fields.go);
//     the contract rules (contracts.go: who may deploy, code accepted,
//     instances, the call itself within its gas limit)
//
// Before the first transaction, the chain takes the steps payment fields
// due at the block's height call for (expiry, settlement; fields.go): they
// depend only on state and height.
//
// A successful transaction pays its fee (types.FeeOf, the chain's
// Params.Fees) from the sender's balance before its own effect; the fee is
// burned and the block adds what it burned to the state's total (one write
// at the end of the block, none when nothing was burned). A sender that
// cannot pay the fee fails with insufficient_balance, like an overdraft.
//
// A transaction failing rule 1, 2, 2b or 4 (or of an unknown type) makes the
// whole block invalid (Block returns an *InvalidTxError): such a transaction
// says nothing the sender asked for, and recording it would let a proposer
// fill blocks with junk or, by putting an honest user's nonce-2 tx before its
// nonce-1 tx, record the nonce-2 tx as failed and so refuse its hash forever.
// A proposer uses Select, which leaves such transactions out instead.
//
// A transaction failing rule 3 or 5 makes a failed receipt and changes
// nothing at all (not even its sender's nonce). Those outcomes are the
// sender's own: a replay is already in the chain, a compare-and-set that
// lost is what the sender asked to be told, and an overdraft cannot be
// caused by a proposer, since a balance only shrinks by the sender's own
// transactions, which rule 4 keeps in the sender's nonce order (a transfer
// covered by the committed balance together with the sender's other pending
// transfers, which the mempool requires, cannot overdraw).
//
// A successful transaction bumps the sender's nonce and applies its effect.
// Keeping failed transactions from touching the nonce means an overdraft or a
// stale compare-and-set never changes state (invariant 4 of
// docs/architecture.md, "No double spend"); rule 3 then keeps a failed
// transaction from being replayed later when it would succeed.
package execute

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/vm"
	"github.com/cairn-db/cairn/types"
)

// Reader is the committed state a block executes on.
type Reader interface {
	// Get returns the latest committed value of a state key.
	Get(key []byte) (value []byte, found bool, err error)
	// TxCommitted reports whether a transaction hash is already in the chain.
	TxCommitted(h crypto.Hash) (bool, error)
}

// Write is one state write, in execution order.
type Write struct {
	Key, Value []byte
}

// Result is the outcome of a block.
type Result struct {
	Receipts []*types.Receipt
	// Writes in execution order; a key may appear several times (every
	// version is history), the last write is its new value.
	Writes []Write
}

// Options tune execution without changing its result.
type Options struct {
	// Verified reports signatures already checked (e.g. at mempool
	// admission). A hash fixes the signed bytes, so a cached "valid" answer is
	// exact. Nil means verify every signature.
	Verified func(crypto.Hash) bool
	// SkipSignatures trusts every signature (benchmarks only).
	SkipSignatures bool
	// SkipAuthorize lets through a tx the permission table forbids. Only
	// the node's Byzantine test mode "unauthorized" sets it, to build a
	// block with correct roots that honest validators must still refuse.
	SkipAuthorize bool
	// Contracts is the engine that runs contract code; nil uses one shared
	// by the process (DefaultEngine). Any engine with the default limits
	// gives the same results; a node passes its own, warmed with the
	// chain's code.
	Contracts *vm.Engine
}

// InvalidTxError is a transaction that no valid block may carry (rules 1, 2
// and 4 of the package doc): the block holding it is invalid.
type InvalidTxError struct {
	Index int // position in the block
	Err   *types.TxError
}

func (e *InvalidTxError) Error() string {
	return fmt.Sprintf("tx %d is invalid in a block: %v", e.Index, e.Err)
}

func (e *InvalidTxError) Unwrap() error { return e.Err }

// Dropped is a transaction Select left out, with the reason.
type Dropped struct {
	Tx  *types.Tx
	Err *types.TxError
}

// invalidInBlock lists the codes a transaction in a valid block never has.
func invalidInBlock(c types.Code) bool {
	switch c {
	case types.CodeWrongChain, types.CodeOversized, types.CodeMalformed, types.CodeBadSignature,
		types.CodeBadNonce, types.CodeUnknownType, types.CodeUnauthorized:
		return true
	}
	return false
}

// Env is what a block's execution may know beyond the state and its
// transactions: facts of the block itself, all fixed by its header and its
// last-commit certificate, so every validator passes the same Env.
type Env struct {
	Height uint64
	// TimeMs is the block's time (Unix milliseconds: what contracts see as
	// the time).
	TimeMs   int64
	Proposer crypto.PublicKey
	// LastSigners are the validators whose precommit for Height-1 the block
	// carries (verified by the ledger against LastValidators), in the
	// set's order; nil at height 1.
	LastSigners []crypto.PublicKey
	// LastValidators is the validator set of Height-1 (nil at height 1).
	LastValidators []types.Validator
}

// Block executes a received block's txs in env on r. A tx no valid block
// may carry is an *InvalidTxError; any other error means the state could not
// be read. Every other bad transaction is a failed receipt.
func Block(r Reader, chainID string, p types.Params, env Env, txs []*types.Tx, opt Options) (*Result, error) {
	res, _, _, err := run(r, chainID, p, env, txs, opt, false)
	return res, err
}

// Select executes txs as a proposer: a tx no valid block may carry is left
// out (and listed in dropped) rather than failing the block. A left-out tx
// changes nothing, so res is exactly Block's result for kept.
func Select(r Reader, chainID string, p types.Params, env Env, txs []*types.Tx, opt Options) (kept []*types.Tx, dropped []Dropped, res *Result, err error) {
	res, kept, dropped, err = run(r, chainID, p, env, txs, opt, true)
	return kept, dropped, res, err
}

func run(r Reader, chainID string, p types.Params, env Env, txs []*types.Tx, opt Options, drop bool) (*Result, []*types.Tx, []Dropped, error) {
	height := env.Height
	sigOK := verifySignatures(txs, opt)
	x := &executor{r: r, chainID: chainID, params: p, height: height, timeMs: env.TimeMs, env: env, engine: opt.Contracts,
		cache: make(map[string]*entry, 2*len(txs)), seen: make(map[crypto.Hash]bool, len(txs))}
	defer x.closeContracts()
	res := &Result{Receipts: make([]*types.Receipt, 0, len(txs)), Writes: make([]Write, 0, 2*len(txs))}
	kept := txs
	if drop {
		kept = make([]*types.Tx, 0, len(txs))
	}
	var dropped []Dropped
	// The chain's own steps for payment fields due at this height come
	// before any transaction (fields.go).
	due, err := x.dueFields()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("execute height %d: %w", height, err)
	}
	res.Writes = append(res.Writes, due...)
	// Then staking's: the set history and downtime (staking.go).
	begin, err := x.stakingBegin()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("execute height %d: %w", height, err)
	}
	res.Writes = append(res.Writes, begin...)
	for i, tx := range txs {
		h := tx.Hash()
		rc := &types.Receipt{TxHash: h}
		err := types.ValidateTxStateless(tx, chainID, p, false)
		if err == nil && !sigOK[i] {
			err = types.Errf(types.CodeBadSignature, "signature does not verify for sender %s", tx.Sender)
		}
		if err == nil && !opt.SkipAuthorize {
			err = Authorize(x, chainID, p, tx)
		}
		if err == nil {
			err = x.checkReplay(h)
		}
		var writes []Write
		if err == nil {
			writes, rc.Version, rc.Contract, err = x.apply(tx, h)
		}
		if err != nil {
			var te *types.TxError
			if !errors.As(err, &te) {
				return nil, nil, nil, fmt.Errorf("execute height %d tx %d: %w", height, i, err)
			}
			if invalidInBlock(te.Code) {
				if !drop {
					return nil, nil, nil, &InvalidTxError{Index: i, Err: te}
				}
				dropped = append(dropped, Dropped{Tx: tx, Err: te})
				continue
			}
			rc.Code, rc.Reason = te.Code, te.Error()
			if rc.Contract != nil {
				rc.Contract.Events = nil // a failed call's events are discarded
			}
		} else {
			rc.OK = true
			x.seen[h] = true
			res.Writes = append(res.Writes, writes...)
		}
		if drop {
			kept = append(kept, tx)
		}
		res.Receipts = append(res.Receipts, rc)
	}
	// Staking's end of block: reward, matured unbonding, epoch (staking.go).
	end, err := x.stakingEnd()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("execute height %d: %w", height, err)
	}
	res.Writes = append(res.Writes, end...)
	burn, err := x.burnWrite()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("execute height %d: %w", height, err)
	}
	res.Writes = append(res.Writes, burn...)
	// Last, the validator set two heights on (valset.go).
	next, err := x.validatorStep()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("execute height %d: %w", height, err)
	}
	res.Writes = append(res.Writes, next...)
	return res, kept, dropped, nil
}

// Involved lists the addresses tx involves, the sender first, as the
// account index records them. It depends on tx alone, so a node lists them
// when it commits a block only if it keeps the index, and one that turns
// the index on later builds it from its stored blocks.
func Involved(tx *types.Tx) []crypto.Address {
	from := tx.Sender.Address()
	if t, ok := tx.Payload.(*types.Transfer); ok && t.To != from {
		return []crypto.Address{from, t.To}
	}
	if c := types.Change(tx.Payload); c != nil && c.Address != from {
		return []crypto.Address{from, c.Address}
	}
	if o, ok := tx.Payload.(*types.FieldOpen); ok {
		out := []crypto.Address{from}
		for _, m := range o.Members {
			if a := m.Key.Address(); a != from {
				out = append(out, a)
			}
		}
		return out
	}
	var contract string
	switch p := tx.Payload.(type) {
	case *types.ContractInvoke:
		contract = p.Name
	case *types.ContractInstantiate:
		contract = p.Name
	}
	if contract != "" {
		return []crypto.Address{from, types.ContractAddress(contract)}
	}
	return []crypto.Address{from}
}

// parallelVerifyMin is the batch size above which signature checks are
// split across cores; below it one batch is cheaper than the coordination.
const parallelVerifyMin = 1024

func verifySignatures(txs []*types.Tx, opt Options) []bool {
	ok := make([]bool, len(txs))
	if opt.SkipSignatures {
		for i := range ok {
			ok[i] = true
		}
		return ok
	}
	idx := make([]int, 0, len(txs))
	for i, tx := range txs {
		if opt.Verified != nil && opt.Verified(tx.Hash()) {
			ok[i] = true
			continue
		}
		idx = append(idx, i)
	}
	// Each part is verified as its own batch; the result per signature is
	// the same however the batches are cut, so this stays deterministic.
	parts := min(runtime.GOMAXPROCS(0), max(1, len(idx)/parallelVerifyMin))
	var wg sync.WaitGroup
	for p := 0; p < parts; p++ {
		part := idx[p*len(idx)/parts : (p+1)*len(idx)/parts]
		wg.Add(1)
		go func() {
			defer wg.Done()
			bv := crypto.NewBatchVerifier(len(part))
			for _, i := range part {
				txs[i].AddToBatch(bv)
			}
			all, valid := bv.Verify()
			for j, i := range part {
				ok[i] = all || valid[j]
			}
		}()
	}
	wg.Wait()
	return ok
}

// entry is a cached state value: decoded, and whether it changed.
type entry struct {
	raw   []byte
	found bool
}

type executor struct {
	r       Reader
	chainID string
	params  types.Params
	height  uint64
	burned  uint64 // fees paid by this block's successful txs so far
	timeMs  int64
	env     Env
	cache   map[string]*entry // reads and writes of this block, by state key
	seen    map[crypto.Hash]bool
	// engine runs contracts (nil: DefaultEngine); contracts is the block's
	// contract side, started by the block's first contract transaction.
	engine    *vm.Engine
	contracts *blockContracts
}

func (x *executor) get(key []byte) (*entry, error) {
	if e, ok := x.cache[string(key)]; ok {
		return e, nil
	}
	v, found, err := x.r.Get(key)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	e := &entry{raw: v, found: found}
	x.cache[string(key)] = e
	return e, nil
}

func (x *executor) account(a crypto.Address) (types.Account, []byte, error) {
	k := types.AccountKey(a)
	e, err := x.get(k)
	if err != nil || !e.found {
		return types.Account{}, k, err
	}
	acc, err := types.DecodeAccount(e.raw)
	if err != nil {
		return types.Account{}, k, fmt.Errorf("account %s: %w", a, err)
	}
	return acc, k, nil
}

func (x *executor) checkReplay(h crypto.Hash) error {
	if x.seen[h] {
		return types.Errf(types.CodeReplay, "transaction %s already in this block", h)
	}
	done, err := x.r.TxCommitted(h)
	if err != nil {
		return fmt.Errorf("tx index: %w", err)
	}
	if done {
		return types.Errf(types.CodeReplay, "transaction %s already committed", h)
	}
	return nil
}

// apply checks the stateful rules and returns the tx's writes, the key
// version a kv write made, and the contract section of the receipt (set for
// calls, failed ones included). Nothing is written to the cache until every
// check passed.
func (x *executor) apply(tx *types.Tx, h crypto.Hash) ([]Write, uint64, *types.ContractResult, error) {
	from := tx.Sender.Address()
	sender, senderKey, err := x.account(from)
	if err != nil {
		return nil, 0, nil, err
	}
	if tx.Nonce != sender.Nonce+1 {
		return nil, 0, nil, types.Errf(types.CodeBadNonce, "nonce %d, expected %d", tx.Nonce, sender.Nonce+1)
	}
	switch p := tx.Payload.(type) {
	case *types.ContractDeploy, *types.ContractInstantiate, *types.ContractInvoke, *types.ContractUpgrade:
		// The fee must be there before the call (with an invoke's funds);
		// it is taken once the call succeeded (access.go).
		fee := types.FeeOf(x.params.Fees, tx)
		var funds uint64
		if inv, ok := p.(*types.ContractInvoke); ok {
			funds = inv.Funds
		}
		if fee > 0 && (fee > sender.Balance || funds > sender.Balance-fee) {
			return nil, 0, nil, types.Errf(types.CodeInsufficientBalance, "balance %d, fee %d and funds %d", sender.Balance, fee, funds)
		}
		writes, version, res, err := x.contractTx(tx, h, sender, senderKey)
		if err != nil || fee == 0 {
			return writes, version, res, err
		}
		writes, err = x.chargeFee(writes, senderKey, fee)
		return writes, version, res, err
	}
	writes, version, err := x.applyNative(tx, h, from, sender, senderKey)
	return writes, version, nil, err
}

// applyNative applies the transaction types that run no contract code.
func (x *executor) applyNative(tx *types.Tx, h crypto.Hash, from crypto.Address, sender types.Account, senderKey []byte) ([]Write, uint64, error) {
	sender.Nonce++
	fee := types.FeeOf(x.params.Fees, tx)
	if fee > sender.Balance {
		return nil, 0, types.Errf(types.CodeInsufficientBalance, "balance %d, fee %d", sender.Balance, fee)
	}
	sender.Balance -= fee
	var writes []Write
	var version uint64
	switch p := tx.Payload.(type) {
	case *types.Transfer:
		if p.Amount > sender.Balance {
			return nil, 0, types.Errf(types.CodeInsufficientBalance, "balance %d, transfer %d", sender.Balance, p.Amount)
		}
		if p.To == from {
			break // a transfer to oneself only consumes the nonce
		}
		to, toKey, err := x.account(p.To)
		if err != nil {
			return nil, 0, err
		}
		if to.Balance+p.Amount < to.Balance {
			return nil, 0, types.Errf(types.CodeInvalid, "recipient balance would overflow")
		}
		sender.Balance -= p.Amount
		to.Balance += p.Amount
		writes = append(writes, Write{Key: toKey, Value: to.Encode()})
	case *types.KVPut:
		w, v, err := x.kvWrite(p.Key, p.ExpectVersion, false, p.Value, h)
		if err != nil {
			return nil, 0, err
		}
		writes, version = append(writes, w), v
	case *types.KVDelete:
		w, v, err := x.kvWrite(p.Key, p.ExpectVersion, true, "", h)
		if err != nil {
			return nil, 0, err
		}
		writes, version = append(writes, w), v
	case *types.Record, *types.BlobRecord:
		// A record's effect is its presence in the ledger (and the index).
	case *types.RoleGrant:
		w, err := x.roleChange(true, &p.RoleChange)
		if err != nil {
			return nil, 0, err
		}
		writes = w
	case *types.RoleRevoke:
		w, err := x.roleChange(false, &p.RoleChange)
		if err != nil {
			return nil, 0, err
		}
		writes = w
	case *types.ValidatorUpdate:
		w, err := x.validatorUpdate(p)
		if err != nil {
			return nil, 0, err
		}
		writes = w
	case *types.FieldOpen, *types.FieldClose, *types.FieldCloseUnilateral, *types.FieldChallenge, *types.FieldDispute:
		w, err := x.fieldTx(tx, h, &sender)
		if err != nil {
			return nil, 0, err
		}
		writes = w
	case *types.ValidatorRegister, *types.StakeDelegate, *types.StakeUndelegate, *types.StakeVote, *types.ValidatorUnjail, *types.EvidenceSubmit:
		w, err := x.stakingTx(tx, &sender)
		if err != nil {
			return nil, 0, err
		}
		writes = w
	default:
		return nil, 0, types.Errf(types.CodeUnknownType, "unknown payload %T", p)
	}
	writes = append(writes, Write{Key: senderKey, Value: sender.Encode()})
	for _, w := range writes {
		x.cache[string(w.Key)] = &entry{raw: w.Value, found: true}
	}
	x.burned = satAdd(x.burned, fee)
	return writes, version, nil
}

func (x *executor) kvWrite(key string, expect *uint64, del bool, value string, h crypto.Hash) (Write, uint64, error) {
	k := types.KVKey(key)
	e, err := x.get(k)
	if err != nil {
		return Write{}, 0, err
	}
	var cur uint64
	live := false
	if e.found {
		old, err := types.DecodeKVEntry(e.raw)
		if err != nil {
			return Write{}, 0, fmt.Errorf("key %q: %w", key, err)
		}
		cur, live = old.Version, !old.Deleted
	}
	if expect != nil {
		switch {
		case *expect == 0 && live:
			return Write{}, 0, types.Errf(types.CodeVersionConflict, "key %q exists at version %d, expected absent", key, cur)
		case *expect != 0 && (!live || cur != *expect):
			return Write{}, 0, types.Errf(types.CodeVersionConflict, "key %q is at version %d (live=%v), expected %d", key, cur, live, *expect)
		}
	}
	if del && !live {
		return Write{}, 0, types.Errf(types.CodeNotFound, "key %q does not exist", key)
	}
	ne := &types.KVEntry{Version: cur + 1, Height: x.height, TxHash: h, Deleted: del, Value: value}
	return Write{Key: k, Value: ne.Encode()}, ne.Version, nil
}

// Genesis returns the writes that create the initial balances, in the
// order genesis lists them, then the roles' first members (roles in name
// order; none for a genesis without roles), then the validator set: the
// next and target lists (both the genesis set) and each validator's info.
func Genesis(g *types.Genesis) []Write {
	ws := make([]Write, 0, len(g.Balances))
	for _, b := range g.Balances {
		ws = append(ws, Write{Key: types.AccountKey(b.Address), Value: types.Account{Balance: b.Amount}.Encode()})
	}
	keys, values := g.RoleWrites()
	for i := range keys {
		ws = append(ws, Write{Key: keys[i], Value: values[i]})
	}
	ws = append(ws, genesisValidators(g)...)
	// A DPoS chain's candidates and genesis stakes (staking.go).
	return append(ws, stakingGenesis(g)...)
}

// satAdd adds without wrapping: a total that would pass 2^64-1 stays there.
func satAdd(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}
