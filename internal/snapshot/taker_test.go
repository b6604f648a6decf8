package snapshot

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cairn-db/cairn/types"
)

// TestTakerKeepsNewest: snapshots offered after commits are written in the
// background, the newest keep are kept, a reopened store finds them, and
// an unfinished one (a crash while writing) is deleted, not offered.
func TestTakerKeepsNewest(t *testing.T) {
	c := newChain(t, tempDir(t, "provider"), 4)
	dir := tempDir(t, "snaps")
	store, err := Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	tk := NewTaker(store, c.g.ChainID, 2, slog.New(slog.DiscardHandler))
	taken := make(chan *Stats, 8)
	tk.OnTaken = func(s *Stats) { taken <- s }
	ctx, cancel := context.WithCancel(t.Context())
	go tk.Run(ctx)
	for h := 1; h <= 4; h++ {
		c.commit(t, false, c.tx(c.users[0], &types.KVPut{Key: "k", Value: string(rune('a' + h))}))
		if !tk.Offer(c.l.Pin()) {
			t.Fatalf("offer at height %d refused with nothing in progress", h)
		}
		select {
		case s := <-taken:
			if s.Height != uint64(h) {
				t.Fatalf("took height %d, want %d", s.Height, h)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no snapshot of height %d", h)
		}
	}
	cancel()
	tk.Wait()
	if got := store.Heights(); !slices.Equal(got, []uint64{4, 3}) {
		t.Fatalf("heights kept %v, want [4 3]", got)
	}
	if err := os.MkdirAll(filepath.Join(dir, "5.tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	again, err := Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Heights(); !slices.Equal(got, []uint64{4, 3}) {
		t.Fatalf("reopened store offers %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "5.tmp")); !os.IsNotExist(err) {
		t.Fatalf("unfinished snapshot left behind: %v", err)
	}
	m, err := again.Manifest(4)
	if err != nil {
		t.Fatal(err)
	}
	hdr, _, err := m.Certified()
	if err != nil || hdr.Height != 4 || hdr.StateRoot != c.l.Head().StateRoot {
		t.Fatalf("manifest of 4: %v %v", hdr, err)
	}
}
