package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cairn-db/cairn/internal/devnet"
)

func init() {
	register("devnet", "run a local network: init if needed, start every validator, stop on Ctrl-C", runDevnet)
}

func runDevnet(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("devnet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	home := fs.String("home", "./devnet", "network directory (created with 4 validators if it holds none)")
	n := fs.Int("validators", 4, "validators, when creating the network")
	api := fs.Int("api-port", 8080, "API port of node0, when creating the network")
	p2p := fs.Int("p2p-port", 26656, "peer port of node0, when creating the network")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !devnet.Exists(*home) {
		if _, err := devnet.InitNetwork(*home, devnet.Options{Validators: *n, APIPort: *api, P2PPort: *p2p}); err != nil {
			fmt.Fprintln(stderr, "cairn devnet:", err)
			return 1
		}
		fmt.Fprintf(stderr, "created a %d-validator network in %s\n", *n, *home)
	} else {
		fmt.Fprintf(stderr, "resuming the network in %s\n", *home)
	}
	nw, err := devnet.LoadNetwork(*home)
	if err != nil {
		fmt.Fprintln(stderr, "cairn devnet:", err)
		return 1
	}
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "cairn devnet: cannot find own binary:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := devnet.NewCluster(bin, nw)
	if err := c.StartAll(); err != nil {
		fmt.Fprintln(stderr, "cairn devnet:", err)
		return 1
	}
	readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = c.WaitReady(readyCtx)
	cancel()
	if err != nil {
		fmt.Fprintln(stderr, "cairn devnet:", err)
		c.StopAll(10 * time.Second)
		return 1
	}
	for _, nd := range nw.Nodes {
		fmt.Fprintf(stdout, "%s  %s  (logs: %s)\n", nd.Name, nd.API, filepath.Join(nd.Home, "node.log"))
	}
	fmt.Fprintf(stdout, "faucet key: %s\nchain id:   %s\nPress Ctrl-C to stop.\n", nw.FaucetKey, nw.ChainID)

	// Run until a signal, or until a validator dies on its own.
	died := make(chan int, len(nw.Nodes))
	for i := range nw.Nodes {
		go func() {
			<-c.Exited(i)
			died <- i
		}()
	}
	code := 0
	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr, "stopping validators...")
	case i := <-died:
		fmt.Fprintf(stderr, "cairn devnet: %s exited; see %s; stopping the others\n", nw.Nodes[i].Name, filepath.Join(nw.Nodes[i].Home, "node.log"))
		code = 1
	}
	c.StopAll(15 * time.Second)
	if errors.Is(ctx.Err(), context.Canceled) {
		fmt.Fprintln(stderr, "stopped.")
	}
	return code
}
