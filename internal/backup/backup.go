// Package backup writes and restores archives of a validator's data
// (`cairn backup`, `cairn restore`) and rolls a stopped validator's ledger
// back to a height (`cairn rollback`), without ever letting the validator
// sign twice at a height.
//
// An archive is one tar file: the files of a consistent Pebble checkpoint
// of the ledger under ledger/, a copy of the consensus WAL (consensus.wal,
// when there is one), the node's config.json and its genesis.json, and
// last MANIFEST.json: the chain, the genesis hash, the height, block hash
// and state root the checkpoint holds, the highest height the WAL copy
// shows this validator signing at, and every other file's size and
// SHA-256. Restore refuses an archive whose files do not match their
// manifest entries one for one, or whose genesis differs from the home's.
// The validator's key is not in the archive: it is a secret kept apart,
// and a backup restored on a second machine while the first still runs
// with the same key would double-sign whatever this package does.
//
// Signing. What a validator signed at its latest height is in its WAL; at
// earlier heights it may have signed too. So:
//   - Restore keeps the home's own WAL when there is one (it is newer than
//     any backup), else installs the archive's copy, and writes a signing
//     floor (internal/signguard) "until caught up": the node withholds its
//     proposals and votes up to one above the highest height any peer
//     reports, until it has caught up to it. It cannot have signed above
//     that, so from there on it signs safely.
//   - Rollback to a height below the last height the WAL shows signed is
//     refused, naming both; with Force it proceeds and sets the floor to
//     that height, so the node catches up over those heights from its
//     peers' certificates and signs again only above them.
package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/node"
	"github.com/cairn-db/cairn/internal/wal"
	"github.com/cairn-db/cairn/types"
)

// Format is the archive format this package writes and reads.
const Format = 1

// ManifestName is the archive's last entry.
const ManifestName = "MANIFEST.json"

// Manifest describes an archive.
type Manifest struct {
	Format      int         `json:"format"`
	ChainID     string      `json:"chain_id"`
	GenesisHash crypto.Hash `json:"genesis_hash"`
	Node        string      `json:"node"`
	Height      uint64      `json:"height"`
	BlockHash   crypto.Hash `json:"block_hash"`
	StateRoot   crypto.Hash `json:"state_root"`
	// LastSigned is the highest height the WAL copy shows this validator
	// signing at (0: none).
	LastSigned uint64 `json:"last_signed_height"`
	// Created is when the archive was written (informational).
	Created string `json:"created"`
	Files   []File `json:"files"`
}

// File is one archived file.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Take makes a consistent checkpoint of the node in home: through its
// loopback admin listener when it runs (HOME/debug.addr), else by opening
// its stopped ledger. It returns the checkpoint directory (under
// HOME/backups; the caller removes it) and the WAL copy's path ("" when
// there is no WAL).
func Take(ctx context.Context, home string) (dir, walCopy string, err error) {
	cfg, err := node.LoadConfig(home)
	if err != nil {
		return "", "", err
	}
	if b, err := os.ReadFile(cfg.Path(node.DebugAddrFile)); err == nil {
		addr := strings.TrimSpace(string(b))
		d, w, err := takeRunning(ctx, addr)
		if err == nil {
			return d, w, nil
		}
		// A stale address file left by a node that died: try the ledger.
		d, w, err2 := takeStopped(cfg)
		if err2 != nil {
			return "", "", fmt.Errorf("backup: the node's admin listener at %s: %v; its ledger: %w", addr, err, err2)
		}
		return d, w, nil
	}
	return takeStopped(cfg)
}

func takeRunning(ctx context.Context, addr string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/admin/checkpoint", nil)
	if err != nil {
		return "", "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("checkpoint: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var cr node.CheckpointResponse
	if err := json.Unmarshal(body, &cr); err != nil {
		return "", "", fmt.Errorf("checkpoint answer: %w", err)
	}
	return cr.Dir, cr.WAL, nil
}

func takeStopped(cfg node.Config) (string, string, error) {
	g, err := types.LoadGenesis(cfg.Path(cfg.Genesis))
	if err != nil {
		return "", "", err
	}
	l, err := ledger.Open(ledger.Options{Dir: node.LedgerDir(cfg), CacheBytes: 16 << 20}, g)
	if err != nil {
		return "", "", fmt.Errorf("%w (a running node is backed up through its admin listener, HOME/%s)", err, node.DebugAddrFile)
	}
	defer l.Close()
	dir := filepath.Join(cfg.Path(node.BackupsDir), fmt.Sprintf("checkpoint-%d", time.Now().UnixNano()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	if err := l.Checkpoint(filepath.Join(dir, "ledger")); err != nil {
		_ = os.RemoveAll(dir)
		return "", "", err
	}
	walCopy := ""
	if b, err := os.ReadFile(node.WALPath(cfg)); err == nil {
		walCopy = filepath.Join(dir, "consensus.wal")
		if err := os.WriteFile(walCopy, b, 0o600); err != nil {
			_ = os.RemoveAll(dir)
			return "", "", err
		}
	}
	return dir, walCopy, nil
}

// Write archives the checkpoint dir (from Take) of the node in home to
// out, written under a temporary name, synced and renamed.
func Write(home, dir, walCopy, out string) (*Manifest, error) {
	cfg, err := node.LoadConfig(home)
	if err != nil {
		return nil, err
	}
	g, err := types.LoadGenesis(cfg.Path(cfg.Genesis))
	if err != nil {
		return nil, err
	}
	gh, err := ledger.GenesisHash(g)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Format: Format, ChainID: g.ChainID, GenesisHash: gh, Node: cfg.Name, Created: time.Now().UTC().Format(time.RFC3339)}
	// The copy's own head, read from the copy: that is what restores.
	l, err := ledger.Open(ledger.Options{Dir: filepath.Join(dir, "ledger"), CacheBytes: 16 << 20}, g)
	if err != nil {
		return nil, fmt.Errorf("backup: the checkpoint does not open: %w", err)
	}
	head := l.Head()
	m.Height, m.BlockHash, m.StateRoot = head.Height, head.Hash, head.StateRoot
	if err := l.Close(); err != nil {
		return nil, err
	}
	if walCopy != "" {
		if m.LastSigned, err = LastSigned(walCopy); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
	}
	tmp := out + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	tw := tar.NewWriter(f)
	add := func(name, src string) error {
		e, err := addFile(tw, name, src)
		if err != nil {
			return fmt.Errorf("backup: %s: %w", name, err)
		}
		m.Files = append(m.Files, e)
		return nil
	}
	err = filepath.WalkDir(filepath.Join(dir, "ledger"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		return add(filepath.ToSlash(rel), p)
	})
	if err != nil {
		return nil, err
	}
	if walCopy != "" {
		if err := add("consensus.wal", walCopy); err != nil {
			return nil, err
		}
	}
	if err := add("config.json", filepath.Join(home, "config.json")); err != nil {
		return nil, err
	}
	if err := add("genesis.json", cfg.Path(cfg.Genesis)); err != nil {
		return nil, err
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: ManifestName, Mode: 0o600, Size: int64(len(mb)), ModTime: time.Unix(0, 0)}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(mb); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	ok = true
	return m, nil
}

func addFile(tw *tar.Writer, name, src string) (File, error) {
	f, err := os.Open(src)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return File{}, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: st.Size(), ModTime: time.Unix(0, 0)}); err != nil {
		return File{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), f)
	if err != nil {
		return File{}, err
	}
	if n != st.Size() {
		return File{}, fmt.Errorf("changed while archived (%d bytes, then %d)", st.Size(), n)
	}
	return File{Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// LastSigned returns the highest height at which the WAL at path records a
// proposal or vote of this validator (0: none). It opens the log the way a
// node does, cutting a torn tail.
func LastSigned(path string) (uint64, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	log, recs, err := wal.Open(path)
	if err != nil {
		return 0, fmt.Errorf("consensus WAL %s: %w", path, err)
	}
	defer log.Close()
	var last uint64
	for _, b := range recs {
		r, err := consensus.DecodeWALRecord(b)
		if err != nil {
			return 0, fmt.Errorf("consensus WAL %s: %w", path, err)
		}
		if r.Kind == consensus.RecordProposal || r.Kind == consensus.RecordVote {
			last = max(last, r.Height)
		}
	}
	return last, nil
}
