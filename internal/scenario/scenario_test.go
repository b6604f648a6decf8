package scenario

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/internal/bench"
)

// -scenarios runs every scenario in its quick form (a few minutes)
// instead of the one the default test runs (the build of the binary is
// most of the default test's time).
var allScenarios = flag.Bool("scenarios", false, "run every scenario in quick form")

// buildCairn builds the cairn binary the scenarios run as validators.
func buildCairn(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cairn")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/cairn-db/cairn/cmd/cairn").CombinedOutput()
	if err != nil {
		t.Fatalf("build cairn: %v\n%s", err, out)
	}
	return bin
}

// TestQuickScenarios runs scenarios end to end in their quick form: real
// validator processes, load, a Byzantine validator, charts and reports.
// It checks the mechanism and the invariants the report states, not speed.
func TestQuickScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("starts validator processes")
	}
	names := []string{"byzantine"}
	if *allScenarios {
		names = Names()
	}
	bin := buildCairn(t)
	out := t.TempDir()
	var progress strings.Builder
	env := &Env{Bin: bin, Out: out, Work: t.TempDir(), Quick: true, Progress: &progress}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, name := range names {
		r, err := Run(ctx, env, name)
		if err != nil {
			t.Fatalf("%s: %v\nprogress:\n%s", name, err, progress.String())
		}
		b, err := os.ReadFile(filepath.Join(out, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s.json: %v", name, err)
		}
		if back["scenario"] != name || back["result"] == nil {
			t.Fatalf("%s.json lacks scenario or result: %s", name, b)
		}
		if len(r.Charts) == 0 {
			t.Fatalf("%s drew no chart", name)
		}
		for _, c := range r.Charts {
			svg, err := os.ReadFile(filepath.Join(out, c))
			if err != nil || !strings.Contains(string(svg), "<svg") {
				t.Fatalf("chart %s: %v", c, err)
			}
		}
	}
	// What the reports promise.
	if res, ok := lookupResult[*retrievalResult](t, out, "retrieval"); ok {
		if len(res.Phases) != 2 {
			t.Fatalf("retrieval phases: %d", len(res.Phases))
		}
		for _, op := range retrievalOps {
			if res.Phases[0].Ops[op].N == 0 {
				t.Errorf("retrieval: no samples of %q", op)
			}
		}
	}
	if res, ok := lookupResult[*[]byzantinePoint](t, out, "byzantine"); ok {
		for _, p := range *res {
			if !p.Agreement.SameChain {
				t.Errorf("byzantine %s: honest nodes disagree: %+v", p.Mode, p.Agreement)
			}
		}
	}
}

// lookupResult decodes NAME.json's result into T.
func lookupResult[T any](t *testing.T, dir, name string) (T, bool) {
	var zero T
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		return zero, false
	}
	var r struct {
		Result T `json:"result"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s.json: %v", name, err)
	}
	return r.Result, true
}

func TestParseLogLine(t *testing.T) {
	l, ok := parseLogLine(`time=2026-11-23T23:04:24.646Z level=DEBUG msg="built proposal" height=8 txs=50 round=0 took=1.5ms note="a \"q\" b"`)
	if !ok {
		t.Fatal("not parsed")
	}
	if l.Msg != "built proposal" || l.uint("height") != 8 || l.dur("took") != 1500*time.Microsecond || l.Fields["note"] != `a "q" b` {
		t.Fatalf("parsed %+v", l)
	}
	if _, ok := parseLogLine("panic: something"); ok {
		t.Fatal("a non-slog line parsed")
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader("# HELP x\n# TYPE x counter\ncairn_height 42\n" +
		"cairn_block_commit_seconds_bucket{le=\"0.001\"} 3\ncairn_block_commit_seconds_sum 0.5\ncairn_block_commit_seconds_count 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m["cairn_height"] != 42 || m[`cairn_block_commit_seconds_bucket{le="0.001"}`] != 3 || histMean(m, "cairn_block_commit_seconds") != 0.125 {
		t.Fatalf("metrics %v", m)
	}
}

func TestRecoverTime(t *testing.T) {
	var tl []bench.Point
	rates := []float64{100, 100, 100, 0, 0, 20, 100, 100, 100, 100, 100}
	for i, r := range rates {
		tl = append(tl, bench.Point{T: float64(i + 1), Rate: r})
	}
	// Killed at t=3: the moving mean reaches 80 at t=8 (100,100,100 from 7).
	if got := recoverTime(tl, 3, 11, 80); got != 4 {
		t.Fatalf("recover time %v, want 4", got)
	}
	if got := recoverTime(tl[:6], 3, 6, 80); got != -1 {
		t.Fatalf("never recovered: got %v", got)
	}
}

func TestSummarizeAndLookup(t *testing.T) {
	s := summarize([]float64{5, 1, 3, 2, 4})
	if s.N != 5 || s.Min != 1 || s.Max != 5 || s.P50 != 3 || s.Mean != 3 {
		t.Fatalf("%+v", s)
	}
	if (summarize(nil) != stats{}) {
		t.Fatal("empty sample")
	}
	if _, ok := Lookup("no-such"); ok {
		t.Fatal("unknown scenario found")
	}
	if len(Names()) != 10 {
		t.Fatalf("want the 10 experiments, have %v", Names())
	}
}
