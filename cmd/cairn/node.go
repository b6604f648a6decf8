package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/cairn-db/cairn/internal/node"
)

func init() {
	register("node", "run one validator or follower (see cairn init)", runNode)
}

func runNode(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	home := fs.String("home", "", "validator home `DIR`: config.json, validator.key, data/")
	apiAddr := fs.String("api-addr", "", "override api_addr (host:port)")
	p2pAddr := fs.String("p2p-addr", "", "override p2p_addr (host:port)")
	level := fs.String("log-level", "", "override log_level: debug, info, warn, error")
	format := fs.String("log-format", "", "override log_format: text or json")
	unsafeFaults := fs.Bool("unsafe-test-faults", false, "allow fault injection and Byzantine modes (tests and benchmarks only)")
	faults := fs.Bool("faults", false, "enable the fault-injection endpoint (needs --unsafe-test-faults)")
	byz := fs.String("byzantine", "", "misbehave: equivocate | double-vote | unauthorized (needs --unsafe-test-faults)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	stateSync := fs.Bool("state-sync", false, "a new node: first fetch and verify a snapshot from state_sync.providers, then catch up (ignored once the ledger holds blocks)")
	providers := fs.String("state-sync-providers", "", "override state_sync.providers: comma-separated API `URLs` of other nodes")
	join := fs.Bool("join", false, "a validator key not (yet) in the set: sync from peers and follow without voting until the validator set includes this key (after cairn gov add-validator), then vote (docs/operations.md)")
	follower := fs.Bool("follower", false, "run as a follower (as role \"follower\" in config.json): a non-voting replica that follows the validators in peers and serves reads and search")
	fs.Usage = usageFunc(fs, stderr, "cairn node --home DIR [flags]",
		"Runs one validator, or with --follower (or role \"follower\" in config.json) one follower, from its\nhome (see cairn init) until SIGINT or SIGTERM.")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *home == "" {
		fmt.Fprintln(stderr, "cairn node: --home is required")
		return 2
	}
	cfg, err := node.LoadConfig(*home)
	if err != nil {
		fmt.Fprintln(stderr, "cairn node:", err)
		return 1
	}
	for flagVal, dst := range map[string]*string{*apiAddr: &cfg.APIAddr, *p2pAddr: &cfg.P2PAddr, *level: &cfg.LogLevel, *format: &cfg.LogFormat} {
		if flagVal != "" {
			*dst = flagVal
		}
	}
	cfg.AllowFaults, cfg.Byzantine = *faults, *byz
	if *join {
		cfg.Join = true
	}
	if *providers != "" {
		cfg.StateSync.Providers = node.SplitProviders(*providers)
	}
	if *follower {
		cfg.Role = node.RoleFollower
	}
	if err := cfg.Check(); err != nil {
		fmt.Fprintln(stderr, "cairn node:", err)
		return 1
	}
	if *unsafeFaults {
		node.AllowUnsafeTestFaults()
	}
	log, err := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		fmt.Fprintln(stderr, "cairn node:", err)
		return 2
	}
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *stateSync {
		if err := node.StateSync(ctx, cfg, log); err != nil {
			log.Error("cannot start", "err", err)
			return 1
		}
	}
	n, err := node.New(cfg, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Error("cpu profile", "err", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Error("cpu profile", "err", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	if err := n.Run(ctx); err != nil {
		log.Error("stopped with error", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// nodeGCPercent is the node's default GOGC. Most of a node's heap is
// garbage of the block in flight (decoded transactions, receipts, batches),
// so at Go's default of 100 the collector runs several times per block;
// letting the heap grow to five times the live data cuts that to about a
// third (docs/operations.md, "Memory"). The GOGC and GOMEMLIMIT
// environment variables override it as for any Go program.
const nodeGCPercent = 400

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(nodeGCPercent)
	}
}
