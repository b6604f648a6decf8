package client_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestSDKDependencies: the SDK, and the payment-field library built on it,
// are importable from outside the module and do not drag a node's machinery
// along. Their builds (tests excluded) must not depend on a storage or
// search engine, nor on any of Cairn's internal packages (Go forbids
// importing those from another module, so one would make them unusable
// there).
func TestSDKDependencies(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("go tool not found (GOROOT %q, PATH): the SDK dependency check must run in CI", runtime.GOROOT())
			}
			t.Skipf("SKIPPING the SDK dependency check: go tool not found in GOROOT %q or PATH", runtime.GOROOT())
		}
	}
	for pkg, dir := range map[string]string{"the client SDK": ".", "package field": "../field"} {
		checkDeps(t, goTool, pkg, dir)
	}
}

func checkDeps(t *testing.T, goTool, pkg, dir string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), goTool, "list", "-deps", ".")
	cmd.Dir = dir
	out, err := cmd.Output()
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
			t.Errorf("%s depends on %s", pkg, d)
		}
	}
}
