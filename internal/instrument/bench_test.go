package instrument

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// BenchmarkMeteringOverhead runs the same countdown loop (10^6 iterations)
// unmetered and metered on wazero's compiler; compare ns/op.
func BenchmarkMeteringOverhead(b *testing.B) {
	m, err := Instrument(countdown, allowEnvGas)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		code []byte
	}{{"unmetered", countdown}, {"metered", m.Code}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2))
			defer rt.Close(ctx)
			mod, err := rt.Instantiate(ctx, c.code)
			if err != nil {
				b.Fatal(err)
			}
			f := mod.ExportedFunction("f")
			g, _ := mod.ExportedGlobal(GasGlobal).(api.MutableGlobal)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if g != nil {
					g.Set(1 << 40)
				}
				if _, err := f.Call(ctx, 1_000_000); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
