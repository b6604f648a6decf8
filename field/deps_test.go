package field_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The field library builds on the SDK and the public packages only: other
// modules can import it, and it links no storage or search engine and none
// of Cairn's internal packages (tests excluded).
func TestFieldDependencies(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("go tool not found (GOROOT %q, PATH): the dependency check must run in CI", runtime.GOROOT())
			}
			t.Skipf("SKIPPING the field dependency check: go tool not found in GOROOT %q or PATH", runtime.GOROOT())
		}
	}
	out, err := exec.CommandContext(t.Context(), goTool, "list", "-deps", ".").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list -deps: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps listed nothing")
	}
	for _, d := range deps {
		if strings.Contains(d, "pebble") || strings.Contains(d, "bleve") ||
			strings.HasPrefix(d, "github.com/cairn-db/cairn/internal/") {
			t.Errorf("package field depends on %s", d)
		}
	}
}
