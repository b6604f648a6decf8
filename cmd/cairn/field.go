package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/field"
	"github.com/cairn-db/cairn/types"
)

func init() {
	register("field", "payment fields: serve a member, open, pay, checkpoint, close, close-unilateral, challenge, dispute, status", runField)
}

const fieldUsage = `usage: cairn field serve|open|pay|checkpoint|close|close-unilateral|challenge|dispute|status [flags]

Forms:
  cairn field serve   --key FILE --dir DIR --listen HOST:PORT --peers FILE [--max-deposit N]
  cairn field open    --node URL --key FILE --chain URL --members KEY:DEPOSIT,... [--period N] [--expiry H|+N] [--penalty N] [--id HEX]
  cairn field pay     --node URL --key FILE --to INDEX --amount N [--count N] [--batch N]
  cairn field checkpoint --node URL --key FILE
  cairn field close   --node URL --key FILE --chain URL
  cairn field close-unilateral|challenge --node URL --key FILE --chain URL
  cairn field dispute --node URL --key FILE --chain URL --state N
  cairn field status  --node URL --key FILE      (this member's copy)
  cairn field status  --chain URL FIELD_ID       (the chain's entry, proof verified)

serve runs a member's node: the member channel (HTTP with signed messages)
and the control API the other commands use, on --listen; its store is
DIR/field.log (fsynced before anything is acknowledged). --peers is a JSON
object mapping each other member's public key to its node's URL; the node
joins a field only when its leader is one of them and the deposit asked of
this member is at most --max-deposit (default 0). --node is
the member's own node; --key the member's key (it signs control requests and
the transactions sent to --chain). Members are listed by public key, the
leader (--key) among them; --expiry +N is N blocks after the chain's head.
Prints JSON on stdout.`

func runField(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, fieldUsage)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, fieldUsage) // main's commandHelp passes stdout here
		return 0
	}
	sub := args[0]
	fs := flag.NewFlagSet("field "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, fieldUsage+"\n\nflags:"); fs.PrintDefaults() }
	keyFile := fs.String("key", "", "the member's key file")
	nodeURL := fs.String("node", "", "the member's own field node URL")
	chainURL := fs.String("chain", "", "a Cairn node API URL")
	dir := fs.String("dir", "", "serve: the store directory")
	listen := fs.String("listen", "", "serve: address to listen on")
	peersFile := fs.String("peers", "", "serve: JSON file of member public key -> node URL")
	maxDeposit := fs.Uint64("max-deposit", 0, "serve: join fields led by a member in --peers asking at most this deposit of me")
	members := fs.String("members", "", "open: KEY:DEPOSIT,... in member order")
	period := fs.Uint64("period", 20, "open: challenge period in blocks")
	expiry := fs.String("expiry", "+10000", "open: expiry height, or +N blocks after the head")
	penalty := fs.Uint64("penalty", 0, "open: penalty for a stale or wrong close")
	idHex := fs.String("id", "", "open: field id (64 hex; default random)")
	to := fs.Uint("to", 0, "pay: payee member index")
	amount := fs.Uint64("amount", 0, "pay: amount of each payment")
	count := fs.Int("count", 1, "pay: number of payments")
	batch := fs.Int("batch", 1000, "pay: payments per request to the leader")
	state := fs.Uint64("state", 0, "dispute: the pending state whose last payment to prove")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for a transaction's commit")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "cairn field %s: %s\n\n%s\n", sub, fmt.Sprintf(format, a...), fieldUsage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := "field " + sub

	if sub == "status" && *chainURL != "" {
		if len(pos) != 1 {
			return bad("want FIELD_ID")
		}
		id, err := crypto.ParseHash(strings.ToLower(pos[0]))
		if err != nil {
			return bad("%v", err)
		}
		cl, ok := newClient(*chainURL, stderr, cmd)
		if !ok {
			return 1
		}
		fsState, err := cl.Field(ctx, id, 0)
		if err != nil {
			return fail(stderr, cmd, err)
		}
		st, err := cl.Status(ctx)
		if err != nil {
			return fail(stderr, cmd, err)
		}
		vals, err := types.NewValidatorSet(st.Validators)
		if err != nil {
			return fail(stderr, cmd, err)
		}
		if err := fsState.Verify(st.ChainID, vals); err != nil {
			return fail(stderr, cmd, fmt.Errorf("the node's answer does not verify: %w", err))
		}
		return printJSON(stdout, fsState)
	}
	if len(pos) != 0 {
		return bad("unexpected arguments %v", pos)
	}
	if *keyFile == "" {
		return bad("--key is required")
	}
	key, err := crypto.LoadKey(*keyFile)
	if err != nil {
		return fail(stderr, cmd, err)
	}
	if sub == "serve" {
		if *dir == "" || *listen == "" || *peersFile == "" {
			return bad("--dir, --listen and --peers are required")
		}
		return serveField(ctx, key, *dir, *listen, *peersFile, *maxDeposit, stdout, stderr)
	}
	if *nodeURL == "" {
		return bad("--node is required")
	}
	ctl := field.NewControl(strings.TrimRight(*nodeURL, "/"), key)
	// chain connects to --chain and reads its status; code != 0 ends the
	// command with that exit code (the failure already reported).
	chain := func() (cl *client.Client, st *client.Status, code int) {
		cl, ok := newClient(*chainURL, stderr, cmd)
		if !ok {
			return nil, nil, 1
		}
		st, err := cl.Status(ctx)
		if err != nil {
			return nil, nil, fail(stderr, cmd, err)
		}
		return cl, st, 0
	}
	submit := func(p types.Payload) int {
		if *chainURL == "" {
			return bad("--chain is required")
		}
		cl, st, code := chain()
		if code != 0 {
			return code
		}
		r, err := field.Submit(ctx, cl, st.ChainID, key, p, *timeout)
		if err != nil {
			return fail(stderr, cmd, err)
		}
		return printJSON(stdout, r)
	}
	switch sub {
	case "open":
		if *chainURL == "" || *members == "" {
			return bad("--chain and --members are required")
		}
		_, st, code := chain()
		if code != 0 {
			return code
		}
		terms := types.FieldTerms{Leader: key.Public(), ChallengePeriod: *period, Penalty: *penalty}
		if terms.Expiry, err = parseExpiry(*expiry, st.Height); err != nil {
			return bad("--expiry: %v", err)
		}
		if terms.Members, err = parseMembers(*members); err != nil {
			return bad("--members: %v", err)
		}
		if *idHex != "" {
			if terms.FieldID, err = crypto.ParseHash(strings.ToLower(*idHex)); err != nil {
				return bad("--id: %v", err)
			}
		} else if _, err := rand.Read(terms.FieldID[:]); err != nil {
			return fail(stderr, cmd, err)
		}
		open, err := ctl.Create(ctx, st.ChainID, terms)
		if err != nil {
			return fail(stderr, cmd, err)
		}
		return submit(open)
	case "pay":
		if *amount == 0 || *count < 1 || *batch < 1 {
			return bad("--amount, --count and --batch must be positive")
		}
		first, last := uint64(0), uint64(0)
		start := time.Now()
		for done := 0; done < *count; {
			m := min(*batch, *count-done)
			amounts := make([]uint64, m)
			for i := range amounts {
				amounts[i] = *amount
			}
			res, err := ctl.Pay(ctx, uint16(*to), amounts)
			if err != nil {
				return fail(stderr, cmd, err)
			}
			for i, r := range res {
				if r.Err != "" {
					return fail(stderr, cmd, fmt.Errorf("payment %d refused: %s", done+i+1, r.Err))
				}
				if first == 0 {
					first = r.Seq
				}
				last = r.Seq
			}
			done += m
		}
		el := time.Since(start)
		return printJSON(stdout, map[string]any{"payments": *count, "first_seq": first, "last_seq": last,
			"seconds": el.Seconds(), "payments_per_second": float64(*count) / el.Seconds()})
	case "checkpoint":
		c, err := ctl.Checkpoint(ctx)
		if err != nil {
			return fail(stderr, cmd, err)
		}
		return printJSON(stdout, c)
	case "close":
		c, err := ctl.Close(ctx)
		if err != nil {
			return fail(stderr, cmd, err)
		}
		return submit(c)
	case "close-unilateral", "challenge", "dispute":
		kind := strings.ReplaceAll(sub, "-", "_")
		p, err := ctl.Payload(ctx, kind, *state)
		if err != nil {
			return fail(stderr, cmd, err)
		}
		return submit(p)
	case "status":
		s, err := ctl.Status(ctx)
		if err != nil {
			return fail(stderr, cmd, err)
		}
		return printJSON(stdout, s)
	}
	return bad("unknown subcommand %q", sub)
}

func parseExpiry(s string, head uint64) (uint64, error) {
	rel := strings.HasPrefix(s, "+")
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("want a height or +N, got %q", s)
	}
	if rel {
		return head + v, nil
	}
	return v, nil
}

func parseMembers(s string) ([]types.FieldMember, error) {
	var out []types.FieldMember
	for _, part := range strings.Split(s, ",") {
		k, d, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("want KEY:DEPOSIT, got %q", part)
		}
		pk, err := crypto.ParsePublicKey(strings.ToLower(k))
		if err != nil {
			return nil, err
		}
		dep, err := strconv.ParseUint(d, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("deposit %q: %v", d, err)
		}
		out = append(out, types.FieldMember{Key: pk, Deposit: dep})
	}
	return out, nil
}

func serveField(ctx context.Context, key *crypto.PrivateKey, dir, listen, peersFile string, maxDeposit uint64, stdout, stderr io.Writer) int {
	const cmd = "field serve"
	raw, err := os.ReadFile(peersFile)
	if err != nil {
		return fail(stderr, cmd, err)
	}
	var byHex map[string]string
	if err := json.Unmarshal(raw, &byHex); err != nil {
		return fail(stderr, cmd, fmt.Errorf("%s: %w", peersFile, err))
	}
	peers := map[crypto.PublicKey]string{}
	for k, u := range byHex {
		pk, err := crypto.ParsePublicKey(strings.ToLower(k))
		if err != nil {
			return fail(stderr, cmd, fmt.Errorf("%s: %w", peersFile, err))
		}
		peers[pk] = strings.TrimRight(u, "/")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(stderr, cmd, err)
	}
	leaders := map[crypto.PublicKey]bool{}
	for k := range peers {
		leaders[k] = true
	}
	nd, err := field.NewNode(field.Config{Key: key, Dir: dir, Peers: peers, Accept: field.AcceptUpTo(key.Public(), leaders, maxDeposit)})
	if err != nil {
		return fail(stderr, cmd, err)
	}
	defer nd.Close()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fail(stderr, cmd, err)
	}
	srv := &http.Server{Handler: nd.Handler(), ReadHeaderTimeout: 10 * time.Second}
	printJSON(stdout, map[string]string{"key": key.Public().String(), "listen": "http://" + ln.Addr().String(), "dir": dir})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return 0
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return 0
		}
		return fail(stderr, cmd, err)
	}
}
