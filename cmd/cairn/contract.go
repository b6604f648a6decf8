package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/contractbuild"
	"github.com/cairn-db/cairn/internal/vm"
	"github.com/cairn-db/cairn/types"
)

func init() {
	register("contract", "contracts: build, deploy, instantiate, invoke, upgrade, query, list, show, key, history", runContract)
}

const contractUsage = `usage: cairn contract SUBCOMMAND ...

  build [--out FILE] DIR
      Builds the Go contract in DIR with the toolchain's WebAssembly port
      (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath),
      checks the module as deploy will (imports, features, limits, entry
      point, start-up) and writes it (default DIR/contract.wasm); prints its
      file, size, SHA-256 and code_hash (what instances name it by).
  deploy FILE.wasm                       --key FILE [--no-check] [tx flags]
      Checks the module as a validator will, then sends a contract.deploy;
      prints the transaction's result and the code_hash. --wait waits up to
      60 s by default: every validator compiles the module.
  instantiate NAME CODE_HASH [ARGS]      --key FILE [--owner ADDR] [--gas N] [tx flags]
      Creates instance NAME of deployed code and runs its Init with ARGS;
      the owner (default: the sender) may upgrade it.
  invoke NAME FUNCTION [ARGS]            --key FILE [--funds N] [--gas N] [tx flags]
      Calls FUNCTION of NAME; --funds sends native tokens to the contract
      with the call (returned if it fails).
  upgrade NAME CODE_HASH                 --key FILE [tx flags]
  query NAME FUNCTION [ARGS]             [--height H] [--gas N] [--node URL]
      A read-only call; prints the result (result_text when it is UTF-8)
      and the gas used; exit 1 when the call fails.
  list                                   [--after NAME] [--limit N] [--node URL]
  show NAME                              [--height H] [--node URL]
      The instance's code hash, owner, heights, account and balance, with
      a state proof of its info.
  key NAME KEY                           [--height H] [--hex] [--node URL]
      One key of the contract's state with a state proof (of its absence
      too); --hex: KEY is hex.
  history NAME KEY                       [--limit N] [--hex] [--node URL]
      The key's committed versions, newest first.

ARGS is text, @FILE or - (standard input); --args-hex HEX gives binary
arguments instead. Tx flags are those of cairn tx (--node, --nonce,
--chain-id, --wait, --timeout, --dry-run). See docs/contracts.md.
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
	case "deploy", "instantiate", "invoke", "upgrade":
		return runContractTx(args[0], args[1:], stdout, stderr)
	case "query":
		return runContractQuery(args[1:], stdout, stderr)
	case "list", "show", "key", "history":
		return runContractRead(args[0], args[1:], stdout, stderr)
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
		File             string      `json:"file"`
		Bytes            int         `json:"bytes"`
		SHA256           string      `json:"sha256"`
		InstrumentedSize int         `json:"instrumented_bytes"`
		CodeHash         crypto.Hash `json:"code_hash"`
	}{*out, len(code), fmt.Sprintf("%x", h[:]), len(inst), vm.CodeHash(inst)})
	return 0
}

// defaultContractGas is the gas limit of instantiate, invoke and query
// when --gas is not given.
const defaultContractGas = 50_000_000

// contractArgs returns a call's arguments: the optional positional ARGS
// (text, @FILE or -) or --args-hex.
func contractArgs(pos []string, n int, argsHex string) ([]byte, error) {
	if len(pos) > n+1 {
		return nil, fmt.Errorf("too many arguments")
	}
	if argsHex != "" {
		if len(pos) > n {
			return nil, fmt.Errorf("give ARGS or --args-hex, not both")
		}
		b, err := hex.DecodeString(argsHex)
		if err != nil {
			return nil, fmt.Errorf("--args-hex: %v", err)
		}
		return b, nil
	}
	if len(pos) == n {
		return nil, nil
	}
	return readArg(pos[n])
}

// runContractTx is deploy, instantiate, invoke and upgrade.
func runContractTx(sub string, args []string, stdout, stderr io.Writer) int {
	cmd := "contract " + sub
	fs, f := txFlags(cmd, stderr)
	fs.Usage = func() { fmt.Fprint(stderr, contractUsage) }
	gas := fs.Uint64("gas", defaultContractGas, "instantiate, invoke: the call's gas limit")
	funds := fs.Uint64("funds", 0, "invoke: native tokens sent to the contract with the call")
	ownerHex := fs.String("owner", "", "instantiate: the owner's `ADDRESS` (default: the sender)")
	argsHex := fs.String("args-hex", "", "instantiate, invoke: the arguments in hex instead of ARGS")
	noCheck := fs.Bool("no-check", false, "deploy: send the module without checking it first (validators check it anyway)")
	if sub == "deploy" {
		// Every validator compiles the module before the block commits:
		// seconds for a Go-built module.
		*f.timeout = 60 * time.Second
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "cairn %s: %s\n\n%s", cmd, fmt.Sprintf(format, a...), contractUsage)
		return 2
	}
	if msg := f.check(); msg != "" {
		return bad("%s", msg)
	}
	var payload types.Payload
	var wrap func(client.TxResult) any
	switch sub {
	case "deploy":
		if len(pos) != 1 {
			return bad("want FILE.wasm")
		}
		code, err := os.ReadFile(pos[0])
		if err != nil {
			return fail(stderr, cmd, err)
		}
		ctx := context.Background()
		e, err := vm.New(ctx, vm.Config{})
		if err != nil {
			return fail(stderr, cmd, err)
		}
		inst, err := e.Prepare(ctx, code)
		e.Close(ctx)
		var codeHash *crypto.Hash
		if err == nil {
			h := vm.CodeHash(inst)
			codeHash = &h
		} else if !*noCheck {
			return fail(stderr, cmd, fmt.Errorf("%s would be refused by every validator: %w", pos[0], err))
		}
		payload = &types.ContractDeploy{Code: code}
		wrap = func(r client.TxResult) any {
			return struct {
				CodeHash *crypto.Hash `json:"code_hash,omitempty"`
				client.TxResult
			}{codeHash, r}
		}
	case "instantiate":
		if len(pos) < 2 {
			return bad("want NAME CODE_HASH [ARGS]")
		}
		h, err := crypto.ParseHash(strings.ToLower(pos[1]))
		if err != nil {
			return bad("CODE_HASH: %v", err)
		}
		a, err := contractArgs(pos, 2, *argsHex)
		if err != nil {
			return bad("%v", err)
		}
		var owner crypto.Address
		if *ownerHex != "" {
			if owner, err = crypto.ParseAddress(strings.ToLower(*ownerHex)); err != nil {
				return bad("--owner: %v", err)
			}
		} else {
			key, err := crypto.LoadKey(*f.keyFile)
			if err != nil {
				return fail(stderr, cmd, err)
			}
			owner = key.Public().Address()
		}
		payload = &types.ContractInstantiate{Name: pos[0], CodeHash: h, Owner: owner, Args: a, GasLimit: *gas}
	case "invoke":
		if len(pos) < 2 {
			return bad("want NAME FUNCTION [ARGS]")
		}
		a, err := contractArgs(pos, 2, *argsHex)
		if err != nil {
			return bad("%v", err)
		}
		payload = &types.ContractInvoke{Name: pos[0], Function: pos[1], Args: a, GasLimit: *gas, Funds: *funds}
	case "upgrade":
		if len(pos) != 2 {
			return bad("want NAME CODE_HASH")
		}
		h, err := crypto.ParseHash(strings.ToLower(pos[1]))
		if err != nil {
			return bad("CODE_HASH: %v", err)
		}
		payload = &types.ContractUpgrade{Name: pos[0], CodeHash: h}
	}
	if err := types.CheckPayload(payload); err != nil {
		return bad("%v", err)
	}
	return signAndSubmit(cmd, f, payload, wrap, stdout, stderr)
}

// runContractQuery is a read-only call.
func runContractQuery(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("contract query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, contractUsage) }
	node := nodeFlag(fs)
	height := fs.Uint64("height", 0, "read at this height (default latest)")
	gas := fs.Uint64("gas", 0, "gas limit (default: the chain's max_tx_gas)")
	argsHex := fs.String("args-hex", "", "the arguments in hex instead of ARGS")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) < 2 {
		fmt.Fprintf(stderr, "cairn contract query: want NAME FUNCTION [ARGS]\n\n%s", contractUsage)
		return 2
	}
	a, err := contractArgs(pos, 2, *argsHex)
	if err != nil {
		fmt.Fprintf(stderr, "cairn contract query: %v\n", err)
		return 2
	}
	c, ok := newClient(*node, stderr, "contract")
	if !ok {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	res, err := c.QueryContract(ctx, pos[0], client.ContractQuery{Function: pos[1], Args: a, GasLimit: *gas}, *height)
	if err != nil {
		return fail(stderr, "contract query", err)
	}
	out := struct {
		*client.ContractQueryResult
		Text *string `json:"result_text,omitempty"`
	}{ContractQueryResult: res}
	if utf8.Valid(res.Result) {
		t := string(res.Result)
		out.Text = &t
	}
	if code := printJSON(stdout, out); code != 0 {
		return code
	}
	if !res.OK {
		return report(stderr, problem{Command: "contract query", Code: string(res.Code), Message: res.Reason})
	}
	return 0
}

// runContractRead is list, show, key and history.
func runContractRead(sub string, args []string, stdout, stderr io.Writer) int {
	cmd := "contract " + sub
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, contractUsage) }
	node := nodeFlag(fs)
	height := fs.Uint64("height", 0, "show, key: read at this height (default latest)")
	limit := fs.Int("limit", 0, "list, history: page size (default: the node's)")
	after := fs.String("after", "", "list: start after this name")
	isHex := fs.Bool("hex", false, "key, history: KEY is hex")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	want := map[string]int{"list": 0, "show": 1, "key": 2, "history": 2}[sub]
	if len(pos) != want {
		fmt.Fprintf(stderr, "cairn %s: wrong number of arguments\n\n%s", cmd, contractUsage)
		return 2
	}
	var key []byte
	if want == 2 {
		key = []byte(pos[1])
		if *isHex {
			if key, err = hex.DecodeString(pos[1]); err != nil {
				fmt.Fprintf(stderr, "cairn %s: KEY: %v\n", cmd, err)
				return 2
			}
		}
	}
	c, ok := newClient(*node, stderr, "contract")
	if !ok {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var out any
	switch sub {
	case "list":
		out, err = c.Contracts(ctx, *after, *limit)
	case "show":
		out, err = c.Contract(ctx, pos[0], *height)
	case "key":
		out, err = c.ContractKey(ctx, pos[0], key, *height)
	case "history":
		out, err = c.ContractKeyHistory(ctx, pos[0], key, *limit)
	}
	if err != nil {
		return fail(stderr, cmd, err)
	}
	return printJSON(stdout, out)
}
