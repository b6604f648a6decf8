package backup

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type entry struct {
	name string
	data string
}

// writeArchive writes entries and then a manifest listing listed (each
// with its true size and hash unless lie names it).
func writeArchive(t *testing.T, entries []entry, listed []entry, lie string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "a.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o600, Size: int64(len(e.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	m := Manifest{Format: Format}
	for _, e := range listed {
		sum := sha256.Sum256([]byte(e.data))
		fe := File{Path: e.name, Size: int64(len(e.data)), SHA256: hex.EncodeToString(sum[:])}
		if e.name == lie {
			fe.SHA256 = strings.Repeat("0", 64)
		}
		m.Files = append(m.Files, fe)
	}
	b, _ := json.Marshal(m)
	if err := tw.WriteHeader(&tar.Header{Name: ManifestName, Mode: 0o600, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(b)
	tw.Close()
	f.Close()
	return p
}

// extract accepts exactly an archive whose files match the manifest one
// for one, and refuses everything else with a reason.
func TestExtractChecksTheManifest(t *testing.T) {
	good := []entry{{"ledger/000001.sst", "tables"}, {"config.json", "{}"}, {"genesis.json", "{}"}}
	if _, err := extract(writeArchive(t, good, good, ""), t.TempDir()); err != nil {
		t.Fatalf("a good archive: %v", err)
	}
	for _, c := range []struct {
		name            string
		entries, listed []entry
		lie, want       string
	}{
		{"changed file", good, good, "ledger/000001.sst", "SHA-256"},
		{"missing file", good[1:], good, "", "not in the archive"},
		{"extra file", good, good[1:], "", "not in the manifest"},
		{"path out of the home", append([]entry{{"../escape", "x"}}, good...), good, "", "not a plain relative file"},
		{"absolute path", append([]entry{{"/etc/x", "x"}}, good...), good, "", "not a plain relative file"},
		{"no genesis", good[:2], good[:2], "", "no genesis.json"},
	} {
		dir := t.TempDir()
		_, err := extract(writeArchive(t, c.entries, c.listed, c.lie), dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape")); err == nil {
			t.Fatalf("%s: wrote outside the staging directory", c.name)
		}
	}
	// Cut short: no manifest.
	p := writeArchive(t, good, good, "")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:1024], 0o600)
	if _, err := extract(p, t.TempDir()); err == nil {
		t.Fatal("a truncated archive was accepted")
	}
}
