package main

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestArchitectureTableIsTrue keeps docs/architecture.md's package table
// true: every package of the module has a row, and a package imports only
// packages whose rows come before its own (dependencies point downward).
func TestArchitectureTableIsTrue(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("go tool not found under CI: %v", err)
		}
		t.Skipf("SKIPPED: go tool not found, cannot check the package table: %v", err)
	}
	const mod = "github.com/cairn-db/cairn/"
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	// A row's first cell names one or more packages: | `internal/x`, `y/` |
	pos := map[string]int{}
	name := regexp.MustCompile("`([^`]+)`")
	for i, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cell := strings.Split(line, "|")[1]
		for _, m := range name.FindAllStringSubmatch(cell, -1) {
			pos[strings.TrimSuffix(m[1], "/")] = i
		}
	}
	out, err := exec.Command(goBin, "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		pkg := strings.TrimPrefix(f[0], mod)
		row, ok := pos[pkg]
		if !ok {
			t.Errorf("package %s has no row in docs/architecture.md's package table", pkg)
			continue
		}
		for _, imp := range f[1:] {
			dep, ours := strings.CutPrefix(imp, mod)
			if !ours {
				continue
			}
			if depRow, ok := pos[dep]; ok && depRow > row {
				t.Errorf("%s imports %s, whose row comes after its own: the table must list dependencies first", pkg, dep)
			}
		}
	}
}
