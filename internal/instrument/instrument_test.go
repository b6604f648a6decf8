package instrument

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// A tiny assembler for hand-made test modules.

func sec(id byte, body ...byte) []byte {
	return append(appendU32([]byte{id}, uint32(len(body))), body...)
}

func vec(items ...[]byte) []byte {
	out := appendU32(nil, uint32(len(items)))
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

func module(sections ...[]byte) []byte {
	out := append([]byte(nil), wasmHeader...)
	for _, s := range sections {
		out = append(out, s...)
	}
	return out
}

func functype(params, results []byte) []byte {
	out := []byte{0x60}
	out = append(appendU32(out, uint32(len(params))), params...)
	return append(appendU32(out, uint32(len(results))), results...)
}

func body(locals []byte, code ...byte) []byte {
	b := append(append([]byte(nil), locals...), code...)
	return append(appendU32(nil, uint32(len(b))), b...)
}

func export(name string, kind byte, idx uint32) []byte {
	return appendU32(append(appendName(nil, name), kind), idx)
}

const (
	i32 = 0x7f
	i64 = 0x7e
	f64 = 0x7c
)

// oneFunc is a module with one exported function "f" of the given type.
func oneFunc(params, results []byte, locals []byte, code ...byte) []byte {
	return module(
		sec(1, vec(functype(params, results))...),
		sec(3, vec([]byte{0})...),
		sec(7, vec(export("f", 0, 0))...),
		sec(10, vec(body(locals, code...))...),
	)
}

var allowEnvGas = Config{
	AllowImport:    func(m, n string) bool { return m == "env" && n == "ok" },
	MaxMemoryPages: 16,
	MaxCallDepth:   100,
}

func TestRefusals(t *testing.T) {
	noLocals := []byte{0}
	cases := []struct {
		name string
		wasm []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"not wasm", []byte("\x7fELF\x01\x00\x00\x00"), ErrMalformed},
		{"version 2", []byte("\x00asm\x02\x00\x00\x00"), ErrMalformed},
		{"truncated section", append(module(), 1, 10, 0x01), ErrMalformed},
		{"overlong leb", append(module(), 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), ErrMalformed},
		{"sections out of order", module(sec(3, 0), sec(1, 0)), ErrMalformed},
		{"body without end", oneFunc(nil, nil, noLocals, 0x01), ErrMalformed},
		{"unknown opcode", oneFunc(nil, nil, noLocals, 0xc5, 0x0b), ErrMalformed},
		{"forbidden import", module(
			sec(1, vec(functype(nil, nil))...),
			sec(2, vec(append(append(appendName(nil, "env"), appendName(nil, "clock")...), 0, 0))...),
		), ErrForbiddenImport},
		{"memory import", module(
			sec(2, vec(append(append(appendName(nil, "env"), appendName(nil, "ok")...), 2, 0, 1))...),
		), ErrForbiddenImport},
		{"simd opcode", oneFunc(nil, nil, noLocals, 0xfd, 0x0c, 0x0b), ErrForbiddenFeature},
		{"v128 local", oneFunc(nil, nil, []byte{1, 1, 0x7b}, 0x0b), ErrForbiddenFeature},
		{"atomics", oneFunc(nil, nil, noLocals, 0xfe, 0x03, 0x0b), ErrForbiddenFeature},
		{"tail call", oneFunc(nil, nil, noLocals, 0x12, 0x00, 0x0b), ErrForbiddenFeature},
		{"table.set", oneFunc(nil, nil, noLocals, 0x41, 0, 0xd0, 0x70, 0x26, 0, 0x0b), ErrForbiddenFeature},
		{"table.grow", oneFunc(nil, nil, noLocals, 0xd0, 0x70, 0x41, 1, 0xfc, 15, 0, 0x1a, 0x0b), ErrForbiddenFeature},
		{"data.drop", oneFunc(nil, nil, noLocals, 0xfc, 9, 0, 0x0b), ErrForbiddenFeature},
		{"shared memory", module(sec(5, vec([]byte{0x03, 1, 1})...)), ErrForbiddenFeature},
		{"memory64", module(sec(5, vec([]byte{0x04, 1})...)), ErrForbiddenFeature},
		{"memory over the cap", module(sec(5, vec([]byte{0x00, 17})...)), ErrTooLarge},
		{"reserved export", module(
			sec(1, vec(functype(nil, nil))...), sec(3, vec([]byte{0})...),
			sec(7, vec(export("__cairn_gas", 0, 0))...), sec(10, vec(body(noLocals, 0x0b))...),
		), ErrForbiddenFeature},
		{"element count beyond its bytes", module(sec(9, 0xb6, 0xb6, 0xb6, 0xff, 0x00)), ErrMalformed},
		{"element items beyond their bytes", module(sec(9, 1, 1, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f)), ErrMalformed},
		{"data bytes beyond the section", module(sec(11, 1, 1, 0xff, 0xff, 0x03)), ErrMalformed},
		{"huge table", module(sec(4, vec([]byte{0x70, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f})...)), ErrTooLarge},
		{"too many locals", oneFunc(nil, nil, []byte{1, 0xff, 0xff, 0x03, i32}, 0x0b), ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Instrument(c.wasm, allowEnvGas)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v (module %v), want %v", err, m != nil, c.want)
			}
		})
	}
	big := make([]byte, 100)
	if _, err := Instrument(big, Config{MaxModuleBytes: 99}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize module: %v", err)
	}
}

// run instantiates an instrumented module on one engine and calls f.
func run(t *testing.T, interp bool, code []byte, gas uint64, args ...uint64) (res []uint64, gasLeft int64, depth uint32, err error) {
	t.Helper()
	ctx := context.Background()
	rc := wazero.NewRuntimeConfigCompiler()
	if interp {
		rc = wazero.NewRuntimeConfigInterpreter()
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc.WithCoreFeatures(api.CoreFeaturesV2))
	defer rt.Close(ctx)
	mod, ierr := rt.Instantiate(ctx, code)
	if ierr != nil {
		t.Fatalf("instantiate: %v", ierr)
	}
	g := mod.ExportedGlobal(GasGlobal).(api.MutableGlobal)
	g.Set(gas)
	res, err = mod.ExportedFunction("f").Call(ctx, args...)
	return res, int64(g.Get()), uint32(mod.ExportedGlobal(DepthGlobal).Get()), err
}

// countdown(n): loop { n--; br_if n != 0 }; return 7.
var countdown = oneFunc([]byte{i32}, []byte{i32}, []byte{0},
	0x03, 0x40, // loop
	0x20, 0, 0x41, 1, 0x6b, 0x22, 0, // n = n - 1 (tee)
	0x0d, 0, // br_if 0
	0x0b,    // end loop
	0x41, 7, // i32.const 7
	0x0b)

func TestGasIsCountedPerInstruction(t *testing.T) {
	m, err := Instrument(countdown, allowEnvGas)
	if err != nil {
		t.Fatal(err)
	}
	for _, interp := range []bool{false, true} {
		used := func(n uint64) uint64 {
			res, left, depth, err := run(t, interp, m.Code, 1_000_000, n)
			if err != nil || res[0] != 7 || depth != 0 {
				t.Fatalf("countdown(%d): %v %v depth %d", n, res, err, depth)
			}
			return 1_000_000 - uint64(left)
		}
		// Segments: [loop] 1, the loop body up to br_if 5, [end] 1,
		// [const, end] 2. One iteration: 9; each further one adds the body.
		if g := used(1); g != 9 {
			t.Errorf("interp=%v: countdown(1) used %d gas, want 9", interp, g)
		}
		if g := used(101); g != 9+100*5 {
			t.Errorf("interp=%v: countdown(101) used %d gas, want %d", interp, g, 9+100*5)
		}
		// Too little gas: a trap, and the global says why.
		_, left, _, err := run(t, interp, m.Code, 100, 1000)
		if err == nil || left >= 0 {
			t.Errorf("interp=%v: out of gas: err %v, gas left %d", interp, err, left)
		}
	}
}

func TestNaNsAreCanonicalised(t *testing.T) {
	// f(a, b) = reinterpret(a / b) with f64 arguments given as bits.
	div := oneFunc([]byte{f64, f64}, []byte{i64}, []byte{0},
		0x20, 0, 0x20, 1, 0xa3, 0xbd, 0x0b)
	m, err := Instrument(div, allowEnvGas)
	if err != nil {
		t.Fatal(err)
	}
	zero := math.Float64bits(0)
	negNaN := uint64(0xfff8000000000001)
	for _, interp := range []bool{false, true} {
		res, _, _, err := run(t, interp, m.Code, 1000, zero, zero)
		if err != nil || res[0] != 0x7ff8000000000000 {
			t.Errorf("interp=%v: 0/0 = %#x (%v), want the canonical NaN", interp, res, err)
		}
		res, _, _, err = run(t, interp, m.Code, 1000, negNaN, math.Float64bits(1))
		if err != nil || res[0] != 0x7ff8000000000000 {
			t.Errorf("interp=%v: NaN payload/1 = %#x (%v), want the canonical NaN", interp, res, err)
		}
		res, _, _, err = run(t, interp, m.Code, 1000, math.Float64bits(1), math.Float64bits(4))
		if err != nil || math.Float64frombits(res[0]) != 0.25 {
			t.Errorf("interp=%v: 1/4 = %v (%v)", interp, res, err)
		}
	}
}

func TestCallDepthIsCapped(t *testing.T) {
	// f(n) = n == 0 ? 0 : f(n-1), with an explicit return on the base case.
	rec := oneFunc([]byte{i32}, []byte{i32}, []byte{0},
		0x20, 0, 0x45, 0x04, 0x40, 0x41, 0, 0x0f, 0x0b, // if n == 0 { return 0 }
		0x20, 0, 0x41, 1, 0x6b, 0x10, 0, // f(n-1)
		0x0b)
	m, err := Instrument(rec, allowEnvGas)
	if err != nil {
		t.Fatal(err)
	}
	for _, interp := range []bool{false, true} {
		res, _, depth, err := run(t, interp, m.Code, 1_000_000, 99)
		if err != nil || res[0] != 0 || depth != 0 {
			t.Fatalf("interp=%v: 100 frames: %v %v, depth left %d", interp, res, err, depth)
		}
		_, left, depth, err := run(t, interp, m.Code, 1_000_000, 100)
		if err == nil || depth <= allowEnvGas.MaxCallDepth || left < 0 {
			t.Fatalf("interp=%v: 101 frames: err %v depth %d gas %d", interp, err, depth, left)
		}
	}
}

// TestRewriteIsDeterministic: the same input gives the same bytes.
func TestRewriteIsDeterministic(t *testing.T) {
	a, err := Instrument(countdown, allowEnvGas)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Instrument(countdown, allowEnvGas)
	if string(a.Code) != string(b.Code) {
		t.Fatal("two rewrites differ")
	}
}
