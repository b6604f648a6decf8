package instrument

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// FuzzInstrument: any input is refused with an error or rewritten, never a
// panic; and whenever the engine accepts the original module, it accepts
// the rewritten one too (the rewrite keeps valid code valid).
func FuzzInstrument(f *testing.F) {
	for _, seed := range [][]byte{
		countdown,
		oneFunc([]byte{f64, f64}, []byte{i64}, []byte{0}, 0x20, 0, 0x20, 1, 0xa3, 0xbd, 0x0b),
		oneFunc(nil, []byte{i32, i64}, []byte{1, 1, i32}, 0x20, 0, 0x42, 3, 0x0b),
		oneFunc([]byte{i32}, []byte{i32}, []byte{0}, 0x20, 0, 0x04, 0x7f, 0x41, 1, 0x05, 0x41, 2, 0x0b, 0x0b),
		oneFunc([]byte{i32}, nil, []byte{0}, 0x02, 0x40, 0x20, 0, 0x0e, 1, 0, 0, 0x0b, 0x0b),
		module(sec(5, vec([]byte{0x00, 1})...)),
		nil,
	} {
		f.Add(seed)
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2))
	defer rt.Close(ctx)
	cfg := Config{AllowImport: func(string, string) bool { return true }, MaxMemoryPages: 16, MaxCallDepth: 100}
	f.Fuzz(func(t *testing.T, wasm []byte) {
		m, err := Instrument(wasm, cfg)
		if err != nil {
			return
		}
		orig, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			return
		}
		orig.Close(ctx)
		inst, err := rt.CompileModule(ctx, m.Code)
		if err != nil {
			t.Fatalf("the engine accepts the module but not its rewrite: %v", err)
		}
		inst.Close(ctx)
	})
}
