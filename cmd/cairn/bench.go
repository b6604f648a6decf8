package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/bench"
	"github.com/cairn-db/cairn/internal/scenario"
)

func init() {
	register("bench", "drive signed transactions at a running network and report tx/s and latency", runBench)
}

func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	netPath := fs.String("network", "./devnet/network.json", "network.json of the network to load")
	dur := fs.Duration("duration", 30*time.Second, "how long to send")
	rate := fs.Float64("rate", 0, "offered tx/s (open loop); 0 = closed loop with --concurrency")
	conc := fs.Int("concurrency", 8, "concurrent requests in flight")
	batch := fs.Int("batch", 200, "transactions per request")
	typ := fs.String("type", "transfer", "transaction type: transfer, put, record")
	accounts := fs.Int("accounts", 2000, "funded sender accounts")
	presign := fs.Int("presign", 0, "sign this many transactions before starting and send only those (keeps signing off the measured window)")
	drain := fs.Duration("drain", 20*time.Second, "how long to wait for in-flight txs after sending stops")
	quiet := fs.Bool("quiet", false, "no progress line")
	indexPoll := fs.Duration("index-poll", 200*time.Millisecond, "how often to poll every node's status to measure its search index lag (0: do not)")
	scen := fs.String("scenario", "", "run a named experiment end to end instead (starts its own validators): "+
		strings.Join(scenario.Names(), ", ")+"; a comma-separated list, \"all\", or \"list\"")
	outDir := fs.String("out", "docs/experiments", "with --scenario: where NAME.json and the SVG charts go")
	quick := fs.Bool("quick", false, "with --scenario: a few seconds per scenario (checks the mechanism, measures nothing useful)")
	keep := fs.Bool("keep", false, "with --scenario: keep the networks' directories (logs, data) and print where")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *scen != "" {
		return runScenarios(*scen, *outDir, *quick, *keep, *quiet, args, stdout, stderr)
	}
	if *dur <= 0 || *dur > 24*time.Hour {
		fmt.Fprintln(stderr, "cairn bench: --duration must be in (0, 24h]")
		return 2
	}
	nw, err := client.LoadNetwork(*netPath)
	if err != nil {
		fmt.Fprintln(stderr, "cairn bench:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	o := bench.Options{Network: nw, Duration: *dur, Rate: *rate, Concurrency: *conc, Batch: *batch,
		Type: *typ, Accounts: *accounts, Drain: *drain, Presign: *presign, IndexPoll: *indexPoll}
	if *indexPoll <= 0 {
		o.IndexPoll = -1
	}
	if !*quiet {
		o.Progress = stderr
	}
	res, err := bench.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "cairn bench:", err)
		return 1
	}
	res.Timeline = nil // the summary; scenarios keep the timeline
	return printJSON(stdout, res)
}

// runScenarios runs the named experiments (see internal/scenario) with
// this very binary as the validators' and the simulator's executable.
func runScenarios(names, out string, quick, keep, quiet bool, args []string, stdout, stderr io.Writer) int {
	if names == "list" {
		for _, s := range scenario.All() {
			fmt.Fprintf(stdout, "%-16s %s\n", s.Name, s.Title)
		}
		return 0
	}
	list := scenario.Names()
	if names != "all" {
		list = strings.Split(names, ",")
		for _, n := range list {
			if _, ok := scenario.Lookup(n); !ok {
				fmt.Fprintf(stderr, "cairn bench: unknown scenario %q (cairn bench --scenario list)\n", n)
				return 2
			}
		}
	}
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "cairn bench:", err)
		return 1
	}
	work, err := os.MkdirTemp("", "cairn-scenario-")
	if err != nil {
		fmt.Fprintln(stderr, "cairn bench:", err)
		return 1
	}
	if keep {
		fmt.Fprintln(stderr, "cairn bench: networks kept in", work)
	} else {
		defer os.RemoveAll(work)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &scenario.Env{Bin: bin, Out: out, Work: work, Quick: quick, Command: "cairn bench " + strings.Join(args, " ")}
	if !quiet {
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
			fmt.Fprintln(stderr, "cairn bench:", err)
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
	if code := printJSON(stdout, map[string]any{"out": out, "scenarios": sum}); code != 0 {
		return code
	}
	if failed > 0 || ctx.Err() != nil {
		return 1
	}
	return 0
}
