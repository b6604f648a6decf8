package main

import (
	"fmt"
	"path/filepath"

	"github.com/cairn-db/cairn/internal/devnet"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/node"
	"github.com/cairn-db/cairn/types"
)

// nodeHomes expands --home: a network directory means every node's home,
// anything else is one node's home.
func nodeHomes(home string) ([]string, error) {
	if !devnet.Exists(home) {
		return []string{home}, nil
	}
	nw, err := devnet.LoadNetwork(home)
	if err != nil {
		return nil, err
	}
	homes := make([]string, 0, len(nw.Nodes))
	for i := range nw.Nodes {
		homes = append(homes, nw.NodeHome(i))
	}
	return homes, nil
}

// openStoppedLedger opens the ledger of the node in home for offline work
// (audit, reindex). Opening takes Pebble's lock, so a running node is
// refused before anything is touched.
func openStoppedLedger(home string) (node.Config, *ledger.Ledger, error) {
	cfg, err := node.LoadConfig(home)
	if err != nil {
		return cfg, nil, err
	}
	g, err := types.LoadGenesis(cfg.Path(cfg.Genesis))
	if err != nil {
		return cfg, nil, err
	}
	dir := node.LedgerDir(cfg)
	if m, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*")); len(m) == 0 {
		return cfg, nil, fmt.Errorf("no ledger in %s", dir)
	}
	l, err := ledger.Open(ledger.Options{Dir: dir}, g)
	if err != nil {
		return cfg, nil, fmt.Errorf("%w (is the node still running? stop it first)", err)
	}
	return cfg, l, nil
}
