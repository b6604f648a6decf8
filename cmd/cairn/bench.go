package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
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
	netPath := fs.String("network", "./devnet/network.json", "network.json of the network to load")
	dur := fs.Duration("duration", 30*time.Second, "how long to send")
	rate := fs.Float64("rate", 0, "offered tx/s (open loop); 0 = closed loop with --concurrency")
	conc := fs.Int("concurrency", 8, "concurrent requests in flight")
	batch := fs.Int("batch", 200, "transactions per request")
	typ := fs.String("type", "transfer", "transaction type: transfer, put, record")
	accounts := fs.Int("accounts", 2000, "funded sender accounts")
	drain := fs.Duration("drain", 20*time.Second, "how long to wait for in-flight txs after sending stops")
	quiet := fs.Bool("quiet", false, "no progress line")
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	o := bench.Options{Network: nw, Duration: *dur, Rate: *rate, Concurrency: *conc, Batch: *batch,
		Type: *typ, Accounts: *accounts, Drain: *drain}
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
