package backup

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/node"
	"github.com/cairn-db/cairn/internal/signguard"
	"github.com/cairn-db/cairn/types"
)

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// Force replaces an existing ledger, which is moved aside to
	// data/ledger.replaced-TIME rather than deleted.
	Force bool
}

// RestoreResult says what Restore did.
type RestoreResult struct {
	Height    uint64 `json:"height"`
	KeptWAL   bool   `json:"kept_wal"`           // the home's own WAL was kept
	Replaced  string `json:"replaced,omitempty"` // where the old ledger went
	SignFloor uint64 `json:"sign_floor"`
}

// Restore installs the archive at in into home (a stopped node's home, or
// a new one holding at least the validator key): the files are checked
// against the manifest in a staging directory first, so a bad archive
// changes nothing. See the package comment for the WAL and the floor.
func Restore(in, home string, opt RestoreOptions) (*RestoreResult, error) {
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	stage, err := os.MkdirTemp(home, ".restore-")
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(stage)
	m, err := extract(in, stage)
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", in, err)
	}
	// The home's config and genesis, or the archive's when it has none.
	cfgPath := filepath.Join(home, "config.json")
	if _, err := os.Stat(cfgPath); errors.Is(err, fs.ErrNotExist) {
		if err := copyFile(filepath.Join(stage, "config.json"), cfgPath); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}
	cfg, err := node.ReadConfigFile(home)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	gpath := cfg.Path(cfg.Genesis)
	if _, err := os.Stat(gpath); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(gpath), 0o755); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		if err := copyFile(filepath.Join(stage, "genesis.json"), gpath); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}
	g, err := types.LoadGenesis(gpath)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	gh, err := ledger.GenesisHash(g)
	if err != nil {
		return nil, err
	}
	if gh != m.GenesisHash {
		return nil, fmt.Errorf("restore: the archive is of chain %q (genesis %s), this home's genesis is %s", m.ChainID, m.GenesisHash, gh)
	}
	// The staged ledger must open at the manifest's head before anything
	// in the home changes.
	staged := filepath.Join(stage, "ledger")
	l, err := ledger.Open(ledger.Options{Dir: staged, CacheBytes: 16 << 20}, g)
	if err != nil {
		return nil, fmt.Errorf("restore: the archived ledger does not open: %w", err)
	}
	head := l.Head()
	if err := l.Close(); err != nil {
		return nil, err
	}
	if head.Height != m.Height || head.Hash != m.BlockHash || head.StateRoot != m.StateRoot {
		return nil, fmt.Errorf("restore: the archived ledger is at %d (%s), its manifest says %d (%s)", head.Height, head.Hash, m.Height, m.BlockHash)
	}

	res := &RestoreResult{Height: m.Height}
	data := cfg.Path(cfg.DataDir)
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	dst := node.LedgerDir(cfg)
	if _, err := os.Stat(dst); err == nil {
		if !opt.Force {
			return nil, fmt.Errorf("restore: %s already holds a ledger; stop the node and pass --force to replace it (it is moved aside, not deleted)", dst)
		}
		// A running node holds its ledger's lock: never move that away.
		old, err := ledger.Open(ledger.Options{Dir: dst, CacheBytes: 8 << 20}, g)
		if err != nil {
			return nil, fmt.Errorf("restore: the ledger in %s does not open (%v); is the node still running? stop it first", dst, err)
		}
		if err := old.Close(); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		res.Replaced = fmt.Sprintf("%s.replaced-%d", dst, time.Now().Unix())
		if err := os.Rename(dst, res.Replaced); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}
	// What this validator signed: the home's WAL if it has one, else the
	// archive's copy.
	walPath := node.WALPath(cfg)
	signed := m.LastSigned
	if _, err := os.Stat(walPath); err == nil {
		res.KeptWAL = true
		own, err := LastSigned(walPath)
		if err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		signed = max(signed, own)
	} else if _, err := os.Stat(filepath.Join(stage, "consensus.wal")); err == nil {
		if err := copyFile(filepath.Join(stage, "consensus.wal"), walPath); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}
	// The floor goes in before the ledger does: a node that starts on the
	// restored ledger always finds it.
	floor := signguard.Floor{Height: max(signed, m.Height+1), UntilCaughtUp: true,
		Reason: fmt.Sprintf("restored from a backup of height %d", m.Height)}
	if err := signguard.Raise(data, floor); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	res.SignFloor = floor.Height
	if err := os.Rename(staged, dst); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	return res, nil
}

// extract unpacks the archive into dir and checks it against its manifest:
// every file listed, with its size and SHA-256, and nothing else.
func extract(in, dir string) (*Manifest, error) {
	f, err := os.Open(in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	got := map[string]File{}
	var m *Manifest
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not a readable archive: %w", err)
		}
		if m != nil {
			return nil, fmt.Errorf("entry %q after the manifest", h.Name)
		}
		name := path.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || name != h.Name || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return nil, fmt.Errorf("entry %q is not a plain relative file", h.Name)
		}
		if name == ManifestName {
			b, err := io.ReadAll(io.LimitReader(tr, 64<<20))
			if err != nil {
				return nil, err
			}
			m = &Manifest{}
			if err := json.Unmarshal(b, m); err != nil {
				return nil, fmt.Errorf("manifest: %w", err)
			}
			continue
		}
		if _, dup := got[name]; dup {
			return nil, fmt.Errorf("entry %q twice", name)
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		out, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		sum := sha256.New()
		n, err := io.Copy(io.MultiWriter(out, sum), tr)
		if err == nil {
			err = out.Sync()
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		got[name] = File{Path: name, Size: n, SHA256: hex.EncodeToString(sum.Sum(nil))}
	}
	if m == nil {
		return nil, errors.New("no manifest: not a cairn backup, or cut short")
	}
	if m.Format != Format {
		return nil, fmt.Errorf("archive format %d, this cairn reads %d", m.Format, Format)
	}
	for _, e := range m.Files {
		g, ok := got[e.Path]
		if !ok {
			return nil, fmt.Errorf("%s is in the manifest but not in the archive", e.Path)
		}
		if g != e {
			return nil, fmt.Errorf("%s: %d bytes, SHA-256 %s; the manifest says %d bytes, %s", e.Path, g.Size, g.SHA256, e.Size, e.SHA256)
		}
		delete(got, e.Path)
	}
	for p := range got {
		return nil, fmt.Errorf("%s is in the archive but not in the manifest", p)
	}
	for _, need := range []string{"config.json", "genesis.json"} {
		if _, err := os.Stat(filepath.Join(dir, need)); err != nil {
			return nil, fmt.Errorf("the archive has no %s", need)
		}
	}
	return m, nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
