package devnet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// CairnPackage is the import path of the validator binary a Cluster runs.
const CairnPackage = "github.com/cairn-db/cairn/cmd/cairn"

// BuildCairn builds the cairn binary from this module's source into dir
// with the go tool on PATH and returns its path. The end-to-end and
// robustness tests and cairn-lab use it so that the validators they start
// are always the source they were built with.
func BuildCairn(ctx context.Context, dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("build cairn: the go tool is not on PATH: %w", err)
	}
	name := "cairn"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	bin := filepath.Join(dir, name)
	out, err := exec.CommandContext(ctx, goBin, "build", "-o", bin, CairnPackage).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", CairnPackage, err, out)
	}
	return bin, nil
}

// BuildCairnTemp builds the cairn binary into a new temporary directory
// named after prefix; remove deletes that directory. Test mains that start
// real validators build once with it.
func BuildCairnTemp(ctx context.Context, prefix string) (bin string, remove func(), err error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, fmt.Errorf("build cairn: %w", err)
	}
	bin, err = BuildCairn(ctx, dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}
