package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/cairn-db/cairn/internal/ledger"
)

func init() {
	register("verify", "audit a stopped node's data: hashes, links, roots, certificates, state", runVerify)
}

func runVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	home := fs.String("home", "", "a node home `DIR` (NET/node0) or a network directory (every node)")
	replay := fs.Bool("replay", false, "also re-execute every block from genesis and compare receipts and state")
	fs.Usage = usageFunc(fs, stderr, "cairn verify --home DIR [--replay]",
		"Audits a stopped node's data on disk: block hashes, parent links, tx and results roots,\ncertificates, state roots and the state tree. Exit 1 naming the first bad height.\nOn a pruned node it checks what the node holds and says which heights that was.")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *home == "" {
		fmt.Fprintln(stderr, "cairn verify: --home is required")
		return 2
	}
	homes, err := nodeHomes(*home)
	if err != nil {
		fmt.Fprintln(stderr, "cairn verify:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	type result struct {
		Home string `json:"home"`
		*ledger.AuditReport
		Error string `json:"error,omitempty"`
	}
	var results []result
	code := 0
	for _, h := range homes {
		rep, err := auditHome(ctx, h, *replay)
		r := result{Home: h, AuditReport: rep}
		if err != nil {
			r.Error = err.Error()
			code = 1
			fmt.Fprintf(stderr, "cairn verify: %s: %v\n", h, err)
		} else if !rep.OK {
			code = 1
			fmt.Fprintf(stderr, "cairn verify: %s: first bad height %d: %s\n", h, rep.BadAt, rep.Problem)
		} else if !outputJSON(stderr) {
			fmt.Fprintf(stderr, "verified: %s: %s\n", h, verifiedRange(rep))
		}
		results = append(results, r)
	}
	printJSON(stdout, results)
	return code
}

func auditHome(ctx context.Context, home string, replay bool) (*ledger.AuditReport, error) {
	_, l, err := openStoppedLedger(home)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	return l.Audit(ctx, ledger.AuditOptions{Replay: replay})
}

// verifiedRange says what an audit covered: a pruned node holds bodies and
// state only from some height on.
func verifiedRange(rep *ledger.AuditReport) string {
	if rep.Height == 0 {
		return "no blocks yet"
	}
	from := func(h uint64) uint64 { return max(h, 1) }
	s := fmt.Sprintf("headers and certificates 1-%d, block bodies %d-%d, state roots %d-%d, the state tree at %d",
		rep.Height, from(rep.BodiesFrom), rep.Height, from(rep.StateFrom), rep.Height, rep.Height)
	if rep.Replayed {
		s += ", every block replayed"
	}
	return s
}
