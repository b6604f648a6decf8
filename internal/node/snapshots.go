package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/snapshot"
	"github.com/cairn-db/cairn/types"
)

// SnapshotConfig makes the node take state snapshots for new nodes to join
// from (docs/operations.md, "Snapshots and state sync").
type SnapshotConfig struct {
	// Interval: a snapshot after every height divisible by it (0: none).
	Interval uint64 `json:"interval"`
	// Keep is how many snapshots are kept, newest first (default 2).
	Keep int `json:"keep"`
	// ChunkBytes is the size chunks are cut at (default 4 MiB).
	ChunkBytes int `json:"chunk_bytes"`
}

// StateSyncConfig lists where `cairn node --state-sync` fetches a snapshot.
type StateSyncConfig struct {
	// Providers are other nodes' API URLs ("http://10.0.0.2:8080").
	Providers []string `json:"providers"`
}

// SnapshotDir is where the node keeps its snapshots.
func SnapshotDir(c Config) string { return filepath.Join(c.Path(c.DataDir), "snapshots") }

// openSnapshots sets up snapshot taking when configured.
func (n *Node) openSnapshots() error {
	c := n.cfg.Snapshot
	if c.Interval == 0 {
		return nil
	}
	st, err := snapshot.Open(SnapshotDir(n.cfg), c.ChunkBytes)
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	keep := c.Keep
	if keep <= 0 {
		keep = 2
	}
	n.snapshots = st
	n.snapshotTaker = snapshot.NewTaker(st, n.genesis.ChainID, keep, n.log.With("component", "snapshot"))
	return nil
}

// afterCommitSnapshot hands a view of the ledger to the snapshot taker at
// each interval. Pinning is cheap (a Pebble snapshot); the writing happens
// on the taker's goroutine, never this one.
func (n *Node) afterCommitSnapshot(height uint64) {
	if n.snapshotTaker == nil || height%n.cfg.Snapshot.Interval != 0 {
		return
	}
	if !n.snapshotTaker.Offer(n.ledger.Pin()) {
		n.log.Warn("snapshot skipped: the previous one is still being written", "height", height)
	}
}

// StateSync fills a new node's empty ledger from a snapshot fetched from
// cfg.StateSync.Providers (internal/snapshot.Sync checks everything). A
// ledger that already holds blocks is left alone: the node then resumes
// as usual, so the flag may stay on across restarts.
func StateSync(ctx context.Context, cfg Config, log *slog.Logger) error {
	g, err := types.LoadGenesis(cfg.Path(cfg.Genesis))
	if err != nil {
		return err
	}
	open := func() (*ledger.Ledger, error) {
		return ledger.Open(ledger.Options{Dir: LedgerDir(cfg), Logger: log}, g)
	}
	if _, err := os.Stat(LedgerDir(cfg)); err == nil {
		l, err := open()
		if err != nil {
			if errors.Is(err, ledger.ErrRestoreUnfinished) {
				log.Warn("state sync: an earlier state sync did not finish; starting over", "dir", LedgerDir(cfg))
				return stateSync(ctx, cfg, open, log)
			}
			return err
		}
		h := l.Head().Height
		if err := l.Close(); err != nil {
			return err
		}
		if h > 0 {
			log.Info("state sync skipped: the ledger already holds blocks", "height", h)
			return nil
		}
	}
	return stateSync(ctx, cfg, open, log)
}

func stateSync(ctx context.Context, cfg Config, open func() (*ledger.Ledger, error), log *slog.Logger) error {
	if len(cfg.StateSync.Providers) == 0 {
		return errors.New("state sync: no providers: set state_sync.providers in config.json or --state-sync-providers")
	}
	log.Info("state sync: starting", "providers", strings.Join(cfg.StateSync.Providers, ","))
	res, err := snapshot.Sync(ctx, snapshot.SyncConfig{Providers: cfg.StateSync.Providers, Open: open, LedgerDir: LedgerDir(cfg), Log: log})
	if err != nil {
		return err
	}
	log.Info("state sync: done; catching up from peers", "provider", res.Provider, "height", res.Height, "keys", res.Keys,
		"txs", res.Txs, "chunks", res.Chunks, "bytes", res.Bytes, "took", res.Took)
	return nil
}

// snapshotEnv applies CAIRN_SNAPSHOT_INTERVAL and
// CAIRN_STATE_SYNC_PROVIDERS (comma-separated URLs), for containers.
func (c *Config) snapshotEnv() error {
	if v, ok := os.LookupEnv("CAIRN_SNAPSHOT_INTERVAL"); ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("CAIRN_SNAPSHOT_INTERVAL: %w", err)
		}
		c.Snapshot.Interval = n
	}
	if v, ok := os.LookupEnv("CAIRN_STATE_SYNC_PROVIDERS"); ok {
		c.StateSync.Providers = SplitProviders(v)
	}
	return nil
}

// SplitProviders splits a comma-separated list of URLs, dropping blanks.
func SplitProviders(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
