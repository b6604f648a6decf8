// Package vm runs contracts: WebAssembly modules checked and instrumented at
// deploy time (internal/instrument), executed by wazero (pure Go), with the
// Cairn host API and a deterministic WASI subset.
//
// Invariants:
//   - Deterministic: a call's result, gas used, state writes, transfers and
//     events are a function of (code, state, Env, input, gas limit) alone.
//     Gas is counted by instructions injected into the bytecode plus host
//     calls priced by bytes, never by time; there is no wall-clock timeout
//     anywhere (the context passed in is used for nothing but values). The
//     WASI subset is the package's own (wasi.go): clocks read the block
//     time, random_get is a SHA-256 stream seeded by the transaction hash,
//     poll_oneoff fires at once, stdout and stderr are discarded, and there
//     is no file system, argument or environment; each WASI call is priced
//     like a host call, by its bytes or subscriptions.
//   - Isolated: a block execution (a Scope) starts each contract from the
//     state right after the module's start-up, snapshotted once per code
//     hash; calls of the same contract within that block share the instance
//     in block order (a failed call's instance is dropped), so nothing a
//     contract keeps in memory survives into another block or a restart,
//     and every validator gives every call the same memory. Queries start
//     from the snapshot every time.
//   - Bounded: memory is capped in pages (growth beyond it fails), the call
//     stack in frames, contract-to-contract calls in depth, keys, values,
//     events and range pages in bytes or entries, and all work in gas.
//   - All or nothing: a call's writes, transfers and events are buffered
//     (Overlay) and returned only if the call succeeds; a failed call
//     (out_of_gas included) changes nothing and still reports its gas used.
package vm

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/instrument"
	"github.com/cairn-db/cairn/types"
)

// Failure codes of a contract call; stable, they appear in receipts.
const (
	CodeOutOfGas        types.Code = "out_of_gas"
	CodeCallDepth       types.Code = "call_depth_exceeded"
	CodeMemoryLimit     types.Code = "memory_limit"
	CodeContractError   types.Code = "contract_error"
	CodeTrap            types.Code = "contract_trap"
	CodeKeyTooLarge     types.Code = "key_too_large"
	CodeValueTooLarge   types.Code = "value_too_large"
	CodeEventTooLarge   types.Code = "event_too_large"
	CodeTooManyEvents   types.Code = "too_many_events"
	CodeReadOnly        types.Code = "read_only"
	CodeInvalidCode     types.Code = "invalid_code"
	CodeNoSuchContract  types.Code = "no_such_contract"
	CodeNoSuchFunction  types.Code = "no_such_function"
	CodeInsufficientBal types.Code = "insufficient_balance"
)

// Limits bound every call. The zero value of a field means its default.
type Limits struct {
	MaxModuleBytes   int    // deploy: code size (default 8 MiB)
	MaxMemoryPages   uint32 // per instance (default 512 = 32 MiB)
	MaxCallDepth     uint32 // wasm frames (default 10000)
	MaxContractDepth int    // nested contract calls (default 8)
	MaxKeyBytes      int    // default 1 KiB
	MaxValueBytes    int    // default 64 KiB
	MaxEventBytes    int    // name + data, default 8 KiB
	MaxEvents        int    // per transaction, default 64
	MaxRangePage     int    // entries per GetStateByRange page, default 100
	MaxHistory       int    // entries per GetHistoryForKey, default 100
	MaxReturnBytes   int    // result of a call, default 64 KiB
	StartGas         uint64 // budget for the module's own start-up (_initialize), default 50M
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxModuleBytes, 8<<20)
	def(&l.MaxContractDepth, 8)
	def(&l.MaxKeyBytes, 1024)
	def(&l.MaxValueBytes, 64<<10)
	def(&l.MaxEventBytes, 8<<10)
	def(&l.MaxEvents, 64)
	def(&l.MaxRangePage, 100)
	def(&l.MaxHistory, 100)
	def(&l.MaxReturnBytes, 64<<10)
	if l.MaxMemoryPages == 0 {
		l.MaxMemoryPages = 512
	}
	if l.MaxCallDepth == 0 {
		l.MaxCallDepth = 10000
	}
	if l.StartGas == 0 {
		l.StartGas = 50_000_000
	}
	return l
}

// Gas prices of host calls and memory; instructions cost one unit each.
const (
	GasHostCall   = 100  // every host function call
	GasReadByte   = 1    // per byte a host call reads or returns
	GasWriteByte  = 10   // per byte of key and value a write stores
	GasEmitByte   = 5    // per byte of an event
	GasMemoryPage = 2000 // per 64 KiB page grown beyond the start-up size
)

// Config chooses the engine.
type Config struct {
	Limits Limits
	// Interpreter selects wazero's interpreter instead of its compiler (the
	// two must agree bit for bit; tests run both).
	Interpreter bool
	// CacheDir, if set, keeps compiled code on disk between restarts.
	CacheDir string
	// Cache, if set (and CacheDir is not), is a compilation cache shared
	// with other engines of the process.
	Cache wazero.CompilationCache
}

// Engine compiles modules once per code hash and runs calls.
type Engine struct {
	limits Limits
	rt     wazero.Runtime

	mu       sync.Mutex
	compiled map[crypto.Hash]*program
}

// program is compiled code and the state of an instance right after its
// start-up (_initialize: the Go runtime and package initialisers): its
// memory and mutable globals. Every call restores that state into a fresh
// instance instead of starting the module again, which is exactly
// equivalent (start-up is deterministic and sees no call's Env) and many
// times cheaper.
type program struct {
	mod     wazero.CompiledModule
	memory  []byte
	globals []string
	values  []uint64

	mu   sync.Mutex
	pool []*instance // started instances, restored before each use
}

// AllowImport reports whether a module may import module.name.
func AllowImport(module, name string) bool {
	switch module {
	case "wasi_snapshot_preview1":
		_, ok := wasiFuncs[name]
		return ok
	case HostModule:
		return hostNames[name]
	}
	return false
}

// New starts an engine.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	limits := cfg.Limits.withDefaults()
	rc := wazero.NewRuntimeConfigCompiler()
	if cfg.Interpreter {
		rc = wazero.NewRuntimeConfigInterpreter()
	}
	rc = rc.WithCoreFeatures(api.CoreFeaturesV2).
		WithMemoryLimitPages(limits.MaxMemoryPages).
		WithCloseOnContextDone(false)
	if cfg.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("vm: compilation cache %s: %w", cfg.CacheDir, err)
		}
		rc = rc.WithCompilationCache(cache)
	} else if cfg.Cache != nil {
		rc = rc.WithCompilationCache(cfg.Cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if err := instantiateWASI(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("vm: wasi: %w", err)
	}
	if err := instantiateHost(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("vm: host module: %w", err)
	}
	return &Engine{limits: limits, rt: rt, compiled: map[crypto.Hash]*program{}}, nil
}

// Close releases the engine's compiled code.
func (e *Engine) Close(ctx context.Context) error { return e.rt.Close(ctx) }

// Limits returns the engine's limits, defaults filled in.
func (e *Engine) Limits() Limits { return e.limits }

// Prepare checks raw code as deploy does and returns the instrumented
// module. Errors are *types.TxError with CodeInvalidCode and name the
// problem (malformed module, forbidden import or feature, size).
func (e *Engine) Prepare(ctx context.Context, code []byte) ([]byte, error) {
	m, err := instrument.Instrument(code, instrument.Config{
		AllowImport:    AllowImport,
		MaxMemoryPages: e.limits.MaxMemoryPages,
		MaxCallDepth:   e.limits.MaxCallDepth,
		MaxModuleBytes: e.limits.MaxModuleBytes,
	})
	if err != nil {
		return nil, types.Errf(CodeInvalidCode, "%v", err)
	}
	hasInvoke := false
	for _, x := range m.Exports {
		if x == ExportInvoke {
			hasInvoke = true
		}
	}
	if !hasInvoke {
		return nil, types.Errf(CodeInvalidCode, "module exports no %q function (build it against the contract SDK)", ExportInvoke)
	}
	if _, err := e.load(ctx, m.Code); err != nil {
		return nil, err
	}
	return m.Code, nil
}

// Warm compiles instrumented code already deployed (and runs its start-up),
// so that its first call need not: what a node does for its chain's code
// when it opens. The result of any call is the same warm or cold.
func (e *Engine) Warm(ctx context.Context, code []byte) error {
	_, err := e.load(ctx, code)
	return err
}

// CodeHash names instrumented code.
func CodeHash(code []byte) crypto.Hash { return sha256.Sum256(code) }

// load compiles instrumented code once per hash.
func (e *Engine) load(ctx context.Context, code []byte) (*program, error) {
	h := CodeHash(code)
	e.mu.Lock()
	p, ok := e.compiled[h]
	e.mu.Unlock()
	if ok {
		return p, nil
	}
	mod, err := e.rt.CompileModule(ctx, code)
	if err != nil {
		return nil, types.Errf(CodeInvalidCode, "compile: %v", err)
	}
	for _, imp := range mod.ImportedFunctions() {
		m, n, _ := imp.Import()
		if !AllowImport(m, n) {
			return nil, types.Errf(CodeInvalidCode, "forbidden import %s.%s", m, n)
		}
	}
	if f, ok := mod.ExportedFunctions()[ExportInvoke]; !ok || len(f.ParamTypes()) != 0 || len(f.ResultTypes()) != 0 {
		return nil, types.Errf(CodeInvalidCode, "export %q must be a function of no parameters and no results", ExportInvoke)
	}
	p, err = e.start(ctx, mod, code)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if q, ok := e.compiled[h]; ok {
		p = q
	} else {
		e.compiled[h] = p
	}
	e.mu.Unlock()
	return p, nil
}

// start runs a module's start-up once, with StartGas, and snapshots it.
func (e *Engine) start(ctx context.Context, mod wazero.CompiledModule, code []byte) (*program, error) {
	names, err := instrument.SnapshotGlobals(code)
	if err != nil {
		return nil, types.Errf(CodeInvalidCode, "%v", err)
	}
	// The Go runtime refuses a zero monotonic clock; start-up sees 1 ns.
	f := &frame{startup: true, env: Env{Time: 1}, rnd: &randSource{}}
	cctx := context.WithValue(ctx, frameKey{}, f)
	inst, err := e.rt.InstantiateModule(cctx, mod, wasiConfig())
	if err != nil {
		return nil, types.Errf(CodeInvalidCode, "instantiate: %v", err)
	}
	defer inst.Close(ctx)
	gas := inst.ExportedGlobal(instrument.GasGlobal).(api.MutableGlobal)
	gas.Set(e.limits.StartGas)
	f.gas, f.mod = gas, inst
	if init := inst.ExportedFunction("_initialize"); init != nil {
		if _, err := init.Call(cctx); err != nil {
			if int64(gas.Get()) < 0 {
				return nil, types.Errf(CodeInvalidCode, "module start-up ran out of its %d gas", e.limits.StartGas)
			}
			if f.abort != nil {
				return nil, types.Errf(CodeInvalidCode, "module start-up: %s", f.abort.Msg)
			}
			return nil, types.Errf(CodeInvalidCode, "module start-up: %v", firstLine(err.Error()))
		}
	}
	p := &program{mod: mod, globals: names}
	if mem := inst.Memory(); mem != nil {
		b, _ := mem.Read(0, mem.Size())
		p.memory = append([]byte(nil), b...)
	}
	for _, n := range names {
		p.values = append(p.values, inst.ExportedGlobal(n).Get())
	}
	return p, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Env is what a call may learn about its context.
type Env struct {
	Contract string
	Self     crypto.Address // the contract's account
	Caller   crypto.Address // the transaction's sender, or the calling contract
	TxHash   crypto.Hash
	Height   uint64
	Time     int64 // block time, unix nanoseconds
	ReadOnly bool  // a query: writes, events and transfers refused
}

// ContractAddress is the account of a contract: its funds live there.
func ContractAddress(name string) crypto.Address { return types.ContractAddress(name) }

// Resolver finds deployed code: a contract's code hash (for calls between
// contracts; a missing contract is a *types.TxError), and instrumented code
// by hash (asked only the first time the engine meets a hash).
type Resolver interface {
	Resolve(contract string) (crypto.Hash, error)
	CodeByHash(h crypto.Hash) ([]byte, error)
}

// program returns the compiled program of a code hash.
func (e *Engine) program(ctx context.Context, h crypto.Hash, res Resolver) (*program, error) {
	e.mu.Lock()
	p, ok := e.compiled[h]
	e.mu.Unlock()
	if ok {
		return p, nil
	}
	code, err := res.CodeByHash(h)
	if err != nil {
		return nil, fmt.Errorf("code %s: %w", h, err)
	}
	if CodeHash(code) != h {
		return nil, fmt.Errorf("code %s: stored bytes hash to %s", h, CodeHash(code))
	}
	return e.load(ctx, code)
}

// Outcome is the result of a call.
type Outcome struct {
	Result  []byte
	GasUsed uint64
	// Err is nil on success, else a *types.TxError with one of the Code*
	// values of this package.
	Err error
}

// Call runs the code with hash codeHash on input (kind, fn, args) against
// the overlay, with gasLimit. On success the overlay holds the call's
// writes; on failure they are rolled back. The returned error is for
// failures of the node itself (state reads), never of the contract.
//
// scope, if not nil, carries contract instances from call to call within
// one block execution (see Scope); nil gives the call the started state.
func (e *Engine) Call(ctx context.Context, scope *Scope, ov *Overlay, res Resolver, codeHash crypto.Hash, env Env, kind byte, fn string, args []byte, gasLimit uint64) (*Outcome, error) {
	s := &session{engine: e, overlay: ov, resolver: res, scope: scope}
	return s.call(ctx, codeHash, env, kind, fn, args, gasLimit, 0)
}

// Export names of a contract module.
const (
	ExportInvoke = "cairn_invoke"
)

// randSource is a deterministic byte stream: SHA-256(seed || counter).
type randSource struct {
	seed [32]byte
	ctr  uint64
	buf  []byte
}

func (r *randSource) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			var c [8]byte
			binary.BigEndian.PutUint64(c[:], r.ctr)
			r.ctr++
			h := sha256.Sum256(append(r.seed[:], c[:]...))
			r.buf = h[:]
		}
		k := copy(p[n:], r.buf)
		r.buf = r.buf[k:]
		n += k
	}
	return n, nil
}
