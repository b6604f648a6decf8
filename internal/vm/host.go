package vm

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/instrument"
	"github.com/cairn-db/cairn/types"
)

// HostModule is the import module name of the Cairn host API.
const HostModule = "cairn"

// Env fields readable with the env host function.
const (
	EnvContract = 0
	EnvCaller   = 1
	EnvTxHash   = 2
	EnvHeight   = 3 // 8 bytes big-endian
	EnvTime     = 4 // unix nanoseconds, 8 bytes big-endian
	EnvSelf     = 5
)

// Input kinds, the first byte of a call's input.
const (
	KindInit   = 0
	KindInvoke = 1
	KindQuery  = 2
)

type session struct {
	engine   *Engine
	overlay  *Overlay
	resolver Resolver
	scope    *Scope
}

// Scope keeps one instance per contract (instance name) across the calls of
// one block execution (Engine.Call with the same scope), so that a block pays
// for restoring a contract's started state once per contract rather than
// once per call: the "fresh instance per (block, contract)" rule. Instances
// are keyed by name, not code hash: two contracts running the same code are
// two instances and never see each other's memory. Calls run in the block's
// order, and a call that fails discards its instance (the next call starts
// from the snapshot again), so every validator executing the block gives
// every call the same instance state. A nil *Scope (queries) restores the
// started state for every call. Close returns the instances to the engine's
// pool; a scope is used by one goroutine at a time.
type Scope struct {
	held    map[string]*instance // idle, in the state the last call left
	running map[string]bool
}

// NewScope starts a scope for one block execution.
func NewScope() *Scope {
	return &Scope{held: map[string]*instance{}, running: map[string]bool{}}
}

// take returns the instance of contract name (running code p) for a call.
// An instance is bound to its code: after an upgrade within the block the
// held instance of the old code is dropped and the new code starts fresh.
func (sc *Scope) take(ctx context.Context, e *Engine, p *program, name string) (*instance, error) {
	if sc == nil || sc.running[name] {
		// No scope, or the contract is running already (it called
		// itself): a separate instance from the started state.
		return e.acquire(ctx, p)
	}
	in := sc.held[name]
	if in != nil && in.owner != p {
		delete(sc.held, name)
		q := in.owner
		in.owner = nil
		e.release(ctx, q, in)
		in = nil
	}
	if in == nil {
		var err error
		if in, err = e.acquire(ctx, p); err != nil {
			return nil, err
		}
	}
	delete(sc.held, name)
	sc.running[name] = true
	in.owner = p
	return in, nil
}

// done ends a call's use of an instance: kept for the scope's next call
// when the call ended cleanly, else closed.
func (sc *Scope) done(ctx context.Context, e *Engine, p *program, name string, in *instance, clean bool) {
	if in.owner != nil {
		sc.running[name] = false
		if clean {
			sc.held[name] = in
			return
		}
		in.owner = nil
	}
	if clean {
		e.release(ctx, p, in)
	} else {
		in.mod.Close(ctx)
	}
}

// Close hands the scope's instances back to the engine.
func (sc *Scope) Close(ctx context.Context, e *Engine) {
	if sc == nil {
		return
	}
	for name, in := range sc.held {
		p := in.owner
		in.owner = nil
		e.release(ctx, p, in)
		delete(sc.held, name)
	}
}

// frame is one running call; host functions find it in their context.
type frame struct {
	s       *session
	env     Env
	depth   int
	input   []byte
	ret     []byte // the last host result, read with read_ret
	result  []byte
	gas     api.MutableGlobal
	mod     api.Module
	pages   uint32 // memory pages already paid for
	abort   *types.TxError
	nodeErr error
	events  int
	startup bool // the module start-up: no host API
	rnd     *randSource
}

type frameKey struct{}

// abortPanic unwinds the module from a host function; the reason is in
// frame.abort or frame.nodeErr.
type abortPanic struct{}

func (f *frame) fail(code types.Code, format string, args ...any) {
	f.abort = types.Errf(code, format, args...)
	panic(abortPanic{})
}

func (f *frame) failNode(err error) {
	f.nodeErr = err
	panic(abortPanic{})
}

func (f *frame) gasLeft() int64 { return int64(f.gas.Get()) }

// charge takes n units of gas, aborting with out_of_gas when they run out.
func (f *frame) charge(n uint64) {
	left := f.gasLeft() - int64(min(n, 1<<62))
	f.gas.Set(uint64(left))
	if left < 0 {
		f.fail(CodeOutOfGas, "out of gas")
	}
}

// chargeMemory takes the price of pages grown since the last charge.
func (f *frame) chargeMemory() {
	if mem := f.mod.Memory(); mem != nil {
		if p := mem.Size() / 65536; p > f.pages {
			grown := p - f.pages
			f.pages = p
			f.charge(uint64(grown) * GasMemoryPage)
		}
	}
}

func (f *frame) read(m api.Module, ptr, n uint32) []byte {
	f.charge(uint64(n) * GasReadByte)
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		f.fail(CodeTrap, "host call read out of memory bounds (%d+%d)", ptr, n)
	}
	return b
}

func (f *frame) write(m api.Module, ptr uint32, b []byte) {
	if !m.Memory().Write(ptr, b) {
		f.fail(CodeTrap, "host call write out of memory bounds (%d+%d)", ptr, len(b))
	}
}

// setRet stores a result for read_ret and returns its length.
func (f *frame) setRet(b []byte) int32 {
	f.charge(uint64(len(b)) * GasReadByte)
	f.ret = b
	return int32(len(b))
}

func (f *frame) key(m api.Module, ptr, n uint32) []byte {
	if int(n) > f.s.engine.limits.MaxKeyBytes {
		f.fail(CodeKeyTooLarge, "key of %d bytes, limit %d", n, f.s.engine.limits.MaxKeyBytes)
	}
	return f.read(m, ptr, n)
}

func (f *frame) writable(what string) {
	if f.env.ReadOnly {
		f.fail(CodeReadOnly, "%s in a read-only query", what)
	}
}

func enter(ctx context.Context) *frame {
	f := ctx.Value(frameKey{}).(*frame)
	if f.startup {
		f.fail(CodeTrap, "the host API is not available during module start-up (package initialisers)")
	}
	f.charge(GasHostCall)
	f.chargeMemory()
	return f
}

// hostFuncs is the Cairn host API: name -> Go function (wazero binds by
// reflection; i32 arguments are uint32, i64 are uint64/int64).
var hostFuncs map[string]any

// hostNames lists hostFuncs' names (AllowImport reads it; a test keeps the
// two equal).
var hostNames = map[string]bool{
	"input": true, "read_ret": true, "set_result": true, "fail": true,
	"get_state": true, "put_state": true, "del_state": true, "get_range": true,
	"get_history": true, "env": true, "emit": true, "balance": true,
	"transfer": true, "call": true,
}

func init() { hostFuncs = newHostFuncs() }

func newHostFuncs() map[string]any {
	return map[string]any{
		"input": func(ctx context.Context, m api.Module) int32 {
			f := enter(ctx)
			return f.setRet(f.input)
		},
		"read_ret": func(ctx context.Context, m api.Module, ptr uint32) {
			f := enter(ctx)
			f.write(m, ptr, f.ret)
		},
		"set_result": func(ctx context.Context, m api.Module, ptr, n uint32) {
			f := enter(ctx)
			if int(n) > f.s.engine.limits.MaxReturnBytes {
				f.fail(CodeValueTooLarge, "result of %d bytes, limit %d", n, f.s.engine.limits.MaxReturnBytes)
			}
			f.result = append([]byte(nil), f.read(m, ptr, n)...)
		},
		"fail": func(ctx context.Context, m api.Module, ptr, n uint32) {
			f := enter(ctx)
			msg := f.read(m, ptr, min(n, 1024))
			f.fail(CodeContractError, "%s", msg)
		},
		"get_state": func(ctx context.Context, m api.Module, kp, kl uint32) int32 {
			f := enter(ctx)
			k := f.key(m, kp, kl)
			v, ok, err := f.s.overlay.get(f.env.Contract, k)
			if err != nil {
				f.failNode(fmt.Errorf("get_state: %w", err))
			}
			if !ok {
				f.ret = nil
				return -1
			}
			return f.setRet(v)
		},
		"put_state": func(ctx context.Context, m api.Module, kp, kl, vp, vl uint32) {
			f := enter(ctx)
			f.writable("put_state")
			lim := f.s.engine.limits
			if kl == 0 {
				f.fail(CodeKeyTooLarge, "empty key")
			}
			if int(vl) > lim.MaxValueBytes {
				f.fail(CodeValueTooLarge, "value of %d bytes, limit %d", vl, lim.MaxValueBytes)
			}
			k := f.key(m, kp, kl)
			f.charge(uint64(kl+vl) * GasWriteByte)
			v := f.read(m, vp, vl)
			f.s.overlay.put(f.env.Contract, k, v)
		},
		"del_state": func(ctx context.Context, m api.Module, kp, kl uint32) {
			f := enter(ctx)
			f.writable("del_state")
			k := f.key(m, kp, kl)
			f.charge(uint64(kl) * GasWriteByte)
			f.s.overlay.del(f.env.Contract, k)
		},
		"get_range": func(ctx context.Context, m api.Module, sp, sl, ep, el, limit uint32) int32 {
			f := enter(ctx)
			start := f.key(m, sp, sl)
			var end []byte
			if el > 0 {
				end = f.key(m, ep, el)
			}
			max := f.s.engine.limits.MaxRangePage
			if limit == 0 || int(limit) > max {
				limit = uint32(max)
			}
			f.charge(uint64(f.s.overlay.pendingKeys(f.env.Contract))) // the merge scans them
			page, more, err := f.s.overlay.rangePage(f.env.Contract, start, end, int(limit))
			if err != nil {
				f.failNode(err)
			}
			out := binary.BigEndian.AppendUint32(nil, uint32(len(page)))
			for _, kv := range page {
				out = binary.BigEndian.AppendUint32(out, uint32(len(kv.Key)))
				out = append(out, kv.Key...)
				out = binary.BigEndian.AppendUint32(out, uint32(len(kv.Value)))
				out = append(out, kv.Value...)
			}
			if more {
				out = append(out, 1)
			} else {
				out = append(out, 0)
			}
			return f.setRet(out)
		},
		"get_history": func(ctx context.Context, m api.Module, kp, kl, limit uint32) int32 {
			f := enter(ctx)
			k := f.key(m, kp, kl)
			max := f.s.engine.limits.MaxHistory
			if limit == 0 || int(limit) > max {
				limit = uint32(max)
			}
			vs, err := f.s.overlay.base.History(f.env.Contract, k, int(limit))
			if err != nil {
				f.failNode(fmt.Errorf("get_history: %w", err))
			}
			out := binary.BigEndian.AppendUint32(nil, uint32(len(vs)))
			for _, v := range vs {
				out = binary.BigEndian.AppendUint64(out, v.Height)
				if v.Deleted {
					out = append(out, 1)
				} else {
					out = append(out, 0)
				}
				out = binary.BigEndian.AppendUint32(out, uint32(len(v.Value)))
				out = append(out, v.Value...)
			}
			return f.setRet(out)
		},
		"env": func(ctx context.Context, m api.Module, field uint32) int32 {
			f := enter(ctx)
			switch field {
			case EnvContract:
				return f.setRet([]byte(f.env.Contract))
			case EnvCaller:
				return f.setRet(f.env.Caller[:])
			case EnvTxHash:
				return f.setRet(f.env.TxHash[:])
			case EnvHeight:
				return f.setRet(binary.BigEndian.AppendUint64(nil, f.env.Height))
			case EnvTime:
				return f.setRet(binary.BigEndian.AppendUint64(nil, uint64(f.env.Time)))
			case EnvSelf:
				return f.setRet(f.env.Self[:])
			}
			f.fail(CodeTrap, "env: unknown field %d", field)
			return 0
		},
		"emit": func(ctx context.Context, m api.Module, np, nl, dp, dl uint32) {
			f := enter(ctx)
			f.writable("emit")
			lim := f.s.engine.limits
			if int(nl)+int(dl) > lim.MaxEventBytes {
				f.fail(CodeEventTooLarge, "event of %d bytes, limit %d", nl+dl, lim.MaxEventBytes)
			}
			if nl == 0 {
				f.fail(CodeEventTooLarge, "event without a name")
			}
			if f.events++; f.events > lim.MaxEvents {
				f.fail(CodeTooManyEvents, "more than %d events", lim.MaxEvents)
			}
			f.charge(uint64(nl+dl) * GasEmitByte)
			name := string(f.read(m, np, nl))
			data := append([]byte(nil), f.read(m, dp, dl)...)
			f.s.overlay.Events = append(f.s.overlay.Events, Event{Contract: f.env.Contract, Name: name, Data: data})
		},
		"balance": func(ctx context.Context, m api.Module, ap, al uint32) uint64 {
			f := enter(ctx)
			a := f.address(m, ap, al)
			b, err := f.s.overlay.balance(a)
			if err != nil {
				f.failNode(err)
			}
			return b
		},
		"transfer": func(ctx context.Context, m api.Module, ap, al uint32, amount uint64) int32 {
			f := enter(ctx)
			f.writable("transfer")
			to := f.address(m, ap, al)
			have, err := f.s.overlay.balance(f.env.Self)
			if err != nil {
				f.failNode(err)
			}
			if amount > have {
				return -f.setRet([]byte(fmt.Sprintf("insufficient_balance: contract holds %d, transfer of %d", have, amount))) - 1
			}
			f.s.overlay.Transfers = append(f.s.overlay.Transfers, Transfer{From: f.env.Self, To: to, Amount: amount})
			return 0
		},
		"call": func(ctx context.Context, m api.Module, cp, cl, fp, fl, ap, al uint32, gas uint64) int32 {
			f := enter(ctx)
			name := string(f.read(m, cp, min(cl, 256)))
			fn := string(f.read(m, fp, min(fl, 256)))
			args := append([]byte(nil), f.read(m, ap, al)...)
			left := uint64(max(f.gasLeft(), 0))
			if gas == 0 || gas > left {
				gas = left
			}
			code, err := f.s.resolver.Resolve(name)
			if err != nil {
				var te *types.TxError
				if errors.As(err, &te) {
					return -f.setRet([]byte(te.Error())) - 1
				}
				f.failNode(fmt.Errorf("call %s: %w", name, err))
			}
			env := f.env
			env.Contract, env.Self, env.Caller = name, ContractAddress(name), f.env.Self
			kind := byte(KindInvoke)
			if env.ReadOnly {
				kind = KindQuery
			}
			out, err := f.s.call(ctx, code, env, kind, fn, args, gas, f.depth+1)
			if err != nil {
				f.failNode(err)
			}
			f.charge(out.GasUsed)
			if out.Err != nil {
				return -f.setRet([]byte(out.Err.Error())) - 1
			}
			return f.setRet(out.Result)
		},
	}
}

func (f *frame) address(m api.Module, ptr, n uint32) crypto.Address {
	if n != crypto.AddressSize {
		f.fail(CodeTrap, "address of %d bytes, want %d", n, crypto.AddressSize)
	}
	var a crypto.Address
	copy(a[:], f.read(m, ptr, n))
	return a
}

func instantiateHost(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(HostModule)
	for name, fn := range hostFuncs {
		b = b.NewFunctionBuilder().WithFunc(fn).Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// EncodeInput is a call's input as the contract SDK reads it:
// kind (1 byte) | len(fn) (2 bytes, big-endian) | fn | args.
func EncodeInput(kind byte, fn string, args []byte) []byte {
	out := make([]byte, 0, 3+len(fn)+len(args))
	out = append(out, kind)
	out = binary.BigEndian.AppendUint16(out, uint16(len(fn)))
	out = append(out, fn...)
	return append(out, args...)
}

// instance is a started module ready for a call. Its random source is
// reseeded for each call, so that a pooled instance serves any call.
type instance struct {
	mod      api.Module
	rnd      *randSource
	gas      api.MutableGlobal
	depth    api.Global
	grow     api.MutableGlobal
	globals  []api.MutableGlobal
	depthSet api.MutableGlobal
	owner    *program // set while a Scope holds the instance
}

// wasiConfig is an instance's configuration: anonymous, no start
// functions (the engine runs _initialize itself). Everything else an
// instance could learn comes through the host functions of wasi.go and
// host.go, which read the call's frame.
func wasiConfig() wazero.ModuleConfig {
	return wazero.NewModuleConfig().WithName("").WithStartFunctions()
}

func (r *randSource) reseed(env Env) {
	r.seed = sha256.Sum256(append(append([]byte("cairn/wasi-random/v1\x00"), env.TxHash[:]...), env.Contract...))
	r.ctr, r.buf = 0, nil
}

// acquire returns an instance of p in its started state: from the pool,
// or newly instantiated.
func (e *Engine) acquire(ctx context.Context, p *program) (*instance, error) {
	p.mu.Lock()
	if n := len(p.pool); n > 0 {
		in := p.pool[n-1]
		p.pool = p.pool[:n-1]
		p.mu.Unlock()
		if err := p.restore(in); err == nil {
			return in, nil
		}
		in.mod.Close(ctx)
	} else {
		p.mu.Unlock()
	}
	in := &instance{rnd: &randSource{}}
	mod, err := e.rt.InstantiateModule(ctx, p.mod, wasiConfig())
	if err != nil {
		return nil, err
	}
	in.mod = mod
	in.gas = mod.ExportedGlobal(instrument.GasGlobal).(api.MutableGlobal)
	in.depthSet = mod.ExportedGlobal(instrument.DepthGlobal).(api.MutableGlobal)
	in.depth = in.depthSet
	in.grow = mod.ExportedGlobal(instrument.GrowFailedGlobal).(api.MutableGlobal)
	for _, n := range p.globals {
		in.globals = append(in.globals, mod.ExportedGlobal(n).(api.MutableGlobal))
	}
	if mem := mod.Memory(); mem != nil && mem.Size() < uint32(len(p.memory)) {
		if _, ok := mem.Grow((uint32(len(p.memory)) - mem.Size()) / 65536); !ok {
			mod.Close(ctx)
			return nil, fmt.Errorf("memory of %d bytes cannot be restored", len(p.memory))
		}
	}
	if err := p.restore(in); err != nil {
		mod.Close(ctx)
		return nil, err
	}
	return in, nil
}

// restore puts an instance back into the started state: memory (which
// must not have grown), the module's mutable globals, the counters.
func (p *program) restore(in *instance) error {
	if mem := in.mod.Memory(); mem != nil {
		if mem.Size() != uint32(len(p.memory)) {
			return errors.New("memory size differs from the snapshot")
		}
		if !mem.Write(0, p.memory) {
			return errors.New("memory write failed")
		}
	}
	for i, g := range in.globals {
		g.Set(p.values[i])
	}
	in.depthSet.Set(0)
	in.grow.Set(0)
	return nil
}

// release returns a cleanly finished instance to the pool.
func (e *Engine) release(ctx context.Context, p *program, in *instance) {
	p.mu.Lock()
	if len(p.pool) < 4 {
		p.pool = append(p.pool, in)
		in = nil
	}
	p.mu.Unlock()
	if in != nil {
		in.mod.Close(ctx)
	}
}

func (s *session) call(ctx context.Context, codeHash crypto.Hash, env Env, kind byte, fn string, args []byte, gasLimit uint64, depth int) (*Outcome, error) {
	e := s.engine
	if depth > e.limits.MaxContractDepth {
		return &Outcome{Err: types.Errf(CodeCallDepth, "contract calls nested deeper than %d", e.limits.MaxContractDepth)}, nil
	}
	if len(fn) > 256 {
		return &Outcome{Err: types.Errf(CodeNoSuchFunction, "function name of %d bytes", len(fn))}, nil
	}
	gasLimit = min(gasLimit, 1<<62)
	p, err := e.program(ctx, codeHash, s.resolver)
	if err != nil {
		var te *types.TxError
		if errors.As(err, &te) {
			return &Outcome{Err: te}, nil
		}
		return nil, err
	}
	in, err := s.scope.take(ctx, e, p, env.Contract)
	if err != nil {
		return nil, fmt.Errorf("vm: instance of %s: %w", codeHash, err)
	}
	clean := false
	defer func() { s.scope.done(ctx, e, p, env.Contract, in, clean) }()
	in.rnd.reseed(env)
	sp := s.overlay.save()
	f := &frame{s: s, env: env, depth: depth, input: EncodeInput(kind, fn, args), mod: in.mod, gas: in.gas, rnd: in.rnd}
	if mem := in.mod.Memory(); mem != nil {
		f.pages = mem.Size() / 65536
	}
	cctx := context.WithValue(ctx, frameKey{}, f)
	f.gas.Set(gasLimit)
	used := func() uint64 {
		left := f.gasLeft()
		if left < 0 {
			return gasLimit
		}
		return gasLimit - uint64(left)
	}
	_, callErr := in.mod.ExportedFunction(ExportInvoke).Call(cctx)
	if callErr == nil {
		callErr = func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(abortPanic); !ok {
						panic(r)
					}
					err = errors.New("aborted")
				}
			}()
			f.chargeMemory()
			return nil
		}()
	}
	if callErr == nil {
		clean = true
		return &Outcome{Result: f.result, GasUsed: used()}, nil
	}
	s.overlay.rollback(sp)
	if f.nodeErr != nil {
		return nil, f.nodeErr
	}
	out := &Outcome{GasUsed: used()}
	var exit *sys.ExitError
	switch {
	case f.abort != nil:
		out.Err = f.abort
	case f.gasLeft() < 0:
		out.Err = types.Errf(CodeOutOfGas, "out of gas")
	case uint32(in.depth.Get()) > e.limits.MaxCallDepth || strings.Contains(callErr.Error(), "stack overflow"):
		out.Err = types.Errf(CodeCallDepth, "call stack deeper than %d frames", e.limits.MaxCallDepth)
	case in.grow.Get() != 0 || (in.mod.Memory() != nil && in.mod.Memory().Size()/65536 >= e.limits.MaxMemoryPages):
		out.Err = types.Errf(CodeMemoryLimit, "memory reached its cap of %d pages", e.limits.MaxMemoryPages)
	case errors.As(callErr, &exit):
		out.Err = types.Errf(CodeTrap, "contract exited with code %d", exit.ExitCode())
	default:
		out.Err = types.Errf(CodeTrap, "%s", firstLine(callErr.Error()))
	}
	return out, nil
}
