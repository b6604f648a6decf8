package node

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-db/cairn/internal/mempool"
	"github.com/cairn-db/cairn/types"
)

// A config file that predates the held-transaction bounds keeps their
// defaults; one that sets them is obeyed, and the node hands them all to
// the mempool.
func TestMempoolConfig(t *testing.T) {
	home := t.TempDir()
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(home, "config.json"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"name": "n0", "mempool": {"max_txs": 10, "max_bytes": 1000000}}`)
	c, err := LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	d := mempool.DefaultConfig("", types.DefaultParams())
	if mp := c.Mempool; mp.MaxTxs != 10 || mp.MaxHeldTxs != d.MaxHeldTxs || mp.HeldTTL.Duration != d.HeldTTL || mp.MaxSenderTxs != d.MaxSenderTxs {
		t.Fatalf("defaults not kept: %+v", mp)
	}

	write(`{"name": "n0", "mempool": {"max_txs": 10, "max_bytes": 1000000, "max_sender_txs": 7, "max_sender_bytes": 3000000,
		"max_held_txs_per_sender": 2, "max_held_bytes_per_sender": 5000, "max_held_txs": 3, "max_held_bytes": 6000, "held_ttl": "30s"}}`)
	if c, err = LoadConfig(home); err != nil {
		t.Fatal(err)
	}
	mc := mempool.DefaultConfig("chain", types.DefaultParams())
	c.Mempool.apply(&mc)
	want := mempool.DefaultConfig("chain", types.DefaultParams())
	want.MaxTxs, want.MaxBytes, want.MaxSenderTxs, want.MaxSenderBytes = 10, 1000000, 7, 3000000
	want.MaxHeldTxsPerSender, want.MaxHeldBytesPerSender, want.MaxHeldTxs, want.MaxHeldBytes, want.HeldTTL = 2, 5000, 3, 6000, 30*time.Second
	if mc.MaxTxs != want.MaxTxs || mc.MaxBytes != want.MaxBytes || mc.MaxSenderTxs != want.MaxSenderTxs || mc.MaxSenderBytes != want.MaxSenderBytes ||
		mc.MaxHeldTxsPerSender != want.MaxHeldTxsPerSender || mc.MaxHeldBytesPerSender != want.MaxHeldBytesPerSender ||
		mc.MaxHeldTxs != want.MaxHeldTxs || mc.MaxHeldBytes != want.MaxHeldBytes || mc.HeldTTL != want.HeldTTL {
		t.Fatalf("mempool config %+v, want %+v", mc, want)
	}

	write(`{"name": "n0", "mempool": {"max_txs": 10, "max_bytes": 1000000, "held_ttl": "0s"}}`)
	if _, err := LoadConfig(home); err == nil {
		t.Fatal("a zero held_ttl was accepted")
	}
	write(`{"name": "n0", "mempool": {"max_txs": 10, "max_bytes": 1000000, "max_held_txs": -1}}`)
	if _, err := LoadConfig(home); err == nil {
		t.Fatal("a negative held limit was accepted")
	}
}

// The API's load limits come from config.json's "api" section, with
// defaults for what it leaves out; the single-transaction body limit
// follows the chain's max_tx_bytes.
func TestAPILimitsConfig(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "config.json"), []byte(`{"name": "n0", "api": {"max_streams": 3, "client_rate": 5, "limit_loopback": true}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	p := types.DefaultParams()
	ac := c.apiConfig(p)
	d := DefaultConfig(home).API
	if ac.MaxStreams != 3 || ac.ClientRate != 5 || !ac.LimitLoopback || ac.ClientBurst != d.ClientBurst || ac.MaxInFlight != d.MaxInFlight ||
		ac.MaxWaits != d.MaxWaits || ac.MaxReplayBlocks != d.MaxReplayBlocks {
		t.Fatalf("api limits %+v from %+v", ac, c.API)
	}
	maxCode, _ := p.ContractParams()
	if ac.MaxBodyBytes < int64(p.MaxTxBytes) || ac.MaxBodyBytes < int64(maxCode)*4/3 || ac.MaxBodyBytes > 3*int64(max(p.MaxTxBytes, maxCode)) {
		t.Fatalf("single-tx body limit %d for max_tx_bytes %d, max_code_bytes %d", ac.MaxBodyBytes, p.MaxTxBytes, maxCode)
	}
	if err := os.WriteFile(filepath.Join(home, "config.json"), []byte(`{"name": "n0", "api": {"max_waits": -1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(home); err == nil {
		t.Fatal("a negative API limit was accepted")
	}
}
