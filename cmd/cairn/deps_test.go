package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// chartOnly are import-path prefixes that belong to the experiments and
// their charts (cmd/cairn-lab), never to the validator binary: plotting,
// its fonts, LaTeX, PDF and raster back ends, and the packages that use
// them.
var chartOnly = []string{
	"gonum.org/",
	"codeberg.org/",
	"git.sr.ht/~sbinet/",
	"github.com/ajstarks/svgo",
	"github.com/golang/freetype",
	"github.com/cairn-db/cairn/internal/scenario",
	"github.com/cairn-db/cairn/internal/chart",
}

// TestValidatorBinaryLinksNoCharts keeps cmd/cairn what a validator needs:
// the experiment runner and its charts live in cmd/cairn-lab.
func TestValidatorBinaryLinksNoCharts(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("go tool not found under CI: %v", err)
		}
		t.Skipf("SKIPPED: go tool not found, cannot check cmd/cairn's dependencies: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", "github.com/cairn-db/cairn/cmd/cairn").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	var bad []string
	for _, p := range strings.Fields(string(out)) {
		for _, pre := range chartOnly {
			if strings.HasPrefix(p, pre) {
				bad = append(bad, p)
				break
			}
		}
	}
	if len(bad) > 0 {
		t.Fatalf("cmd/cairn links experiment/chart packages (they belong in cmd/cairn-lab):\n  %s", strings.Join(bad, "\n  "))
	}
}
