package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/internal/scenario"
)

func TestListNamesEveryScenario(t *testing.T) {
	var out, errb strings.Builder
	if code := run([]string{"--scenario", "list"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, n := range scenario.Names() {
		if !strings.Contains(out.String(), n) {
			t.Fatalf("list lacks %s:\n%s", n, out.String())
		}
	}
}

func TestRefusesBadArguments(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"--scenario", "no-such-scenario"},
		{"--scenario", "byzantine,nope"},
		{"--scenario", "byzantine", "extra"},
	} {
		var out, errb strings.Builder
		if code := run(args, &out, &errb); code != 2 {
			t.Fatalf("%q: exit %d, want 2 (stderr %s)", args, code, errb.String())
		}
		if out.Len() != 0 {
			t.Fatalf("%q: wrote to stdout: %s", args, out.String())
		}
	}
}

func TestExplicitCairnBinary(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "cairn")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin, how, err := locateCairn(context.Background(), exe, t.TempDir(), io.Discard)
	if err != nil || bin != exe || how != "--cairn" {
		t.Fatalf("got %q %q %v", bin, how, err)
	}
	// A given path that is missing or not executable is an error, never
	// a reason to pick another binary.
	for _, p := range []string{filepath.Join(dir, "missing"), dir} {
		if _, _, err := locateCairn(context.Background(), p, t.TempDir(), io.Discard); err == nil {
			t.Fatalf("--cairn %s accepted", p)
		}
	}
	if runtime.GOOS == "windows" {
		return // no execute bit to check
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := locateCairn(context.Background(), plain, t.TempDir(), io.Discard); err == nil {
		t.Fatal("a non-executable --cairn accepted")
	}
}
