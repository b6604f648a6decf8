package node

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The snapshot and state sync settings come from config.json, then the
// environment; bad values are refused.
func TestSnapshotConfig(t *testing.T) {
	home := t.TempDir()
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(home, "config.json"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"name": "n0", "snapshot": {"interval": 50, "keep": 3}, "state_sync": {"providers": ["http://a:8080"]}}`)
	c, err := LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if c.Snapshot.Interval != 50 || c.Snapshot.Keep != 3 || !slices.Equal(c.StateSync.Providers, []string{"http://a:8080"}) {
		t.Fatalf("config: %+v %+v", c.Snapshot, c.StateSync)
	}
	t.Setenv("CAIRN_SNAPSHOT_INTERVAL", "10")
	t.Setenv("CAIRN_STATE_SYNC_PROVIDERS", " http://b:8080, ,http://c:8080")
	if c, err = LoadConfig(home); err != nil {
		t.Fatal(err)
	}
	if c.Snapshot.Interval != 10 || !slices.Equal(c.StateSync.Providers, []string{"http://b:8080", "http://c:8080"}) {
		t.Fatalf("environment not applied: %+v %+v", c.Snapshot, c.StateSync)
	}
	t.Setenv("CAIRN_SNAPSHOT_INTERVAL", "often")
	if _, err := LoadConfig(home); err == nil {
		t.Fatal("CAIRN_SNAPSHOT_INTERVAL=often accepted")
	}
	t.Setenv("CAIRN_SNAPSHOT_INTERVAL", "10")
	write(`{"name": "n0", "snapshot": {"interval": 5, "keep": -1}}`)
	if _, err := LoadConfig(home); err == nil {
		t.Fatal("snapshot.keep -1 accepted")
	}
}
