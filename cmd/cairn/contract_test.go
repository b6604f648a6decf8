package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func needGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("go tool not found under CI: %v", err)
		}
		t.Skipf("SKIPPED: go tool not found: %v", err)
	}
}

func TestContractBuild(t *testing.T) {
	needGo(t)
	out := filepath.Join(t.TempDir(), "voucher.wasm")
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"contract", "build", "--out", out, "../../examples/contracts/voucher"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var res struct {
		File   string `json:"file"`
		Bytes  int    `json:"bytes"`
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.File != out || len(res.SHA256) != 64 {
		t.Fatalf("output %q: %v", stdout.String(), err)
	}
	b, err := os.ReadFile(out)
	if err != nil || len(b) != res.Bytes || !bytes.HasPrefix(b, []byte("\x00asm")) {
		t.Fatalf("module file: %d bytes, %v", len(b), err)
	}
}

func TestContractBuildRefusesForbiddenImport(t *testing.T) {
	needGo(t)
	var stdout, stderr bytes.Buffer
	code := dispatch([]string{"contract", "build", "--out", filepath.Join(t.TempDir(), "x.wasm"), "testdata/clockcontract"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "forbidden import") || !strings.Contains(stderr.String(), "env.wall_clock") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestContractBuildErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"contract"}, &stdout, &stderr); code != 2 {
		t.Fatalf("no subcommand: exit %d", code)
	}
	if code := dispatch([]string{"contract", "frobnicate"}, &stdout, &stderr); code != 2 {
		t.Fatalf("unknown subcommand: exit %d", code)
	}
	stdout.Reset()
	stderr.Reset()
	if code := dispatch([]string{"contract", "--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String()+stderr.String(), "usage: cairn contract build") {
		t.Fatalf("help: exit %d, %q %q", code, stdout.String(), stderr.String())
	}
	needGo(t)
	stderr.Reset()
	if code := dispatch([]string{"contract", "build", t.TempDir()}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "contract build") {
		t.Fatalf("empty dir: exit %d, %q", code, stderr.String())
	}
}
