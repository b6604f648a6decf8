package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/cairn-db/cairn/internal/contractbuild"
	"github.com/cairn-db/cairn/internal/vm"
)

func init() {
	register("contract", "contracts: build DIR (Go source -> checked WebAssembly module)", runContract)
}

const contractUsage = `usage: cairn contract build [--out FILE] DIR

Builds the Go contract in DIR with the toolchain's WebAssembly port
(GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath), checks the
module as deploy will (imports, features, limits, entry point, start-up) and
writes it; prints its file, size and SHA-256 as JSON. See docs/contracts.md.

flags:
  --out FILE   where to write the module (default: DIR/contract.wasm)
`

func runContract(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, contractUsage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		// Help goes where the caller asked (cairn help passes stdout here).
		fmt.Fprint(stderr, contractUsage)
		return 0
	case "build":
		return runContractBuild(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "cairn contract: unknown subcommand %q\n\n%s", args[0], contractUsage)
	return 2
}

// runContractBuild builds a contract with the toolchain's wasip1 port and
// checks the module exactly as deploy will (imports, features, limits, the
// SDK's entry point, start-up within its gas), then writes it and prints
// its size and SHA-256.
func runContractBuild(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("contract build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), contractUsage) }
	out := fs.String("out", "", "where to write the module (default: DIR/contract.wasm)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, contractUsage)
		return 2
	}
	dir := fs.Arg(0)
	if *out == "" {
		*out = dir + "/contract.wasm"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	code, err := contractbuild.Build(ctx, dir)
	if err != nil {
		fmt.Fprintln(stderr, "cairn contract build:", err)
		return 1
	}
	e, err := vm.New(ctx, vm.Config{})
	if err != nil {
		fmt.Fprintln(stderr, "cairn contract build:", err)
		return 1
	}
	defer e.Close(ctx)
	inst, err := e.Prepare(ctx, code)
	if err != nil {
		fmt.Fprintf(stderr, "cairn contract build: %s would be refused at deploy: %v\n", dir, err)
		return 1
	}
	if err := os.WriteFile(*out, code, 0o644); err != nil {
		fmt.Fprintln(stderr, "cairn contract build:", err)
		return 1
	}
	h := vm.CodeHash(code)
	json.NewEncoder(stdout).Encode(struct {
		File             string `json:"file"`
		Bytes            int    `json:"bytes"`
		SHA256           string `json:"sha256"`
		InstrumentedSize int    `json:"instrumented_bytes"`
	}{*out, len(code), fmt.Sprintf("%x", h[:]), len(inst)})
	return 0
}
