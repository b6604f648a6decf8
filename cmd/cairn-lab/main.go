// Command cairn-lab runs Cairn's named experiments (internal/scenario) end
// to end: it starts validator networks on 127.0.0.1, drives load, injects
// faults, and writes NAME.json plus SVG charts (docs/experiments.md is
// written from them).
//
// It is a command of its own so that the validator binary, cmd/cairn, links
// no plotting, font, PDF or LaTeX code: charts exist only here. The
// validators and the simulator the experiments run are cairn processes;
// which cairn binary is chosen is decided once, up front, by locateCairn.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-db/cairn/internal/devnet"
	"github.com/cairn-db/cairn/internal/scenario"
)

// module is the module whose cmd/cairn is built when --cairn is not given.
const module = "github.com/cairn-db/cairn"

// buildTimeout bounds `go build ./cmd/cairn` (a cold build on a loaded
// 2-core machine takes minutes; it must still end).
const buildTimeout = 30 * time.Minute

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cairn-lab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cairn-lab --scenario NAME[,NAME...]|all|list [flags]")
		fmt.Fprintln(stderr, "\nRuns Cairn's experiments end to end (each starts its own validators).\n\nflags:")
		fs.PrintDefaults()
	}
	scen := fs.String("scenario", "", "the experiments to run: "+
		strings.Join(scenario.Names(), ", ")+"; a comma-separated list, \"all\", or \"list\"")
	out := fs.String("out", "docs/experiments", "where NAME.json and the SVG charts go")
	quick := fs.Bool("quick", false, "a few seconds per scenario (checks the mechanism, measures nothing useful)")
	keep := fs.Bool("keep", false, "keep the networks' directories (logs, data) and print where")
	quiet := fs.Bool("quiet", false, "no progress lines")
	cairnFlag := fs.String("cairn", "", "the cairn binary the validators and the simulator run; "+
		"empty: build ./cmd/cairn with `go build` when run inside a Cairn checkout, else the cairn next to cairn-lab")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cairn-lab: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *scen == "" {
		fmt.Fprintln(stderr, "cairn-lab: --scenario is required")
		fs.Usage()
		return 2
	}
	if *scen == "list" {
		for _, s := range scenario.All() {
			fmt.Fprintf(stdout, "%-16s %s\n", s.Name, s.Title)
		}
		return 0
	}
	list := scenario.Names()
	if *scen != "all" {
		list = strings.Split(*scen, ",")
		for _, n := range list {
			if _, ok := scenario.Lookup(n); !ok {
				fmt.Fprintf(stderr, "cairn-lab: unknown scenario %q (cairn-lab --scenario list)\n", n)
				return 2
			}
		}
	}

	work, err := os.MkdirTemp("", "cairn-scenario-")
	if err != nil {
		fmt.Fprintln(stderr, "cairn-lab:", err)
		return 1
	}
	if *keep {
		fmt.Fprintln(stderr, "cairn-lab: networks kept in", work)
	} else {
		defer os.RemoveAll(work)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	bin, how, err := locateCairn(ctx, *cairnFlag, filepath.Join(work, "bin"), stderr)
	if err != nil {
		fmt.Fprintln(stderr, "cairn-lab:", err)
		return 1
	}
	fmt.Fprintf(stderr, "cairn-lab: validators run %s (%s)\n", bin, how)

	env := &scenario.Env{Bin: bin, Out: *out, Work: work, Quick: *quick, Command: "cairn-lab " + strings.Join(args, " ")}
	if !*quiet {
		env.Progress = stderr
	}
	var reports []*scenario.Report
	failed := 0
	for _, n := range list {
		if ctx.Err() != nil {
			break
		}
		r, err := scenario.Run(ctx, env, n)
		if err != nil {
			fmt.Fprintln(stderr, "cairn-lab:", err)
			failed++
		}
		if r != nil {
			reports = append(reports, r)
		}
	}
	type brief struct {
		Scenario string   `json:"scenario"`
		Elapsed  float64  `json:"elapsed_s"`
		Error    string   `json:"error,omitempty"`
		Charts   []string `json:"charts"`
	}
	var sum []brief
	for _, r := range reports {
		sum = append(sum, brief{r.Scenario, r.Elapsed, r.Error, r.Charts})
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"out": *out, "cairn": bin, "scenarios": sum}); err != nil {
		return 1
	}
	if failed > 0 || ctx.Err() != nil {
		return 1
	}
	return 0
}

// locateCairn decides which cairn binary the experiments run, in this
// order, and says how it was chosen:
//
//  1. --cairn PATH, if given (it must exist; nothing else is tried);
//  2. inside a checkout of this module with the go tool on PATH: a fresh
//     `go build` of ./cmd/cairn into dir, so that the validators always
//     match the source the experiments were built from (a build failure is
//     an error, not a reason to fall back to an older binary);
//  3. a file named cairn next to the cairn-lab executable (both installed
//     by `go build -o DIR ./cmd/...` or `go install ./cmd/...`).
func locateCairn(ctx context.Context, flagPath, dir string, stderr io.Writer) (bin, how string, err error) {
	name := "cairn"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if flagPath != "" {
		abs, err := filepath.Abs(flagPath)
		if err != nil {
			return "", "", fmt.Errorf("--cairn %s: %w", flagPath, err)
		}
		if err := isExecutable(abs); err != nil {
			return "", "", fmt.Errorf("--cairn: %w", err)
		}
		return abs, "--cairn", nil
	}
	if goBin, err := exec.LookPath("go"); err == nil && inModule(ctx, goBin) {
		fmt.Fprintf(stderr, "cairn-lab: building %s into %s\n", devnet.CairnPackage, dir)
		bctx, cancel := context.WithTimeout(ctx, buildTimeout)
		defer cancel()
		bin, err := devnet.BuildCairn(bctx, dir)
		if err != nil {
			return "", "", fmt.Errorf("%w(or pass --cairn PATH)", err)
		}
		return bin, "built from this checkout", nil
	}
	if exe, err := os.Executable(); err == nil {
		sib := filepath.Join(filepath.Dir(exe), name)
		if isExecutable(sib) == nil {
			return sib, "found next to cairn-lab", nil
		}
	}
	return "", "", errors.New("no cairn binary: pass --cairn PATH, run inside a Cairn checkout with the go tool on PATH, " +
		"or put cairn next to cairn-lab")
}

// inModule reports whether the working directory is inside this module
// (`go list -m` names the main module, or each of a workspace's).
func inModule(ctx context.Context, goBin string) bool {
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cctx, goBin, "list", "-m").Output()
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(l) == module {
			return true
		}
	}
	return false
}

// isExecutable checks that path is a regular file with an execute bit.
func isExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", path)
	}
	return nil
}
