package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/ledger"
)

// SyncConfig says where a new node fetches a snapshot from and where it
// builds its ledger.
type SyncConfig struct {
	// Providers are other nodes' API base URLs ("http://host:8080").
	Providers []string
	// Open opens the node's ledger (new: at genesis); LedgerDir is its
	// directory, deleted after a failed attempt.
	Open      func() (*ledger.Ledger, error)
	LedgerDir string
	// HTTP is the client for the providers (nil: one with a 60 s timeout
	// per request).
	HTTP *http.Client
	Log  *slog.Logger
}

// SyncResult describes a finished state sync.
type SyncResult struct {
	Provider  string
	Height    uint64
	Keys, Txs uint64
	Chunks    int
	Bytes     int64
	Took      time.Duration
}

// offer is one snapshot one provider lists.
type offer struct {
	provider string
	info     client.SnapshotInfo
}

// ProviderError is a provider that served something wrong: its URL and
// what was wrong.
type ProviderError struct {
	Provider string
	Height   uint64
	Err      error
}

func (e *ProviderError) Error() string {
	return fmt.Sprintf("snapshot provider %s (height %d): %v", e.Provider, e.Height, e.Err)
}

func (e *ProviderError) Unwrap() error { return e.Err }

// Sync fills the new ledger from the newest snapshot any provider offers
// that checks out: the manifest's header certified by the genesis
// validator set, every chunk's hash as listed in the manifest, the headers
// chained up to the certified one with their tx roots, and the state's
// root equal to the certified header's. A provider that fails any check
// is logged with its URL and skipped; the ledger directory is wiped and
// the next offer (the same height from another provider, then older
// heights) is tried. It holds one chunk in memory at a time.
func Sync(ctx context.Context, cfg SyncConfig) (*SyncResult, error) {
	if len(cfg.Providers) == 0 {
		return nil, errors.New("state sync: no providers configured")
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	var offers []offer
	var listErrs []string
	for _, p := range cfg.Providers {
		p = strings.TrimRight(p, "/")
		var list client.SnapshotList
		if err := getJSON(ctx, cfg.HTTP, p+"/v1/snapshots", &list); err != nil {
			cfg.Log.Warn("state sync: provider unavailable", "provider", p, "err", err)
			listErrs = append(listErrs, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		for _, s := range list.Snapshots {
			offers = append(offers, offer{provider: p, info: s})
		}
	}
	if len(offers) == 0 {
		if len(listErrs) > 0 {
			return nil, fmt.Errorf("state sync: no snapshot offered (%s)", strings.Join(listErrs, "; "))
		}
		return nil, fmt.Errorf("state sync: none of %d providers offers a snapshot yet", len(cfg.Providers))
	}
	// Newest first; among one height, the providers in configured order.
	slices.SortStableFunc(offers, func(a, b offer) int {
		switch {
		case a.info.Height > b.info.Height:
			return -1
		case a.info.Height < b.info.Height:
			return 1
		}
		return 0
	})
	var errs []string
	for _, o := range offers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res, err := attempt(ctx, cfg, o)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		cfg.Log.Error("state sync: snapshot rejected, trying the next provider", "provider", o.provider, "height", o.info.Height, "err", err)
		errs = append(errs, err.Error())
		if rmErr := os.RemoveAll(cfg.LedgerDir); rmErr != nil {
			return nil, fmt.Errorf("state sync: wiping %s after a failed attempt: %w", cfg.LedgerDir, rmErr)
		}
	}
	return nil, fmt.Errorf("state sync: every snapshot offered was rejected: %s", strings.Join(errs, "; "))
}

// attempt restores the snapshot o into a fresh ledger.
func attempt(ctx context.Context, cfg SyncConfig, o offer) (res *SyncResult, err error) {
	start := time.Now()
	fail := func(format string, args ...any) error {
		return &ProviderError{Provider: o.provider, Height: o.info.Height, Err: fmt.Errorf(format, args...)}
	}
	base := o.provider + "/v1/snapshots/" + strconv.FormatUint(o.info.Height, 10)
	var wire client.SnapshotManifest
	if err := getJSON(ctx, cfg.HTTP, base, &wire); err != nil {
		return nil, fail("manifest: %w", err)
	}
	mb, err := hex.DecodeString(wire.ManifestHex)
	if err != nil {
		return nil, fail("manifest_hex: %w", err)
	}
	m, err := DecodeManifest(mb)
	if err != nil {
		return nil, fail("%w", err)
	}
	if m.Height != o.info.Height {
		return nil, fail("manifest is for height %d, listed as %d", m.Height, o.info.Height)
	}
	hdr, cert, err := m.Certified()
	if err != nil {
		return nil, fail("%w", err)
	}
	// Every attempt starts from an empty directory: nothing of an earlier
	// attempt (or a crash during one) may mix with this one.
	if err := os.RemoveAll(cfg.LedgerDir); err != nil {
		return nil, fmt.Errorf("state sync: %w", err)
	}
	l, err := cfg.Open()
	if err != nil {
		return nil, fmt.Errorf("state sync: open ledger: %w", err)
	}
	defer func() {
		if cerr := l.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("state sync: %w", cerr)
		}
	}()
	if m.ChainID != l.Genesis().ChainID {
		return nil, fail("snapshot of chain %q, this node's genesis is %q", m.ChainID, l.Genesis().ChainID)
	}
	// The sets in force up to the snapshot's next height are not in the
	// snapshot's state history: walk them from the genesis set through
	// the provider's certified headers (docs/consensus.md), so the
	// snapshot's certificate and the blocks after it are checked against
	// the sets of their own heights.
	cl, err := client.New(o.provider, client.WithHTTPClient(cfg.HTTP))
	if err != nil {
		return nil, fail("%w", err)
	}
	walked, err := cl.WalkValidatorSets(ctx, m.ChainID, l.GenesisValidators(), m.Height+1)
	if err != nil {
		return nil, fail("manifest does not match a certified header: no verified validator sets up to height %d: %w", m.Height+1, err)
	}
	changes := make([]ledger.SetChange, len(walked))
	for i, c := range walked {
		changes[i] = ledger.SetChange{From: c.From, Set: c.Set}
	}
	if err := l.SetSyncedValidators(changes); err != nil {
		return nil, fail("%w", err)
	}
	r, err := l.Restore(hdr, cert)
	if err != nil {
		return nil, fail("manifest does not match a certified header: %w", err)
	}
	defer r.Abort()
	cfg.Log.Info("state sync: fetching snapshot", "provider", o.provider, "height", m.Height, "chunks", m.Chunks(),
		"keys", m.Keys, "txs", m.Txs, "state_root", hdr.StateRoot)
	res = &SyncResult{Provider: o.provider, Height: m.Height, Chunks: m.Chunks()}
	lastLog := time.Now()
	for i := 0; i < m.Chunks(); i++ {
		want, kind := m.ChunkHash(i)
		b, err := getChunk(ctx, cfg.HTTP, base+"/chunks/"+strconv.Itoa(i))
		if err != nil {
			return nil, fail("chunk %d: %w", i, err)
		}
		if got := sha256.Sum256(b); !bytes.Equal(got[:], want[:]) {
			return nil, fail("chunk %d: hash %x, the manifest says %s", i, got, want)
		}
		res.Bytes += int64(len(b))
		err = DecodeChunk(b, kind,
			func(c Chain) error {
				if err := r.AddHeight(c.Header, c.Txs); err != nil {
					return err
				}
				if c.Height+1 != r.Next() {
					return fmt.Errorf("chain record says height %d", c.Height)
				}
				return nil
			},
			func(p Pair) error { return r.AddState(p.Key, p.Value) })
		if err != nil {
			return nil, fail("chunk %d: %w", i, err)
		}
		if time.Since(lastLog) > 5*time.Second {
			cfg.Log.Info("state sync: progress", "provider", o.provider, "chunk", i+1, "of", m.Chunks(), "keys", r.Keys())
			lastLog = time.Now()
		}
	}
	if r.Keys() != m.Keys || r.Txs() != m.Txs {
		return nil, fail("chunks hold %d keys and %d txs, the manifest says %d and %d", r.Keys(), r.Txs(), m.Keys, m.Txs)
	}
	if err := r.Finish(); err != nil {
		return nil, fail("%w", err)
	}
	res.Keys, res.Txs, res.Took = r.Keys(), r.Txs(), time.Since(start)
	return res, nil
}

// getJSON fetches u into out, reading at most 64 MiB.
func getJSON(ctx context.Context, hc *http.Client, u string, out any) error {
	b, err := get(ctx, hc, u, maxManifestSize*3)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

func getChunk(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	return get(ctx, hc, u, MaxChunkBytes)
}

func get(ctx context.Context, hc *http.Client, u string, limit int64) ([]byte, error) {
	if _, err := url.Parse(u); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", u, resp.Status, b)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("GET %s: answer exceeds %d bytes", u, limit)
	}
	return b, nil
}
