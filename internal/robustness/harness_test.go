package robustness

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-db/cairn/internal/devnet"
)

var (
	flagRuns     = flag.Int("robustness.runs", 2, "number of faulted runs (see also -robustness.duration)")
	flagDuration = flag.Duration("robustness.duration", 0, "if set, keep starting runs until this much time has passed (overrides -robustness.runs)")
	flagRuntime  = flag.Duration("robustness.runtime", 12*time.Second, "faulted load per run")
	flagSeed     = flag.Int64("robustness.seed", 0, "seed of the first run (run k uses seed+k); 0 picks one from the clock")
	flagReport   = flag.String("robustness.report", "", "directory for the reports of failing runs (default: a temporary directory)")
)

// bin is the cairn binary built once for all runs.
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	var remove func()
	var err error
	bin, remove, err = devnet.BuildCairnTemp(context.Background(), "cairn-robustness-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	remove()
	os.Exit(code)
}

// TestRobustness runs faulted runs (see the package doc); a run whose
// checks fail saves its report and fails the test, and the runs go on.
func TestRobustness(t *testing.T) {
	seed := *flagSeed
	if seed == 0 {
		seed = time.Now().UnixNano() % 1_000_000_000
	}
	reportRoot := *flagReport
	if reportRoot == "" {
		reportRoot = filepath.Join(os.TempDir(), "cairn-robustness-reports")
	}
	start := time.Now()
	var runs int
	var totals runTotals
	for k := 0; ; k++ {
		if *flagDuration > 0 {
			if time.Since(start) >= *flagDuration {
				break
			}
		} else if k >= *flagRuns {
			break
		}
		s := seed + int64(k)
		res := runOnce(t, s, *flagRuntime, reportRoot)
		runs++
		totals.add(res)
		t.Logf("run %d seed %d: %s", k, s, res.summary())
		if res.failed() {
			t.Errorf("run with seed %d failed: %s\nreport: %s\nreplay: go test ./internal/robustness -run 'TestRobustness$' -robustness.runs=1 -robustness.runtime=%v -robustness.seed=%d",
				s, res.problemText(), res.ReportDir, *flagRuntime, s)
		}
	}
	t.Logf("TOTAL: %d runs in %v; %s", runs, time.Since(start).Round(time.Second), totals.String())
}
