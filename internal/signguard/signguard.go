// Package signguard keeps a validator from signing twice at a height after
// its data was rolled back or restored from a backup. Consensus safety
// rests on every honest validator signing at most one proposal and one
// vote of each type per height and round; the consensus WAL records what
// it signed at its latest height so that a restart resends the same
// votes. A rollback or a restore moves the ledger back, and the heights
// in between may be ones this validator already signed at.
//
// The guard is one file, HOME/data/sign_floor (JSON): a height at or below
// which the node withholds its own proposals and votes, and optionally
// "until_caught_up", which raises the floor to one above the highest
// height any peer reports, until the node has caught up to it. Withheld
// heights still commit on the node, from the other validators'
// certificates (the network needs a quorum without it, as it does when
// any one validator is down).
//
// Invariants: the floor only rises; a missing file means no floor; a file
// that does not parse stops the node (a guard silently lost could let it
// double-sign).
package signguard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// FileName is the guard's file in a node's data directory.
const FileName = "sign_floor"

// Floor is the guard's content.
type Floor struct {
	// Height: the node signs nothing at heights <= Height.
	Height uint64 `json:"height"`
	// UntilCaughtUp raises Height to one above the highest height a peer
	// reports, until the node's head reaches that height: a validator
	// restored from a backup cannot know what it signed after the backup
	// was taken, but it cannot have signed above the network's height + 1.
	UntilCaughtUp bool   `json:"until_caught_up,omitempty"`
	Reason        string `json:"reason,omitempty"`
}

// Path is the guard file of a data directory.
func Path(dataDir string) string { return filepath.Join(dataDir, FileName) }

// Read returns the floor in dataDir (the zero Floor when there is none).
func Read(dataDir string) (Floor, error) {
	b, err := os.ReadFile(Path(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return Floor{}, nil
	}
	if err != nil {
		return Floor{}, fmt.Errorf("sign floor: %w", err)
	}
	var f Floor
	if err := json.Unmarshal(b, &f); err != nil {
		return Floor{}, fmt.Errorf("sign floor %s: %w", Path(dataDir), err)
	}
	return f, nil
}

// Raise writes a floor at least f into dataDir, keeping a higher existing
// height and an existing UntilCaughtUp (the floor never drops). The file
// is written under a temporary name, synced and renamed.
func Raise(dataDir string, f Floor) error {
	old, err := Read(dataDir)
	if err != nil {
		return err
	}
	f.Height = max(f.Height, old.Height)
	f.UntilCaughtUp = f.UntilCaughtUp || old.UntilCaughtUp
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("sign floor: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("sign floor: %w", err)
	}
	tmp := Path(dataDir) + ".tmp"
	fh, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("sign floor: %w", err)
	}
	if _, err := fh.Write(append(b, '\n')); err != nil {
		fh.Close()
		return fmt.Errorf("sign floor: %w", err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return fmt.Errorf("sign floor: %w", err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("sign floor: %w", err)
	}
	if err := os.Rename(tmp, Path(dataDir)); err != nil {
		return fmt.Errorf("sign floor: %w", err)
	}
	if d, err := os.Open(dataDir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Guard is a running node's floor. Safe for concurrent use.
type Guard struct {
	mu     sync.Mutex
	height uint64
	until  bool // still catching up (Floor.UntilCaughtUp)
	heard  bool // some peer has reported its height
}

// New returns the guard for floor f.
func New(f Floor) *Guard { return &Guard{height: f.Height, until: f.UntilCaughtUp} }

// PeerAt tells the guard that a peer reports height h while this node's
// head is at head. While catching up, the floor rises to h+1.
func (g *Guard) PeerAt(h, head uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.until {
		g.height = max(g.height, h+1)
		g.heard = true
	}
}

// Committed tells the guard the node's head. Once a peer has reported a
// height and the head has reached it (the floor is one above), the floor
// stops rising: the node signs again from the height after the floor.
func (g *Guard) Committed(head uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.until && g.heard && head+1 >= g.height {
		g.until = false
	}
}

// MaySign reports whether the node may sign at height h.
func (g *Guard) MaySign(h uint64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return h > g.height
}

// Height returns the current floor.
func (g *Guard) Height() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.height
}
