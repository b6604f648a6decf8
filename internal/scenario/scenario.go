// Package scenario holds the named experiments behind
// `cairn-lab --scenario NAME` (cmd/cairn-lab, kept apart from the validator
// binary cmd/cairn, which the experiments run as Env.Bin): each starts its
// own validator processes on 127.0.0.1 (or runs the simulator), drives
// load with internal/bench,
// injects faults (kill -9, restarts, message loss, Byzantine modes), stops
// everything, and writes DIR/NAME.json plus one or more SVG charts.
// docs/experiments.md is written from these files.
//
// Invariants:
//   - every run is bounded in time and count: load phases have fixed
//     durations, every wait has a deadline, and every process a scenario
//     starts is stopped before it returns (also on error or cancel);
//   - networks listen on 127.0.0.1 only, on ports probed free at start;
//   - a report holds only what was measured in that run, with the machine's
//     load average before and after so that a noisy run can be recognised.
package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-db/cairn/internal/bench"
	"github.com/cairn-db/cairn/internal/chart"
)

// Env is where and how scenarios run.
type Env struct {
	// Bin is the cairn binary that runs the validators and `cairn sim`.
	Bin string
	// Out receives NAME.json and NAME*.svg.
	Out string
	// Work is a scratch directory for the networks' homes.
	Work string
	// Progress receives progress lines (nil: none).
	Progress io.Writer
	// Quick shrinks every scenario to a few seconds: it exercises the
	// mechanism, not the system (tests).
	Quick bool
	// Command is the command line recorded in each report.
	Command string
}

// Scenario is one named experiment.
type Scenario struct {
	Name  string
	Title string
	run   func(ctx context.Context, e *Env, r *Report) error
}

// Report is what NAME.json holds.
type Report struct {
	Scenario string         `json:"scenario"`
	Title    string         `json:"title"`
	Command  string         `json:"command"`
	Started  time.Time      `json:"started"`
	Elapsed  float64        `json:"elapsed_s"`
	Machine  Machine        `json:"machine"`
	Quick    bool           `json:"quick,omitempty"`
	Setup    map[string]any `json:"setup"`
	Result   any            `json:"result"`
	Charts   []string       `json:"charts"`
	Notes    []string       `json:"notes,omitempty"`
	Error    string         `json:"error,omitempty"`

	env *Env
}

// Machine describes where a report was measured.
type Machine struct {
	CPUs       int        `json:"cpus"`
	OS         string     `json:"os"`
	Arch       string     `json:"arch"`
	GoVersion  string     `json:"go_version"`
	LoadBefore [3]float64 `json:"load_avg_before"`
	LoadAfter  [3]float64 `json:"load_avg_after"`
}

// All lists the scenarios in the order of docs/experiments.md.
func All() []Scenario {
	return []Scenario{
		{"saturation", "Throughput over time at saturation, 4 validators", runSaturation},
		{"latency-vs-load", "Commit latency versus offered load", runLatencyVsLoad},
		{"block-size", "Block commit time versus transactions per block", runBlockSize},
		{"validators", "Throughput versus number of validators (processes and simulator)", runValidators},
		{"retrieval", "Adding and retrieving: key and transaction reads with proofs", runRetrieval},
		{"crash-stop", "Crash-stop of one validator under load", runCrashStop},
		{"crash-recovery", "Crash-recovery: catch-up time versus blocks missed", runCrashRecovery},
		{"omission", "Omission: message loss at one validator", runOmission},
		{"byzantine", "Byzantine validator: equivocating proposer and double votes", runByzantine},
		{"threshold", "Past the fault threshold: halt at 2 of 4 down; forks with f+1 Byzantine", runThreshold},
	}
}

// Names returns the scenario names.
func Names() []string {
	var ns []string
	for _, s := range All() {
		ns = append(ns, s.Name)
	}
	return ns
}

// Lookup finds a scenario by name.
func Lookup(name string) (Scenario, bool) {
	for _, s := range All() {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// Run runs one scenario and writes its report (also when it failed part
// way, with Error set) to e.Out/NAME.json.
func Run(ctx context.Context, e *Env, name string) (*Report, error) {
	s, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("scenario: unknown %q (have %s)", name, strings.Join(Names(), ", "))
	}
	if e.Bin == "" {
		return nil, fmt.Errorf("scenario %s: no cairn binary", name)
	}
	if err := os.MkdirAll(e.Out, 0o755); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", name, err)
	}
	if e.Work == "" {
		return nil, fmt.Errorf("scenario %s: no work directory", name)
	}
	r := &Report{Scenario: s.Name, Title: s.Title, Command: e.Command, Started: time.Now().UTC(), Quick: e.Quick,
		Setup: map[string]any{}, env: e}
	if r.Command == "" {
		r.Command = "cairn-lab --scenario " + name
	}
	r.Machine = Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version(), LoadBefore: loadAvg()}
	e.logf("[%s] start: %s (load average %.2f %.2f %.2f)", name, s.Title, r.Machine.LoadBefore[0], r.Machine.LoadBefore[1], r.Machine.LoadBefore[2])
	err := s.run(ctx, e, r)
	r.Machine.LoadAfter = loadAvg()
	r.Elapsed = time.Since(r.Started).Seconds()
	if err != nil {
		r.Error = err.Error()
	}
	if werr := r.write(); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		e.logf("[%s] FAILED after %.0fs: %v", name, r.Elapsed, err)
		return r, fmt.Errorf("scenario %s: %w", name, err)
	}
	e.logf("[%s] done in %.0fs: %s", name, r.Elapsed, filepath.Join(e.Out, name+".json"))
	return r, nil
}

func (r *Report) write() error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	p := filepath.Join(r.env.Out, r.Scenario+".json")
	if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// lineChart draws a line chart next to the report and records its name.
func (r *Report) lineChart(suffix string, s chart.Spec) error {
	return r.chart(suffix, s, chart.Line)
}

func (r *Report) barChart(suffix string, s chart.Spec) error {
	return r.chart(suffix, s, chart.Bars)
}

func (r *Report) chart(suffix string, s chart.Spec, draw func(string, chart.Spec) error) error {
	name := r.Scenario + suffix + ".svg"
	if r.Quick {
		s.Title += " (quick run)"
	}
	if err := draw(filepath.Join(r.env.Out, name), s); err != nil {
		return err
	}
	r.Charts = append(r.Charts, name)
	return nil
}

func (r *Report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (e *Env) logf(format string, args ...any) {
	if e.Progress != nil {
		fmt.Fprintf(e.Progress, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
}

// pick returns quick when the environment is a quick one, else full.
func pick[T any](e *Env, full, quick T) T {
	if e.Quick {
		return quick
	}
	return full
}

// loadAvg reads the 1, 5 and 15 minute load averages (zeros where
// /proc/loadavg does not exist).
func loadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		l[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return l
}

// stats summarises a sample (milliseconds or any unit).
type stats struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Min  float64 `json:"min"`
}

func summarize(xs []float64) stats {
	p := bench.Summarize(xs)
	return stats{N: p.N, Mean: round3(p.Mean), P50: round3(p.P50), P90: round3(p.P90),
		P99: round3(p.P99), Max: round3(p.Max), Min: round3(p.Min)}
}

func round3(x float64) float64 {
	return float64(int64(x*1000+0.5)) / 1000
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
