package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"

	"github.com/cairn-db/cairn/internal/backup"
)

func init() {
	register("backup", "archive a node's data (running or stopped) into one file", runBackup)
	register("restore", "install a backup archive into a node's home", runRestore)
	register("rollback", "remove a stopped node's blocks above a height and return its state there", runRollback)
}

func runBackup(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	home := fs.String("home", "", "the node's home `DIR`")
	out := fs.String("out", "", "the archive `FILE` to write")
	fs.Usage = usageFunc(fs, stderr, "cairn backup --home DIR --out FILE",
		"Archives a node's data into one tar file: a consistent checkpoint of its ledger (taken\n"+
			"through the running node's loopback admin listener, or from a stopped node's data),\n"+
			"its consensus WAL, config and genesis, and a manifest with every file's SHA-256.\n"+
			"The validator key is not included. Prints the manifest.")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *home == "" || *out == "" {
		fmt.Fprintln(stderr, "cairn backup: --home and --out are required")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dir, walCopy, err := backup.Take(ctx, *home)
	if err != nil {
		fmt.Fprintln(stderr, "cairn backup:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	m, err := backup.Write(*home, dir, walCopy, *out)
	if err != nil {
		fmt.Fprintln(stderr, "cairn backup:", err)
		return 1
	}
	return printJSON(stdout, m)
}

func runRestore(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "the archive `FILE` (from cairn backup)")
	home := fs.String("home", "", "the node's home `DIR` (stopped; it keeps its validator.key)")
	force := fs.Bool("force", false, "replace an existing ledger (moved aside, not deleted)")
	fs.Usage = usageFunc(fs, stderr, "cairn restore --in FILE --home DIR [--force]",
		"Checks every file of a backup against its manifest, then installs its ledger into the\n"+
			"home (and its config and genesis where the home has none). The home's own consensus WAL\n"+
			"is kept; the node withholds its votes until it has caught up with its peers, so it\n"+
			"never signs twice at a height. Start the node afterwards; it catches up from its peers.")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *home == "" || *in == "" {
		fmt.Fprintln(stderr, "cairn restore: --in and --home are required")
		return 2
	}
	res, err := backup.Restore(*in, *home, backup.RestoreOptions{Force: *force})
	if err != nil {
		fmt.Fprintln(stderr, "cairn restore:", err)
		return 1
	}
	return printJSON(stdout, res)
}

func runRollback(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rollback", flag.ContinueOnError)
	fs.SetOutput(stderr)
	home := fs.String("home", "", "the stopped node's home `DIR`")
	to := fs.String("to", "", "the `HEIGHT` to return to")
	force := fs.Bool("force", false, "roll back below the last height this validator signed at (it then withholds its signatures up to that height)")
	fs.Usage = usageFunc(fs, stderr, "cairn rollback --home DIR --to HEIGHT [--force]",
		"Removes a stopped node's blocks above HEIGHT and returns its state to HEIGHT (recovery from a\n"+
			"bad upgrade: start the fixed binary, which re-executes the blocks its peers certify).\n"+
			"Refuses a HEIGHT below the last height the validator signed at (its consensus WAL) unless\n"+
			"--force; refuses a HEIGHT whose state or the bodies above which are pruned.")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *home == "" || *to == "" {
		fmt.Fprintln(stderr, "cairn rollback: --home and --to are required")
		return 2
	}
	h, err := strconv.ParseUint(*to, 10, 64)
	if err != nil {
		fmt.Fprintf(stderr, "cairn rollback: --to %q is not a height\n", *to)
		return 2
	}
	res, err := backup.Rollback(*home, h, *force)
	if err != nil {
		fmt.Fprintln(stderr, "cairn rollback:", err)
		return 1
	}
	return printJSON(stdout, res)
}
