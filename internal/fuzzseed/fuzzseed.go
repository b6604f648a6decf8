// Package fuzzseed keeps generated fuzz seed corpora in step with the code
// that generates them: tests compare the committed files under
// testdata/fuzz/TARGET with what the generator makes now, or rewrite them.
package fuzzseed

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Check compares (or, with write, rewrites) the seed files of one fuzz
// target. Files not in seeds, such as saved crashers, are left alone.
func Check(t testing.TB, target string, seeds map[string][]byte, write bool) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if write {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range seeds {
		path := filepath.Join(dir, name)
		if write {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run with -write-seeds to regenerate)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale (run with -write-seeds to regenerate)", path)
		}
	}
}
