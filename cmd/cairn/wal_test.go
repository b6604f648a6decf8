package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/internal/node"
	"github.com/cairn-db/cairn/internal/wal"
)

// A validator whose consensus WAL is damaged before its last frames (not
// a torn tail) refuses to start, and says which file and where.
func TestNodeRefusesCorruptWAL(t *testing.T) {
	_, cfg := initOneValidator(t)
	path := node.WALPath(cfg)
	if err := os.MkdirAll(cfg.Path(cfg.DataDir), 0o755); err != nil {
		t.Fatal(err)
	}
	l, _, err := wal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"first record", "second record", "third record"} {
		if err := l.Append([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[8+8+3] ^= 1 // inside the first record's data
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// node.New is what `cairn node` calls first; its error is what the
	// command logs as "cannot start" before exiting 1.
	n, err := node.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = n.Run(ctx) // release what New opened
		t.Fatal("a node started with a corrupt WAL")
	}
	if !errors.Is(err, wal.ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "offset 8") {
		t.Fatalf("node with a corrupt WAL: %v", err)
	}
}
