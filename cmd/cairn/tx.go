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

func init() {
	register("tx", "sign and send a transaction (transfer, put, delete, record), or show one (status)", runTx)
}

const txUsageLine = "cairn tx transfer|put|delete|record|role.grant|role.revoke|status ARGS [flags]"

const txAbout = `Forms:
  cairn tx transfer TO_ADDRESS AMOUNT  --key FILE [flags]
  cairn tx put KEY VALUE               --key FILE [--expect-version V] [flags]
  cairn tx delete KEY                  --key FILE [--expect-version V] [flags]
  cairn tx record JSON|@FILE|-         --key FILE [flags]
  cairn tx field.TYPE PAYLOAD|@FILE|-  --key FILE [flags]
      TYPE is open, close, close_unilateral, challenge or dispute; the payload
      is that type's JSON payload, carrying the members' signatures (as
      written by the cairn field commands)
  cairn tx role.grant ROLE ADDRESS     --key FILE [--approve FILE]... [flags]
  cairn tx role.revoke ROLE ADDRESS    --key FILE [--approve FILE]... [flags]
      governance: each --approve key (another governor) signs its approval;
      the chain needs governance_threshold distinct governors, the sender
      included if it is one (docs/security.md)
  cairn tx contract.TYPE PAYLOAD|@FILE|-  --key FILE [flags]
      TYPE is deploy, instantiate, invoke or upgrade; the payload is that
      type's JSON payload (docs/encoding.md 3.3); cairn contract deploy,
      instantiate and invoke build it for you
  cairn tx validator.update PAYLOAD|@FILE|- --key FILE [--approve FILE]... [flags]
      the validator set on a permissioned chain: the JSON payload of
      docs/encoding.md; cairn gov add-validator, remove-validator and
      set-power build it for you
  cairn tx blob.record PAYLOAD|@FILE|- --key FILE [flags]
      PAYLOAD is {"document": JSON, "blobs": [{"hash": HEX, "size": N}]},
      each blob uploaded first (PUT /v1/blobs; docs/scale-out.md)
  cairn tx validator.TYPE|stake.TYPE|evidence.submit PAYLOAD|@FILE|- --key FILE [flags]
      staking (docs/staking.md): the type's JSON payload; cairn validator
      and cairn stake build it for you
  cairn tx status HASH                 [--node URL]

Signs with --key, takes the nonce from the node's account endpoint (unless
--nonce) and the chain id from /v1/status (unless --chain-id), and submits.
--dry-run prints the signed transaction JSON and sends nothing. --wait waits
for the commit and exits 1 if the transaction failed (or is still pending at
--timeout). Prints JSON on stdout; exit 1 when the node refuses it.`

// optUint is a uint64 flag that knows whether it was set (expect-version 0
// means "must be absent", which differs from no expectation).
type optUint struct {
	v   uint64
	set bool
}

func (o *optUint) String() string {
	if !o.set {
		return ""
	}
	return strconv.FormatUint(o.v, 10)
}

func (o *optUint) Set(s string) error {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("want a non-negative integer")
	}
	o.v, o.set = v, true
	return nil
}

func (o *optUint) ptr() *uint64 {
	if !o.set {
		return nil
	}
	v := o.v
	return &v
}

// txOptions are the flags of the signing forms of cairn tx.
type txOptions struct {
	node, keyFile, chainID *string
	nonce, expect          optUint
	wait, dryRun           *bool
	timeout                *time.Duration
	approve                stringList
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

func txFlags(name string, stderr io.Writer) (*flag.FlagSet, *txOptions) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = usageFunc(fs, stderr, txUsageLine, txAbout)
	f := &txOptions{}
	f.node = nodeFlag(fs)
	f.keyFile = fs.String("key", "", "the sender's key `FILE` (required)")
	fs.Var(&f.nonce, "nonce", "nonce to sign with (default: the account's committed nonce + 1, from the node)")
	f.chainID = fs.String("chain-id", "", "chain id to sign for (default: from the node's /v1/status)")
	fs.Var(&f.expect, "expect-version", "put/delete: only apply if the key's live version is V (0: the key must be absent)")
	f.wait = fs.Bool("wait", false, "wait for the transaction to commit and print its receipt")
	f.timeout = fs.Duration("timeout", 10*time.Second, "with --wait: how long to wait, at most 60s")
	f.dryRun = fs.Bool("dry-run", false, "print the signed transaction JSON and send nothing")
	fs.Var(&f.approve, "approve", "governance (role.grant, role.revoke, validator.update): a governor's key `FILE` that approves (repeatable)")
	return fs, f
}

// check names what is wrong with the flags every transaction command
// needs: a key, and a wait of at most a minute; "" when nothing is.
func (f *txOptions) check() string {
	if *f.keyFile == "" {
		return "--key FILE is required"
	}
	if *f.timeout <= 0 || *f.timeout > 60*time.Second {
		return "--timeout must be in (0, 60s]"
	}
	return ""
}

func runTx(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fs, _ := txFlags("tx", stderr)
		fs.Usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	kind := args[0]
	if kind == "status" {
		return runTxStatus(args[1:], stdout, stderr)
	}
	fs, f := txFlags("tx "+kind, stderr)
	expect := &f.expect
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "cairn tx %s: %s\n", kind, fmt.Sprintf(format, a...))
		return 2
	}
	if msg := f.check(); msg != "" {
		return usageErr("%s", msg)
	}
	payload, code := buildPayload(kind, pos, expect.ptr(), stderr)
	if code != 0 {
		return code
	}
	return signAndSubmit("tx "+kind, f, payload, nil, stdout, stderr)
}

// signAndSubmit signs payload with the --key of f (nonce and chain id from
// the node unless given), then prints it (--dry-run), submits it, or
// submits and waits for its receipt (--wait): the common tail of every
// command that sends a transaction.
//
// wrap, if not nil, turns the result into what is printed (a command that
// knows more about its transaction adds it).
func signAndSubmit(cmd string, f *txOptions, payload types.Payload, wrap func(client.TxResult) any, stdout, stderr io.Writer) int {
	if wrap == nil {
		wrap = func(r client.TxResult) any { return r }
	}
	node, keyFile, chainID, wait, timeout, dryRun := f.node, f.keyFile, f.chainID, f.wait, f.timeout, f.dryRun
	nonce := &f.nonce
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "cairn %s: %s\n", cmd, fmt.Sprintf(format, a...))
		return 2
	}
	key, err := crypto.LoadKey(*keyFile)
	if err != nil {
		return fail(stderr, cmd, err)
	}
	c, ok := newClient(*node, stderr, strings.Fields(cmd)[0])
	if !ok {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout+*timeout)
	defer cancel()
	signer := c.NewSigner(key, *chainID)
	if nonce.set {
		if nonce.v == 0 {
			return usageErr("--nonce must be at least 1")
		}
		signer.SetNonce(nonce.v)
	}
	if len(f.approve) > 0 && types.Approvals(payload) == nil {
		return usageErr("--approve applies to governance transactions only (role.grant, role.revoke, validator.update)")
	}
	var approvers []*crypto.PrivateKey
	for _, file := range f.approve {
		k, err := crypto.LoadKey(file)
		if err != nil {
			return fail(stderr, cmd, err)
		}
		approvers = append(approvers, k)
	}
	var tx *types.Tx
	if types.Approvals(payload) != nil {
		tx, err = signer.SignApproved(ctx, payload, approvers...)
	} else {
		tx, err = signer.Sign(ctx, payload)
	}
	if err != nil {
		return fail(stderr, cmd, err)
	}
	if *dryRun {
		return printJSON(stdout, tx)
	}
	if !*wait {
		h, err := c.Submit(ctx, tx)
		if err != nil {
			return fail(stderr, cmd, err)
		}
		return printJSON(stdout, wrap(client.TxResult{Hash: h, Status: client.StatusPending}))
	}
	res, err := c.SubmitWait(ctx, tx, *timeout)
	if err != nil {
		return fail(stderr, cmd, err)
	}
	if code := printJSON(stdout, wrap(*res)); code != 0 {
		return code
	}
	switch res.Status {
	case client.StatusCommitted:
		return 0
	case client.StatusFailed:
		return reportFailedTx(stderr, cmd, res.Hash, res.Height, res.Receipt)
	default:
		h := res.Hash
		return report(stderr, problem{Command: cmd, Code: "pending", Tx: &h,
			Message: fmt.Sprintf("accepted but not committed within %s (status %s); check later with: cairn tx status %s", *timeout, res.Status, res.Hash)})
	}
}

// reportFailedTx reports a transaction that committed with a failed
// receipt: its code and reason.
func reportFailedTx(stderr io.Writer, cmd string, h crypto.Hash, height uint64, r *types.Receipt) int {
	code, reason := "failed", "no receipt"
	if r != nil {
		code, reason = string(r.Code), r.Reason
	}
	why := reason
	if !strings.HasPrefix(reason, code) {
		why = fmt.Sprintf("%s (%s)", reason, code)
	}
	return report(stderr, problem{Command: cmd, Code: code, Tx: &h, Height: height,
		Message: fmt.Sprintf("committed at height %d but FAILED: %s; it changed nothing", height, why)})
}

// buildPayload turns the positional arguments of `cairn tx KIND` into a
// payload, or returns a non-zero exit status after explaining why not.
func buildPayload(kind string, pos []string, expect *uint64, stderr io.Writer) (types.Payload, int) {
	bad := func(format string, a ...any) (types.Payload, int) {
		fmt.Fprintf(stderr, "cairn tx %s: %s\n\nusage: %s\n\n%s\n", kind, fmt.Sprintf(format, a...), txUsageLine, txAbout)
		return nil, 2
	}
	if expect != nil && kind != "put" && kind != "delete" {
		return bad("--expect-version applies to put and delete only")
	}
	switch kind {
	case "transfer":
		if len(pos) != 2 {
			return bad("want TO_ADDRESS AMOUNT")
		}
		to, err := crypto.ParseAddress(strings.ToLower(pos[0]))
		if err != nil {
			return bad("%v", err)
		}
		amt, err := strconv.ParseUint(pos[1], 10, 64)
		if err != nil || amt == 0 {
			return bad("AMOUNT must be a positive integer, got %q", pos[1])
		}
		return &types.Transfer{To: to, Amount: amt}, 0
	case "put":
		if len(pos) != 2 {
			return bad("want KEY VALUE")
		}
		return &types.KVPut{Key: pos[0], Value: pos[1], ExpectVersion: expect}, 0
	case "delete":
		if len(pos) != 1 {
			return bad("want KEY")
		}
		return &types.KVDelete{Key: pos[0], ExpectVersion: expect}, 0
	case "role.grant", "role.revoke":
		if len(pos) != 2 {
			return bad("want ROLE ADDRESS")
		}
		if err := types.CheckRoleName(pos[0]); err != nil {
			return bad("%v", err)
		}
		a, err := crypto.ParseAddress(strings.ToLower(pos[1]))
		if err != nil {
			return bad("%v", err)
		}
		c := types.RoleChange{Role: pos[0], Address: a, Approvals: []types.Approval{}}
		if kind == "role.grant" {
			return &types.RoleGrant{RoleChange: c}, 0
		}
		return &types.RoleRevoke{RoleChange: c}, 0
	case "field.open", "field.close", "field.close_unilateral", "field.challenge", "field.dispute",
		"contract.deploy", "contract.instantiate", "contract.invoke", "contract.upgrade", "blob.record", "validator.update",
		"validator.register", "stake.delegate", "stake.undelegate", "stake.vote", "validator.unjail", "evidence.submit":
		if len(pos) != 1 {
			return bad("want one JSON payload (inline, @FILE, or - for stdin)")
		}
		doc, err := readArg(pos[0])
		if err != nil {
			fmt.Fprintf(stderr, "cairn tx %s: %v\n", kind, err)
			return nil, 1
		}
		p, err := types.ParsePayloadJSON(kind, doc)
		if err != nil {
			return bad("%v", err)
		}
		return p, 0
	case "record":
		if len(pos) != 1 {
			return bad("want one JSON document (inline, @FILE, or - for stdin)")
		}
		doc, err := readArg(pos[0])
		if err != nil {
			fmt.Fprintf(stderr, "cairn tx record: %v\n", err)
			return nil, 1
		}
		c, err := types.CanonicalJSON(doc)
		if err != nil {
			return bad("document: %v", err)
		}
		return &types.Record{Document: c}, 0
	}
	for _, k := range []string{"transfer", "put", "delete", "record", "status"} {
		if editDistance(kind, k) <= 2 {
			return bad("unknown transaction type %q; did you mean %s?", kind, k)
		}
	}
	return bad("unknown transaction type %q", kind)
}

func runTxStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tx status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	node := nodeFlag(fs)
	genesis := fs.String("genesis", "", "verify against the validators of this genesis file instead of the node's status")
	fs.Usage = usageFunc(fs, stderr, "cairn tx status HASH [--genesis FILE] [--node URL]",
		"Prints the transaction's status, receipt and proofs. A committed or failed transaction is verified against its block's certified header "+
			"(certificate, tx inclusion, receipt inclusion under results_root), and its outcome read from the proven receipt. Exit 1 unless it committed successfully.")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	h, err := crypto.ParseHash(strings.ToLower(pos[0]))
	if err != nil {
		fmt.Fprintln(stderr, "cairn tx status:", err)
		return 2
	}
	c, ok := newClient(*node, stderr, "tx status")
	if !ok {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	st, err := c.TxProof(ctx, h)
	if client.IsNotFound(err) {
		st, err = &client.TxStatus{Hash: h, Status: client.StatusUnknown}, nil
	}
	if err != nil {
		return fail(stderr, "tx status", err)
	}
	if st.Status == client.StatusCommitted || st.Status == client.StatusFailed {
		chainID, vals, from, err := trustedValidators(ctx, c, *genesis, st.Height)
		if err != nil {
			return fail(stderr, "tx status", err)
		}
		// Verify reads the outcome from the receipt bytes proven under the
		// certified results_root, and refuses JSON copies that disagree.
		if err := st.Verify(chainID, vals); err != nil {
			return report(stderr, problem{Command: "tx status", Code: "proof_invalid", Tx: &h, Message: fmt.Sprintf("PROOF DOES NOT VERIFY: %v", err)})
		}
		if !outputJSON(stderr) {
			outcome := "ok"
			if st.Status == client.StatusFailed {
				outcome = "failed with " + string(st.Receipt.Code)
			}
			fmt.Fprintf(stderr, "verified: tx %s committed at height %d, position %d, and %s (tx inclusion under tx_root and receipt inclusion under results_root of the certified header); certificate checked against %d validators (quorum power %d) from %s\n",
				h, st.Height, *st.Index, outcome, vals.Len(), vals.Quorum(), from)
		}
	}
	if code := printJSON(stdout, st); code != 0 {
		return code
	}
	switch st.Status {
	case client.StatusCommitted:
		return 0
	case client.StatusFailed:
		return reportFailedTx(stderr, "tx status", st.Hash, st.Height, st.Receipt)
	default:
		what := "accepted, not in a block yet"
		if st.Status == client.StatusUnknown {
			what = "this node has not seen the transaction"
		}
		return report(stderr, problem{Command: "tx status", Code: st.Status, Tx: &h, Message: st.Status + ": " + what + " (only a committed transaction has a proof)"})
	}
}

// readArg reads an argument given inline, as @FILE, or as - for stdin.
func readArg(a string) ([]byte, error) {
	switch {
	case a == "-":
		return io.ReadAll(io.LimitReader(os.Stdin, types.MaxTxBytesHard+1))
	case strings.HasPrefix(a, "@"):
		return os.ReadFile(a[1:])
	}
	return []byte(a), nil
}
