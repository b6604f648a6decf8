package client_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// The conformance kit (testdata/conformance, described in its README.md):
// recorded answers of a real chain with the verdict a verifier must reach
// on each, tampered variants included. TestConformanceKit runs the SDK's
// verifiers over it; TestGenerateConformanceKit (with -conformance.update)
// records it again.

const kitDir = "testdata/conformance"

// kitManifest is manifest.json.
type kitManifest struct {
	Description string            `json:"description"`
	ChainID     string            `json:"chain_id"`
	Validators  []types.Validator `json:"validators"`
	Cases       []kitCase         `json:"cases"`
}

// kitCase is one recorded answer and its verdict.
type kitCase struct {
	Name string `json:"name"`
	// Kind says what the answer is: block, tx, kv, account or search.
	Kind string `json:"kind"`
	// Request is the path and query that was asked; what the answer must
	// be about (height, hash, key, address) follows from it.
	Request string `json:"request"`
	File    string `json:"file"`
	// Verdict is what a verifier must conclude: "reject", or for a valid
	// answer what it proves (see README.md).
	Verdict string `json:"verdict"`
	// Tamper says, for a reject case, what was changed.
	Tamper string `json:"tamper,omitempty"`
	// ConvenienceOnly marks a reject case where only a JSON convenience
	// copy was changed; the proven bytes still verify. A verifier that
	// never reads the copies must report the proven value, not the copy.
	ConvenienceOnly bool `json:"convenience_only,omitempty"`

	// Expected values of valid cases.
	Height  uint64 `json:"height,omitempty"`
	Key     string `json:"key,omitempty"`
	Address string `json:"address,omitempty"`
	Hash    string `json:"hash,omitempty"`
	Balance uint64 `json:"balance,omitempty"`
	Nonce   uint64 `json:"nonce,omitempty"`
	Version uint64 `json:"version,omitempty"`
	Code    string `json:"code,omitempty"`
	Hits    int    `json:"hits,omitempty"`
}

// Verdicts of valid answers.
const (
	verdictReject    = "reject"
	verdictCertified = "certified" // block: header certified, txs and receipts match its roots
	verdictCommitted = "committed" // tx: included, receipt ok
	verdictFailed    = "failed"    // tx: included, receipt failed with Code
	verdictPresent   = "present"   // kv, account: the state holds the value
	verdictDeleted   = "deleted"   // kv: the state holds a deletion tombstone
	verdictAbsent    = "absent"    // kv, account: the state holds nothing for it
	verdictHits      = "hits"      // search: every one of Hits hits is committed as reported
)

// kitDirs lists the kit's chains: every directory of kitDir with a
// manifest.json.
func kitDirs(t *testing.T) []string {
	t.Helper()
	ms, err := filepath.Glob(filepath.Join(kitDir, "*", "manifest.json"))
	if err != nil || len(ms) == 0 {
		t.Fatalf("conformance kit: no manifests under %s (%v)", kitDir, err)
	}
	var dirs []string
	for _, m := range ms {
		dirs = append(dirs, filepath.Dir(m))
	}
	return dirs
}

func loadKit(t *testing.T, dir string) *kitManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatalf("conformance kit: %v", err)
	}
	var m kitManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("conformance kit manifest %s: %v", dir, err)
	}
	return &m
}

// TestConformanceKit checks every recorded answer of the kit against its
// verdict with the SDK's verifiers: each valid answer verifies and proves
// exactly what the manifest says, each tampered one is refused with
// ErrVerify. It also checks the kit covers every proof kind with a valid,
// a tampered and an absent (or failed) case.
func TestConformanceKit(t *testing.T) {
	for _, dir := range kitDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) { checkKit(t, dir) })
	}
}

func checkKit(t *testing.T, dir string) {
	m := loadKit(t, dir)
	vals, err := types.NewValidatorSet(m.Validators)
	if err != nil {
		t.Fatalf("kit validators: %v", err)
	}
	if len(m.Validators) < 4 {
		t.Errorf("kit has %d validators; it should exercise multi-signature certificates", len(m.Validators))
	}
	seen := map[string]map[string]bool{}
	for _, c := range m.Cases {
		t.Run(c.Name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, c.File))
			if err != nil {
				t.Fatal(err)
			}
			got, err := runKitCase(m.ChainID, vals, c, raw)
			if c.Verdict == verdictReject {
				if err == nil {
					t.Fatalf("tampered answer (%s) was accepted as %q", c.Tamper, got)
				}
				if !errors.Is(err, client.ErrVerify) {
					t.Fatalf("tampered answer (%s) refused for the wrong reason: %v", c.Tamper, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("valid answer refused: %v", err)
			}
			if got != c.Verdict {
				t.Fatalf("verdict %q, manifest says %q", got, c.Verdict)
			}
		})
		if seen[c.Kind] == nil {
			seen[c.Kind] = map[string]bool{}
		}
		switch c.Verdict {
		case verdictReject:
			seen[c.Kind]["tampered"] = true
		case verdictAbsent, verdictFailed:
			seen[c.Kind]["absent"] = true
			seen[c.Kind]["valid"] = true
		default:
			seen[c.Kind]["valid"] = true
		}
	}
	for _, kind := range []string{"block", "tx", "kv", "account", "search"} {
		for _, need := range []string{"valid", "tampered"} {
			if !seen[kind][need] {
				t.Errorf("kit has no %s %s case", need, kind)
			}
		}
	}
	for _, kind := range []string{"tx", "kv", "account"} {
		if !seen[kind]["absent"] {
			t.Errorf("kit has no absent (or failed) %s case", kind)
		}
	}
}

// runKitCase verifies one recorded answer and returns the verdict it
// supports. Besides the proof, the answer must be about what was asked.
func runKitCase(chainID string, vals *types.ValidatorSet, c kitCase, raw []byte) (string, error) {
	dec := func(v any) error {
		d := json.NewDecoder(strings.NewReader(string(raw)))
		d.DisallowUnknownFields()
		if err := d.Decode(v); err != nil {
			return fmt.Errorf("kit case %s: decode: %v", c.Name, err)
		}
		return nil
	}
	switch c.Kind {
	case "block":
		var b client.Block
		if err := dec(&b); err != nil {
			return "", err
		}
		if err := b.Verify(chainID, vals); err != nil {
			return "", err
		}
		if c.Height != 0 && b.Height != c.Height {
			return "", fmt.Errorf("%w: block %d, asked for %d", client.ErrVerify, b.Height, c.Height)
		}
		return verdictCertified, nil
	case "tx":
		var s client.TxStatus
		if err := dec(&s); err != nil {
			return "", err
		}
		if err := s.Verify(chainID, vals); err != nil {
			return "", err
		}
		if c.Hash != "" && s.Hash.String() != c.Hash {
			return "", fmt.Errorf("%w: answer is for tx %s, asked for %s", client.ErrVerify, s.Hash, c.Hash)
		}
		if s.Receipt.OK {
			return verdictCommitted, nil
		}
		if string(s.Receipt.Code) != c.Code {
			return "", fmt.Errorf("failed with %q, manifest says %q", s.Receipt.Code, c.Code)
		}
		return verdictFailed, nil
	case "kv":
		var p client.KVProof
		if err := dec(&p); err != nil {
			return "", err
		}
		if err := p.Verify(chainID, vals); err != nil {
			return "", err
		}
		if p.Key != c.Key || (c.Height != 0 && p.Height != c.Height) {
			return "", fmt.Errorf("%w: answer is for %q at %d, asked for %q at %d", client.ErrVerify, p.Key, p.Height, c.Key, c.Height)
		}
		switch {
		case !p.Found:
			return verdictAbsent, nil
		case p.Entry.Version != c.Version:
			return "", fmt.Errorf("version %d, manifest says %d", p.Entry.Version, c.Version)
		case p.Entry.Deleted:
			return verdictDeleted, nil
		}
		return verdictPresent, nil
	case "account":
		var p client.AccountProof
		if err := dec(&p); err != nil {
			return "", err
		}
		if err := p.Verify(chainID, vals); err != nil {
			return "", err
		}
		if p.Address.String() != c.Address || (c.Height != 0 && p.Height != c.Height) {
			return "", fmt.Errorf("%w: answer is for %s at %d, asked for %s at %d", client.ErrVerify, p.Address, p.Height, c.Address, c.Height)
		}
		if !p.Found {
			return verdictAbsent, nil
		}
		if p.Balance != c.Balance || p.Nonce != c.Nonce {
			return "", fmt.Errorf("balance %d nonce %d, manifest says %d %d", p.Balance, p.Nonce, c.Balance, c.Nonce)
		}
		return verdictPresent, nil
	case "search":
		var r client.SearchResult
		if err := dec(&r); err != nil {
			return "", err
		}
		if err := r.Verify(chainID, vals); err != nil {
			return "", err
		}
		if len(r.Hits) != c.Hits {
			return "", fmt.Errorf("%d hits, manifest says %d", len(r.Hits), c.Hits)
		}
		return verdictHits, nil
	}
	return "", fmt.Errorf("kit case %s: unknown kind %q", c.Name, c.Kind)
}

// hexAddress is for the generator: an address's hex.
func hexAddress(k *crypto.PrivateKey) string { return k.Public().Address().String() }
