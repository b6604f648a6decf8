package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/cairn-db/cairn/internal/search"
)

func init() {
	register("reindex", "rebuild a stopped node's search index from its chain", runReindex)
}

func runReindex(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reindex", flag.ContinueOnError)
	fs.SetOutput(stderr)
	home := fs.String("home", "", "a node home `DIR` (NET/node0) or a network directory (every node)")
	fs.Usage = usageFunc(fs, stderr, "cairn reindex --home DIR",
		"Deletes the node's search index and rebuilds it from height 1, printing progress on stderr\nand a JSON summary on stdout. Stop the node first.")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *home == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	homes, err := nodeHomes(*home)
	if err != nil {
		fmt.Fprintln(stderr, "cairn reindex:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	type result struct {
		Home string `json:"home"`
		*search.Summary
		Error string `json:"error,omitempty"`
	}
	var results []result
	code := 0
	for _, h := range homes {
		sum, err := reindexHome(ctx, h, stderr)
		r := result{Home: h, Summary: sum}
		if err != nil {
			r.Error = err.Error()
			code = 1
			fmt.Fprintf(stderr, "cairn reindex: %s: %v\n", h, err)
		}
		results = append(results, r)
	}
	printJSON(stdout, results)
	return code
}

func reindexHome(ctx context.Context, home string, stderr io.Writer) (*search.Summary, error) {
	cfg, l, err := openStoppedLedger(home)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	idxDir := search.Dir(cfg.Path(cfg.DataDir))
	fmt.Fprintf(stderr, "cairn reindex: %s: rebuilding %s from height 1 to %d\n", home, idxDir, l.Head().Height)
	var last time.Time
	progress := func(p search.Progress) {
		if time.Since(last) < time.Second && p.IndexedHeight < p.Target {
			return
		}
		last = time.Now()
		rate := 0.0
		if s := p.Elapsed.Seconds(); s > 0 {
			rate = float64(p.Txs) / s
		}
		pct := 100.0
		if p.Target > 0 {
			pct = 100 * float64(p.IndexedHeight) / float64(p.Target)
		}
		fmt.Fprintf(stderr, "  height %d/%d (%.1f%%), %d txs, %.0f txs/s\n", p.IndexedHeight, p.Target, pct, p.Txs, rate)
	}
	return search.Rebuild(ctx, idxDir, l, search.Options{}, progress)
}
