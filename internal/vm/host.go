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
			code, err := f.s.resolver.Code(name)
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

func (s *session) call(ctx context.Context, code []byte, env Env, kind byte, fn string, args []byte, gasLimit uint64, depth int) (*Outcome, error) {
	e := s.engine
	if depth > e.limits.MaxContractDepth {
		return &Outcome{Err: types.Errf(CodeCallDepth, "contract calls nested deeper than %d", e.limits.MaxContractDepth)}, nil
	}
	if len(fn) > 256 {
		return &Outcome{Err: types.Errf(CodeNoSuchFunction, "function name of %d bytes", len(fn))}, nil
	}
	gasLimit = min(gasLimit, 1<<62)
	p, err := e.load(ctx, code)
	if err != nil {
		return &Outcome{Err: err}, nil
	}
	sp := s.overlay.save()
	f := &frame{s: s, env: env, depth: depth, input: EncodeInput(kind, fn, args)}
	cctx := context.WithValue(ctx, frameKey{}, f)
	blockTime := env.Time
	seed := sha256.Sum256(append(append([]byte("cairn/wasi-random/v1\x00"), env.TxHash[:]...), env.Contract...))
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithWalltime(func() (int64, int32) { return blockTime / 1e9, int32(blockTime % 1e9) }, sys.ClockResolution(1)).
		WithNanotime(func() int64 { return blockTime }, sys.ClockResolution(1)).
		WithNanosleep(func(int64) {}).
		WithOsyield(func() {}).
		WithRandSource(&randSource{seed: seed})
	mod, err := e.rt.InstantiateModule(cctx, p.mod, mc)
	if err != nil {
		return &Outcome{Err: types.Errf(CodeTrap, "instantiate: %v", err)}, nil
	}
	defer mod.Close(ctx)
	f.mod = mod
	f.gas = mod.ExportedGlobal(instrument.GasGlobal).(api.MutableGlobal)
	depthG := mod.ExportedGlobal(instrument.DepthGlobal)
	growG := mod.ExportedGlobal(instrument.GrowFailedGlobal)
	if mem := mod.Memory(); mem != nil {
		f.pages = mem.Size() / 65536
	}
	fail := func(callErr error, gasUsed uint64, startup bool) (*Outcome, error) {
		s.overlay.rollback(sp)
		if f.nodeErr != nil {
			return nil, f.nodeErr
		}
		out := &Outcome{GasUsed: gasUsed}
		prefix := ""
		if startup {
			prefix = "module start-up: "
		}
		var exit *sys.ExitError
		switch {
		case f.abort != nil:
			out.Err = f.abort
			if startup {
				out.Err = types.Errf(f.abort.Code, "%s%s", prefix, f.abort.Msg)
			}
		case f.gasLeft() < 0:
			out.Err = types.Errf(CodeOutOfGas, "%sout of gas", prefix)
		case uint32(depthG.Get()) > e.limits.MaxCallDepth || strings.Contains(callErr.Error(), "stack overflow"):
			out.Err = types.Errf(CodeCallDepth, "%scall stack deeper than %d frames", prefix, e.limits.MaxCallDepth)
		case growG.Get() != 0 || (mod.Memory() != nil && mod.Memory().Size()/65536 >= e.limits.MaxMemoryPages):
			out.Err = types.Errf(CodeMemoryLimit, "%smemory reached its cap of %d pages", prefix, e.limits.MaxMemoryPages)
		case errors.As(callErr, &exit):
			out.Err = types.Errf(CodeTrap, "%scontract exited with code %d", prefix, exit.ExitCode())
		default:
			msg := callErr.Error()
			if i := strings.IndexByte(msg, '\n'); i >= 0 {
				msg = msg[:i]
			}
			out.Err = types.Errf(CodeTrap, "%s%s", prefix, msg)
		}
		if startup {
			out.GasUsed = 0
		}
		return out, nil
	}
	if p.initialize {
		f.gas.Set(e.limits.StartGas)
		if _, err := mod.ExportedFunction("_initialize").Call(cctx); err != nil {
			return fail(err, 0, true)
		}
		if mem := mod.Memory(); mem != nil {
			f.pages = mem.Size() / 65536
		}
	}
	f.gas.Set(gasLimit)
	used := func() uint64 {
		left := f.gasLeft()
		if left < 0 {
			return gasLimit
		}
		return gasLimit - uint64(left)
	}
	callErr := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(abortPanic); !ok {
					panic(r)
				}
				err = errors.New("aborted")
			}
		}()
		if _, err := mod.ExportedFunction(ExportInvoke).Call(cctx); err != nil {
			return err
		}
		f.chargeMemory()
		return nil
	}()
	if callErr != nil {
		return fail(callErr, used(), false)
	}
	return &Outcome{Result: f.result, GasUsed: used()}, nil
}
