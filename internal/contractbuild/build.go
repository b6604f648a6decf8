// Package contractbuild builds a Go contract into a WebAssembly module with
// the standard toolchain: GOOS=wasip1 GOARCH=wasm go build
// -buildmode=c-shared -trimpath, the one set of flags the contract runtime
// expects (a reactor module exporting _initialize and cairn_invoke). The
// same source and toolchain give the same bytes, so a module's code hash
// can be reproduced from its source.
package contractbuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// Build compiles the Go package in dir (a main package using the contract
// SDK) and returns the module's bytes.
func Build(ctx context.Context, dir string) ([]byte, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("contract build: the Go toolchain is needed: %w", err)
	}
	tmp, err := os.MkdirTemp("", "cairn-contract-")
	if err != nil {
		return nil, fmt.Errorf("contract build: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "contract.wasm")
	cmd := exec.CommandContext(ctx, goBin, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("contract build %s: %w\n%s", dir, err, stderr.Bytes())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("contract build: %w", err)
	}
	return b, nil
}

var (
	cacheMu sync.Mutex
	cache   = map[string][]byte{}
)

// Cached is Build remembered per directory for the life of the process
// (tests build each contract once per run; the Go build cache makes a
// rebuild of unchanged sources quick).
func Cached(ctx context.Context, dir string) ([]byte, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if b, ok := cache[abs]; ok {
		return b, nil
	}
	b, err := Build(ctx, abs)
	if err != nil {
		return nil, err
	}
	cache[abs] = b
	return b, nil
}
