package vm

import (
	"context"
	"encoding/binary"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// The WASI subset (module wasi_snapshot_preview1) is Cairn's own, not
// wazero's, for two reasons: every function must be deterministic and
// stateless across calls (instances are reused), and every function whose
// work grows with its arguments must be priced in gas like the host API
// (random_get by bytes, fd_write by buffers and bytes, poll_oneoff by
// subscriptions). There are no files: stdin is empty, stdout and stderr
// swallow what is written, no directory is preopened, and the file and path
// functions are not offered at all (a module importing them is refused at
// deploy).

// WASI errno values.
const (
	errnoSuccess = 0
	errnoBadf    = 8
	errnoFault   = 21
	errnoInval   = 28
	errnoNotsup  = 58
)

// wasiFuncs maps each offered WASI function to its implementation.
var wasiFuncs = map[string]any{
	"args_sizes_get": func(ctx context.Context, m api.Module, argc, bufSize uint32) uint32 {
		return wasiTwoZeros(ctx, m, argc, bufSize)
	},
	"args_get": func(ctx context.Context, m api.Module, argv, buf uint32) uint32 {
		wasiEnter(ctx, 0)
		return errnoSuccess
	},
	"environ_sizes_get": func(ctx context.Context, m api.Module, n, bufSize uint32) uint32 {
		return wasiTwoZeros(ctx, m, n, bufSize)
	},
	"environ_get": func(ctx context.Context, m api.Module, env, buf uint32) uint32 {
		wasiEnter(ctx, 0)
		return errnoSuccess
	},
	"clock_time_get": func(ctx context.Context, m api.Module, id uint32, precision uint64, out uint32) uint32 {
		f := wasiEnter(ctx, 0)
		if id > 3 {
			return errnoInval
		}
		if !m.Memory().WriteUint64Le(out, uint64(f.env.Time)) {
			return errnoFault
		}
		return errnoSuccess
	},
	"clock_res_get": func(ctx context.Context, m api.Module, id uint32, out uint32) uint32 {
		wasiEnter(ctx, 0)
		if id > 3 {
			return errnoInval
		}
		if !m.Memory().WriteUint64Le(out, 1) {
			return errnoFault
		}
		return errnoSuccess
	},
	"random_get": func(ctx context.Context, m api.Module, buf, n uint32) uint32 {
		f := wasiEnter(ctx, uint64(n)*GasReadByte)
		b, ok := m.Memory().Read(buf, n)
		if !ok {
			return errnoFault
		}
		_, _ = f.rnd.Read(b)
		return errnoSuccess
	},
	"proc_exit": func(ctx context.Context, m api.Module, code uint32) {
		wasiEnter(ctx, 0)
		_ = m.CloseWithExitCode(ctx, code)
		panic(sys.NewExitError(code))
	},
	"sched_yield": func(ctx context.Context, m api.Module) uint32 { wasiEnter(ctx, 0); return errnoSuccess },
	"fd_write": func(ctx context.Context, m api.Module, fd, iovs, n, written uint32) uint32 {
		f := wasiEnter(ctx, uint64(n)*GasReadByte*8)
		if fd != 1 && fd != 2 {
			return errnoBadf
		}
		var total uint32
		for i := uint32(0); i < n; i++ {
			l, ok := m.Memory().ReadUint32Le(iovs + 8*i + 4)
			if !ok {
				return errnoFault
			}
			total += l
		}
		f.charge(uint64(total) * GasReadByte)
		if !m.Memory().WriteUint32Le(written, total) {
			return errnoFault
		}
		return errnoSuccess
	},
	"fd_read": func(ctx context.Context, m api.Module, fd, iovs, n, read uint32) uint32 {
		wasiEnter(ctx, 0)
		if fd != 0 {
			return errnoBadf
		}
		if !m.Memory().WriteUint32Le(read, 0) {
			return errnoFault
		}
		return errnoSuccess
	},
	"fd_close": func(ctx context.Context, m api.Module, fd uint32) uint32 {
		wasiEnter(ctx, 0)
		if fd <= 2 {
			return errnoNotsup
		}
		return errnoBadf
	},
	"fd_fdstat_get": func(ctx context.Context, m api.Module, fd, out uint32) uint32 {
		wasiEnter(ctx, 0)
		if fd > 2 {
			return errnoBadf
		}
		var st [24]byte
		st[0] = 2 // character device
		binary.LittleEndian.PutUint64(st[8:], ^uint64(0))
		binary.LittleEndian.PutUint64(st[16:], ^uint64(0))
		if !m.Memory().Write(out, st[:]) {
			return errnoFault
		}
		return errnoSuccess
	},
	"fd_fdstat_set_flags": func(ctx context.Context, m api.Module, fd, flags uint32) uint32 {
		wasiEnter(ctx, 0)
		if fd > 2 {
			return errnoBadf
		}
		return errnoNotsup
	},
	"fd_prestat_get": func(ctx context.Context, m api.Module, fd, out uint32) uint32 { wasiEnter(ctx, 0); return errnoBadf },
	"fd_prestat_dir_name": func(ctx context.Context, m api.Module, fd, path, n uint32) uint32 {
		wasiEnter(ctx, 0)
		return errnoBadf
	},
	"poll_oneoff": func(ctx context.Context, m api.Module, in, out, nsubs, nevents uint32) uint32 {
		wasiEnter(ctx, uint64(nsubs)*GasHostCall)
		if nsubs == 0 {
			return errnoInval
		}
		mem := m.Memory()
		// Every subscription fires at once: a clock has reached its
		// deadline (time does not pass within a block), and a descriptor
		// is answered with EBADF.
		for i := uint32(0); i < nsubs; i++ {
			sub, ok := mem.Read(in+48*i, 48)
			if !ok {
				return errnoFault
			}
			var ev [32]byte
			copy(ev[0:8], sub[0:8]) // userdata
			ev[10] = sub[8]         // event type = subscription tag
			if sub[8] != 0 {
				binary.LittleEndian.PutUint16(ev[8:], errnoBadf)
			}
			if !mem.Write(out+32*i, ev[:]) {
				return errnoFault
			}
		}
		if !mem.WriteUint32Le(nevents, nsubs) {
			return errnoFault
		}
		return errnoSuccess
	},
}

func wasiTwoZeros(ctx context.Context, m api.Module, a, b uint32) uint32 {
	wasiEnter(ctx, 0)
	if !m.Memory().WriteUint32Le(a, 0) || !m.Memory().WriteUint32Le(b, 0) {
		return errnoFault
	}
	return errnoSuccess
}

// wasiEnter charges a WASI call's base price plus extra. WASI, unlike the
// host API, serves the module's start-up too.
func wasiEnter(ctx context.Context, extra uint64) *frame {
	f := ctx.Value(frameKey{}).(*frame)
	f.charge(GasHostCall + extra)
	return f
}

func instantiateWASI(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder("wasi_snapshot_preview1")
	for name, fn := range wasiFuncs {
		b = b.NewFunctionBuilder().WithFunc(fn).Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}
