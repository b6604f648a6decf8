package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// The client commands: read the chain through a node's REST API (the Go
// SDK). Conventions shared with tx.go and keygen.go: JSON on stdout, human
// messages on stderr; exit 0 when the operation succeeded, 1 when it failed
// (refused, not found, failed receipt, proof does not verify, node
// unreachable), 2 for a usage error.

func init() {
	register("status", "show a node's chain and node status", runStatus)
	register("get", "read a key (optionally at a height, with a verified proof)", runGet)
	register("history", "list every version of a key", runHistory)
	register("account", "show an account's balance and nonce", runAccount)
	register("block", "show a block (HEIGHT or latest), optionally audited", runBlock)
}

// defaultNode is --node's default: $CAIRN_NODE, else the first devnet node.
func defaultNode() string {
	if v := os.Getenv("CAIRN_NODE"); v != "" {
		return v
	}
	return "http://127.0.0.1:8080"
}

// requestTimeout bounds each client command's requests.
const requestTimeout = 60 * time.Second

// parseInterleaved parses flags that may come before, between or after the
// positional arguments (`cairn get KEY --prove`), and returns the
// positional ones. Everything after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// nodeFlag adds --node.
func nodeFlag(fs *flag.FlagSet) *string {
	connFlagsOn(fs)
	return fs.String("node", defaultNode(), "node API `URL` or host:port (default: $CAIRN_NODE, else http://127.0.0.1:8080)")
}

// newClient connects to node; "host:port" without a scheme means
// http://host:port.
func newClient(node string, stderr io.Writer, cmd string) (*client.Client, bool) {
	opts, err := connOptions()
	if err != nil {
		fmt.Fprintf(stderr, "cairn %s: %v\n", cmd, err)
		return nil, false
	}
	c, err := client.New(nodeURL(node), opts...)
	if err != nil {
		fmt.Fprintf(stderr, "cairn %s: %v\n", cmd, err)
		return nil, false
	}
	return c, true
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	node := nodeFlag(fs)
	fs.Usage = usageFunc(fs, stderr, "cairn status [--node URL]", "Prints the node's status: chain id, height, validators, peers, mempool.")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 0 {
		fs.Usage()
		return 2
	}
	c, ok := newClient(*node, stderr, "status")
	if !ok {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		return fail(stderr, "status", err)
	}
	return printJSON(stdout, st)
}

// trustedValidators returns the chain id and the validator set of height
// to verify against: with a genesis file, the set walked from that
// genesis's set through every set change up to height, each change's
// certified header checked (client.VerifyValidatorSets: trust what you
// chose); else the node's own /v1/validators (which only proves the node
// is consistent with itself; say so).
func trustedValidators(ctx context.Context, c *client.Client, genesis string, height uint64) (string, *types.ValidatorSet, string, error) {
	if genesis != "" {
		g, err := types.LoadGenesis(genesis)
		if err != nil {
			return "", nil, "", err
		}
		vs, err := g.ValidatorSet()
		if err != nil {
			return "", nil, "", err
		}
		walked, err := c.VerifyValidatorSets(ctx, g.ChainID, vs, height)
		if err != nil {
			return "", nil, "", fmt.Errorf("validators of height %d from genesis %s: %w", height, genesis, err)
		}
		return g.ChainID, walked, "genesis file " + genesis + " (set changes walked)", nil
	}
	st, err := c.Status(ctx)
	if err != nil {
		return "", nil, "", fmt.Errorf("fetch validators: %w", err)
	}
	v, err := c.Validators(ctx, height)
	if err != nil {
		return "", nil, "", fmt.Errorf("fetch validators of height %d: %w", height, err)
	}
	vs, err := v.Set()
	if err != nil {
		return "", nil, "", fmt.Errorf("validators of height %d: %w", height, err)
	}
	return st.ChainID, vs, "the node's /v1/validators (pass --genesis to trust your own copy)", nil
}

// verifiedGet is the output of `cairn get --prove`.
type verifiedGet struct {
	Key      string          `json:"key"`
	Height   uint64          `json:"height"`
	Found    bool            `json:"found"`
	Live     bool            `json:"live"`
	Value    *string         `json:"value,omitempty"`
	Version  uint64          `json:"version,omitempty"`
	Verified bool            `json:"verified"`
	Trusted  string          `json:"validators_from"`
	Proof    *client.KVProof `json:"proof"`
}

func runGet(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	node := nodeFlag(fs)
	height := fs.Uint64("height", 0, "read the value as of this height (default: latest)")
	prove := fs.Bool("prove", false, "fetch a state proof and verify it here against the certified header")
	genesis := fs.String("genesis", "", "with --prove: verify against the validators of this genesis file instead of the node's status")
	fs.Usage = usageFunc(fs, stderr, "cairn get KEY [--height H] [--prove [--genesis FILE]] [--node URL]",
		"Prints the key's live value. Exit 1 when the key is absent or deleted, or a proof does not verify.")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 || pos[0] == "" {
		fs.Usage()
		return 2
	}
	key := pos[0]
	c, ok := newClient(*node, stderr, "get")
	if !ok {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if !*prove {
		v, err := c.KV(ctx, key, *height)
		if err != nil {
			return fail(stderr, "get", err)
		}
		return printJSON(stdout, v)
	}
	p, err := c.KVProof(ctx, key, *height)
	if err != nil {
		return fail(stderr, "get", err)
	}
	chainID, vals, from, err := trustedValidators(ctx, c, *genesis, p.Height)
	if err != nil {
		return fail(stderr, "get", err)
	}
	if err := p.Verify(chainID, vals); err != nil {
		return report(stderr, problem{Command: "get", Code: "proof_invalid", Message: fmt.Sprintf("PROOF DOES NOT VERIFY: %v", err)})
	}
	out := verifiedGet{Key: key, Height: p.Height, Found: p.Found, Live: p.Live(), Verified: true, Trusted: from, Proof: p}
	if p.Live() {
		out.Value, out.Version = &p.Entry.Value, p.Entry.Version
	}
	var what string
	switch {
	case p.Live():
		what = fmt.Sprintf("%q = version %d", key, p.Entry.Version)
	case p.Found:
		what = fmt.Sprintf("%q was deleted (version %d)", key, p.Entry.Version)
	default:
		what = fmt.Sprintf("%q is absent", key)
	}
	if !outputJSON(stderr) {
		fmt.Fprintf(stderr, "verified: %s at height %d; certificate checked against %d validators (quorum power %d) from %s\n",
			what, p.Height, vals.Len(), vals.Quorum(), from)
	}
	if code := printJSON(stdout, out); code != 0 {
		return code
	}
	if !p.Live() {
		if outputJSON(stderr) {
			return report(stderr, problem{Command: "get", Code: "not_found", Height: p.Height, Message: "verified: " + what})
		}
		return 1
	}
	return 0
}

func runHistory(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	fs.SetOutput(stderr)
	node := nodeFlag(fs)
	limit := fs.Int("limit", 10_000, "at most this many versions (oldest first)")
	fs.Usage = usageFunc(fs, stderr, "cairn history KEY [--limit N] [--node URL]", "Prints every version of the key, deletions included, oldest first. Exit 1 if it was never written.")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 || pos[0] == "" || *limit <= 0 {
		fs.Usage()
		return 2
	}
	c, ok := newClient(*node, stderr, "history")
	if !ok {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	out := client.KVHistory{Key: pos[0], Versions: []*types.KVEntry{}}
	cursor := ""
	for len(out.Versions) < *limit {
		page, err := c.History(ctx, pos[0], cursor, min(1000, *limit-len(out.Versions)))
		if err != nil {
			return fail(stderr, "history", err)
		}
		out.Versions = append(out.Versions, page.Versions...)
		out.NextCursor = page.NextCursor
		if page.NextCursor == "" || len(page.Versions) == 0 {
			break
		}
		cursor = page.NextCursor
	}
	if out.NextCursor != "" {
		fmt.Fprintf(stderr, "cairn history: stopped at %d versions (--limit); more exist\n", len(out.Versions))
	}
	return printJSON(stdout, out)
}

func runAccount(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("account", flag.ContinueOnError)
	fs.SetOutput(stderr)
	node := nodeFlag(fs)
	keyFile := fs.String("key", "", "show the account of this key file instead of an ADDRESS")
	txs := fs.Int("txs", 0, "also list this many of the account's latest transactions (not with --prove)")
	height := fs.Uint64("height", 0, "read the account as of this height (default: latest)")
	prove := fs.Bool("prove", false, "fetch a state proof of the balance and nonce and verify it here against the certified header")
	genesis := fs.String("genesis", "", "with --prove: verify against the validators of this genesis file instead of the node's status")
	fs.Usage = usageFunc(fs, stderr, "cairn account ADDRESS|--key FILE [--height H] [--txs N | --prove [--genesis FILE]] [--node URL]",
		"Prints the account's committed balance and nonce. With --prove, exit 1 when the proof does not verify.")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	var addr crypto.Address
	switch {
	case len(pos) == 1 && *keyFile == "":
		if addr, err = crypto.ParseAddress(strings.ToLower(pos[0])); err != nil {
			fmt.Fprintf(stderr, "cairn account: %v\n", err)
			return 2
		}
	case len(pos) == 0 && *keyFile != "":
		k, err := crypto.LoadKey(*keyFile)
		if err != nil {
			fmt.Fprintln(stderr, "cairn account:", err)
			return 1
		}
		addr = k.Public().Address()
	default:
		fs.Usage()
		return 2
	}
	if *txs < 0 || *txs > 1000 {
		fmt.Fprintln(stderr, "cairn account: --txs must be 0..1000")
		return 2
	}
	if *prove && *txs != 0 {
		fmt.Fprintln(stderr, "cairn account: --txs cannot be proven; use it without --prove")
		return 2
	}
	c, ok := newClient(*node, stderr, "account")
	if !ok {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if *prove {
		return proveAccount(ctx, c, addr, *height, *genesis, stdout, stderr)
	}
	a, err := c.AccountAt(ctx, addr, *height)
	if err != nil {
		return fail(stderr, "account", err)
	}
	if *txs == 0 {
		return printJSON(stdout, a)
	}
	list, err := c.AccountTxs(ctx, addr, "", *txs)
	if ask := client.WrongNode(err); len(ask) > 0 {
		// The node does not keep the account index (a validator); ask
		// the node it names (a follower), once, and say so.
		fmt.Fprintf(stderr, "cairn account: %s does not index accounts; asking %s for --txs\n", nodeURL(*node), ask[0])
		if c, ok = newClient(ask[0], stderr, "account"); !ok {
			return 2
		}
		list, err = c.AccountTxs(ctx, addr, "", *txs)
	}
	if err != nil {
		return fail(stderr, "account", err)
	}
	return printJSON(stdout, struct {
		*client.Account
		Txs []client.TxSummary `json:"txs"`
	}{a, list.Txs})
}

// verifiedAccount is the output of `cairn account --prove`.
type verifiedAccount struct {
	Address  crypto.Address       `json:"address"`
	Height   uint64               `json:"height"`
	Found    bool                 `json:"found"`
	Balance  uint64               `json:"balance"`
	Nonce    uint64               `json:"nonce"`
	Verified bool                 `json:"verified"`
	Trusted  string               `json:"validators_from"`
	Proof    *client.AccountProof `json:"proof"`
}

// proveAccount fetches and verifies an account proof, and says what it
// proved: the balance and nonce at a certified height, or that the address
// holds nothing there.
func proveAccount(ctx context.Context, c *client.Client, addr crypto.Address, height uint64, genesis string, stdout, stderr io.Writer) int {
	p, err := c.AccountProof(ctx, addr, height)
	if err != nil {
		return fail(stderr, "account", err)
	}
	chainID, vals, from, err := trustedValidators(ctx, c, genesis, p.Height)
	if err != nil {
		return fail(stderr, "account", err)
	}
	err = p.Verify(chainID, vals)
	if err == nil && (p.Address != addr || (height != 0 && p.Height != height)) {
		err = fmt.Errorf("the answer is for %s at height %d, not what was asked", p.Address, p.Height)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cairn account: PROOF DOES NOT VERIFY: %v\n", err)
		return 1
	}
	what := fmt.Sprintf("account %s has balance %d and nonce %d (its state entry is proven present)", addr, p.Balance, p.Nonce)
	if !p.Found {
		what = fmt.Sprintf("account %s has no state entry (proven absent: balance 0, nonce 0, never seen)", addr)
	}
	fmt.Fprintf(stderr, "verified: %s at height %d; certificate checked against %d validators (quorum power %d) from %s\n",
		what, p.Height, vals.Len(), vals.Quorum(), from)
	return printJSON(stdout, verifiedAccount{Address: addr, Height: p.Height, Found: p.Found, Balance: p.Balance, Nonce: p.Nonce,
		Verified: true, Trusted: from, Proof: p})
}

func runBlock(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("block", flag.ContinueOnError)
	fs.SetOutput(stderr)
	node := nodeFlag(fs)
	verify := fs.Bool("verify", false, "audit the block here: header hash, tx and results roots, certificate")
	genesis := fs.String("genesis", "", "with --verify: trust the validators of this genesis file instead of the node's status")
	fs.Usage = usageFunc(fs, stderr, "cairn block HEIGHT|latest [--verify [--genesis FILE]] [--node URL]", "Prints the block with its header bytes, transactions, receipts and certificate.")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	var height uint64
	if pos[0] != "latest" {
		if height, err = strconv.ParseUint(pos[0], 10, 64); err != nil || height == 0 {
			fmt.Fprintf(stderr, "cairn block: height must be a positive integer or \"latest\", got %q\n", pos[0])
			return 2
		}
	}
	c, ok := newClient(*node, stderr, "block")
	if !ok {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var b *client.Block
	if height == 0 {
		b, err = c.LatestBlock(ctx)
	} else {
		b, err = c.Block(ctx, height)
	}
	if err != nil {
		return fail(stderr, "block", err)
	}
	if *verify {
		chainID, vals, from, err := trustedValidators(ctx, c, *genesis, b.Height)
		if err != nil {
			return fail(stderr, "block", err)
		}
		if err := b.Verify(chainID, vals); err != nil {
			return report(stderr, problem{Command: "block", Code: "proof_invalid", Message: fmt.Sprintf("BLOCK DOES NOT VERIFY: %v", err)})
		}
		if !outputJSON(stderr) {
			fmt.Fprintf(stderr, "verified: block %d (%s), %d txs, certificate checked against %d validators from %s\n", b.Height, b.Hash, len(b.Txs), vals.Len(), from)
		}
	}
	return printJSON(stdout, b)
}
