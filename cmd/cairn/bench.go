package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/bench"
)

func init() {
	register("bench", "drive signed transactions at a running network and report tx/s and latency", runBench)
}

func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	netPath := fs.String("network", "./devnet/network.json", "network.json `FILE` of the network to load (or its directory)")
	dur := fs.Duration("duration", 30*time.Second, "how long to send")
	rate := fs.Float64("rate", 0, "offered tx/s (open loop); 0 = closed loop with --concurrency")
	conc := fs.Int("concurrency", 8, "concurrent requests in flight")
	batch := fs.Int("batch", 200, "transactions per request")
	typ := fs.String("type", "transfer", "transaction type: transfer, put, record, contract (voucher issue invokes; needs --contract)")
	contractFile := fs.String("contract", "", "with --type contract: the voucher sample's module `FILE` (cairn contract build examples/contracts/voucher)")
	accounts := fs.Int("accounts", 2000, "funded sender accounts")
	presign := fs.Int("presign", 0, "sign and encode this many transactions before starting and send only those (keeps signing and encoding off the measured window)")
	drain := fs.Duration("drain", 20*time.Second, "how long to wait for in-flight txs after sending stops")
	quiet := fs.Bool("quiet", false, "no progress line")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the client (the whole run) to this `FILE`")
	indexPoll := fs.Duration("index-poll", 200*time.Millisecond, "how often to poll every node's status to measure its search index lag (0: do not)")
	fs.Usage = usageFunc(fs, stderr, "cairn bench [--network FILE] [flags]",
		"Funds accounts from the faucet and drives signed transactions at every node of a running\nnetwork (start it first: cairn devnet); prints throughput and latency as JSON.")
	if scenarioFlag(args) {
		fmt.Fprintln(stderr, "cairn bench: the experiments moved to their own command, cairn-lab "+
			"(it keeps the charting code out of the validator binary):\n  go run ./cmd/cairn-lab --scenario list")
		return 2
	}
	if err := fs.Parse(args); err != nil {
		return 2
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
	var code []byte
	if *contractFile != "" {
		if code, err = os.ReadFile(*contractFile); err != nil {
			fmt.Fprintln(stderr, "cairn bench:", err)
			return 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	o := bench.Options{Network: nw, Duration: *dur, Rate: *rate, Concurrency: *conc, Batch: *batch,
		Type: *typ, Contract: code, Accounts: *accounts, Drain: *drain, Presign: *presign, IndexPoll: *indexPoll}
	if *indexPoll <= 0 {
		o.IndexPoll = -1
	}
	if !*quiet {
		o.Progress = stderr
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "cairn bench:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "cairn bench: cpu profile:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	res, err := bench.Run(ctx, o)
	if err != nil {
		return fail(stderr, "bench", err) // an unreachable node is one line
	}
	res.Timeline = nil // the summary; scenarios keep the timeline
	return printJSON(stdout, res)
}

// scenarioFlag reports whether args ask for the experiments that
// `cairn bench --scenario` used to run, so that the user is sent to
// cairn-lab instead of being told only that the flag is undefined.
func scenarioFlag(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "scenario" {
			return true
		}
	}
	return false
}
