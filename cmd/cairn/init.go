package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/cairn-db/cairn/internal/devnet"
)

func init() {
	register("init", "write a new local network (genesis, validator homes, faucet key)", runInit)
}

func runInit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("validators", 4, "number of validators")
	followers := fs.Int("followers", 1, "number of followers (non-voting replicas that serve reads and search; validators do not index unless there are none)")
	home := fs.String("home", "./devnet", "`DIR` for the network")
	chain := fs.String("chain-id", "cairn-devnet", "chain id")
	api := fs.Int("api-port", 8080, "API port of node0 (node i uses api-port+i)")
	p2p := fs.Int("p2p-port", 26656, "peer port of node0 (node i uses p2p-port+i)")
	docker := fs.Bool("docker", false, "lay the network out for containers named node0..nodeN-1 and follower0.. (deploy/compose.yaml): each listens on 0.0.0.0:8080 and :26656, dials peers by name, keeps data in /data; api-port+i is the host port publishing node i's API (followers after the validators)")
	kube := fs.Bool("kubernetes", false, "lay the network out for deploy/kubernetes (validators cairn-0..cairn-N-1 behind the headless Service cairn, followers cairn-follower-0.. behind cairn-follower) and write DIR/kubernetes/: the genesis and config ConfigMaps and the keys Secret to kubectl apply")
	existOK := fs.Bool("exist-ok", false, "if DIR already holds a network, print it and exit 0 instead of failing")
	fs.Usage = usageFunc(fs, stderr, "cairn init [--home DIR] [flags]",
		"Writes a new local network: genesis, one home per validator and follower (key and config),\na funded faucet key and network.json. cairn devnet does this on its first run. With --docker, for\none container per validator and follower (see deploy/compose.yaml); with --kubernetes,\nfor the StatefulSets in deploy/kubernetes, plus the ConfigMaps and Secret they mount.")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *docker && *kube {
		fmt.Fprintln(stderr, "cairn init: --docker and --kubernetes exclude each other")
		return 2
	}
	if *existOK && devnet.Exists(*home) {
		nw, err := devnet.LoadNetwork(*home)
		if err != nil {
			fmt.Fprintln(stderr, "cairn init:", err)
			return 1
		}
		return printJSON(stdout, nw)
	}
	opts := devnet.Options{Validators: *n, Followers: *followers, ChainID: *chain, APIPort: *api, P2PPort: *p2p, Containers: *docker}
	if *kube {
		opts = kubeOptions(opts)
	}
	nw, err := devnet.InitNetwork(*home, opts)
	if err != nil {
		fmt.Fprintln(stderr, "cairn init:", err)
		return 1
	}
	if *kube {
		dir, err := writeKubernetes(nw)
		if err != nil {
			fmt.Fprintln(stderr, "cairn init:", err)
			return 1
		}
		fmt.Fprintf(stderr, "cairn init: wrote %s; apply it with: kubectl apply -f %s -f deploy/kubernetes/\n", dir, dir)
	}
	return printJSON(stdout, nw)
}

func printJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // print <mark> and & as they are, not \u003c

	if err := enc.Encode(v); err != nil {
		return 1
	}
	return 0
}
