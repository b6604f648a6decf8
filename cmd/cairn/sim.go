package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-db/cairn/internal/consensus/sim"
)

func init() { register("sim", "run seeded consensus simulations", runSim) }

// runSim runs K seeded simulations and prints a JSON summary; exit status
// 1 when any invariant broke. With --scale it prints the scale table.
func runSim(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	validators := fs.Int("validators", 4, "number of validators (equal power; see --powers)")
	powersFlag := fs.String("powers", "", "comma-separated voting powers, one per validator (sets --validators); "+
		"Byzantine validators are drawn to hold at most f of power when possible")
	byzantine := fs.Int("byzantine", 0, "number of Byzantine validators")
	crash := fs.Int("crash", 0, "number of honest validators subject to crash (and omission) faults")
	seeds := fs.Int("seeds", 100, "number of seeded runs")
	seed := fs.Uint64("seed", 1, "first seed; runs use seed, seed+1, ...")
	faults := fs.String("faults", "all",
		"comma-separated faults: drop, dup, partition, crash, crashstop, omission, net (drop,dup,partition), all (net,crash,omission), none; "+
			"and Byzantine behaviours: "+strings.Join(sim.Behaviours, ", "))
	useLedger := fs.Bool("ledger", false, "run each validator's application on a real ledger (in-memory Pebble), checking identical state and receipts")
	churn := fs.Bool("churn", false, "change the validator set during each run: a joiner enters at height 4, an honest validator's power doubles at 8, the joiner leaves at 12 (not with --ledger; docs/consensus.md)")
	heights := fs.Int("heights", 20, "height every live honest validator must reach in a run")
	workers := fs.Int("workers", 0, "parallel runs (0: GOMAXPROCS)")
	scale := fs.Bool("scale", false, "print the scale table instead (4..64 validators, no faults)")
	latency := fs.Int64("latency", 10, "with --scale: fixed per-message latency in ms")
	msgCost := fs.Int64("msg-cost", 50, "with --scale: CPU µs per received message for the second throughput column")
	fs.Usage = usageFunc(fs, stderr, "cairn sim [flags]", "Runs seeded, virtual-time simulations of the consensus engine with injected faults,\nchecks agreement, validity, honest signing, durability and liveness, and prints a JSON summary.\nExit status 1 if any run broke an invariant; each violation names the seed that reproduces it.")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cairn sim: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	out := json.NewEncoder(stdout)
	out.SetIndent("", "  ")
	if *scale {
		rows := sim.Scale([]int{4, 7, 10, 16, 31, 64}, *heights, *latency, *msgCost)
		if err := out.Encode(map[string]any{"latency_ms": *latency, "msg_cost_us": *msgCost, "rows": rows}); err != nil {
			fmt.Fprintf(stderr, "cairn sim: %v\n", err)
			return 1
		}
		return 0
	}

	var netFaults, behaviours []string
	for _, w := range strings.Split(*faults, ",") {
		if w = strings.TrimSpace(w); slices.Contains(sim.Behaviours, w) {
			behaviours = append(behaviours, w)
		} else {
			netFaults = append(netFaults, w)
		}
	}
	fl, err := sim.ParseFaults(strings.Join(netFaults, ","))
	if err != nil {
		fmt.Fprintf(stderr, "cairn sim: --faults: %v\n", err)
		return 2
	}
	var powers []uint64
	if *powersFlag != "" {
		for _, w := range strings.Split(*powersFlag, ",") {
			p, err := strconv.ParseUint(strings.TrimSpace(w), 10, 64)
			if err != nil || p == 0 || p > 1<<40 {
				fmt.Fprintf(stderr, "cairn sim: --powers: %q is not a power in 1..2^40\n", w)
				return 2
			}
			powers = append(powers, p)
		}
		*validators = len(powers)
	}
	switch {
	case *validators < 1 || *validators > 1000:
		fmt.Fprintln(stderr, "cairn sim: --validators must be 1..1000")
		return 2
	case *byzantine < 0 || *crash < 0 || *byzantine+*crash > *validators:
		fmt.Fprintln(stderr, "cairn sim: --byzantine and --crash must be non-negative and fit in --validators")
		return 2
	case *seeds < 1:
		fmt.Fprintln(stderr, "cairn sim: --seeds must be at least 1")
		return 2
	case *heights < 1:
		fmt.Fprintln(stderr, "cairn sim: --heights must be at least 1")
		return 2
	case *crash > 0 && !fl.Crash && !fl.CrashStop && !fl.Omission:
		fmt.Fprintln(stderr, "cairn sim: --crash needs crash, crashstop or omission in --faults")
		return 2
	}
	cfg := sim.Config{Validators: *validators, Powers: powers, Ledger: *useLedger, Churn: *churn, Byzantine: *byzantine, Crash: *crash, Heights: *heights,
		Faults: fl, Behaviour: strings.Join(behaviours, ",")}
	if err := sim.CheckBehaviour(cfg.Behaviour); err != nil {
		fmt.Fprintf(stderr, "cairn sim: %v\n", err)
		return 2
	}
	s := sim.RunMany(cfg, *seed, *seeds, *workers)
	for i := range s.Violations {
		v := &s.Violations[i]
		v.Reproduce = fmt.Sprintf("cairn sim --validators %d --byzantine %d --crash %d --faults %s --heights %d --seeds 1 --seed %s",
			*validators, *byzantine, *crash, *faults, *heights, strconv.FormatUint(v.Seed, 10))
		if *powersFlag != "" {
			v.Reproduce += " --powers " + *powersFlag
		}
		if *useLedger {
			v.Reproduce += " --ledger"
		}
	}
	if err := out.Encode(s); err != nil {
		fmt.Fprintf(stderr, "cairn sim: %v\n", err)
		return 1
	}
	if s.ViolationCount > 0 {
		return 1
	}
	return 0
}
