package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

func init() {
	register("health", "exit 0 when a node answers /readyz (or /healthz) with 200: a container health probe", runHealth)
}

// runHealth is the probe of images without a shell (FROM scratch): Docker's
// HEALTHCHECK runs `cairn health`, which asks the node in the same
// container. It prints one line and exits 0 (ready), 1 (answered, not
// ready) or 2 (usage, or no answer).
func runHealth(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	node := nodeFlag(fs)
	live := fs.Bool("live", false, "ask /healthz (the process serves) instead of /readyz (consensus runs)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	fs.Usage = usageFunc(fs, stderr, "cairn health [--node URL] [--live] [--timeout D]",
		"Exits 0 when the node answers GET /readyz (with --live: /healthz) with 200, 1 when it answers\nanything else, 2 when it cannot be reached. For container health checks.")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 || *timeout <= 0 {
		fs.Usage()
		return 2
	}
	path := "/readyz"
	if *live {
		path = "/healthz"
	}
	url := strings.TrimRight(nodeURL(*node), "/") + path
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "cairn health: %v\n", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "cairn health: %s: %v\n", url, err)
		return 2
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "cairn health: %s: %s %s\n", url, resp.Status, strings.TrimSpace(string(body)))
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s\n", url, strings.TrimSpace(string(body)))
	return 0
}
