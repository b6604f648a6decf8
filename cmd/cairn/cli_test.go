package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/devnet"
	"github.com/cairn-db/cairn/types"
)

// Every command answers -h, --help and `cairn help CMD` the same way: its
// usage on stdout, nothing on stderr, exit 0, in one style.
func TestHelpEveryCommand(t *testing.T) {
	topics := commandNames()
	topics = append(topics, "tx put", "tx status", "devnet stop-node", "devnet start-node", "devnet nodes")
	goStyleFlag := regexp.MustCompile(`(?m)^  -[a-z]`) // the flag package's default "  -name"
	for _, topic := range topics {
		words := strings.Fields(topic)
		var first string
		for i, args := range [][]string{
			append([]string{"help"}, words...),
			append(append([]string{}, words...), "--help"),
			append(append([]string{}, words...), "-h"),
		} {
			code, stdout, stderr := run(t, args...)
			if code != 0 || stderr != "" {
				t.Errorf("%q: exit %d, stderr %q; want 0 and nothing on stderr", args, code, stderr)
				continue
			}
			if !strings.HasPrefix(stdout, "usage: cairn "+words[0]) {
				t.Errorf("%q: usage does not start with %q:\n%s", args, "usage: cairn "+words[0], stdout)
			}
			if goStyleFlag.MatchString(stdout) {
				t.Errorf("%q: flags in a second style (-name instead of --name):\n%s", args, stdout)
			}
			for _, line := range strings.Split(stdout, "\n") {
				if strings.Count(line, "default") > 1 {
					t.Errorf("%q: default printed twice: %q", args, line)
				}
			}
			if i == 0 {
				first = stdout
			} else if stdout != first {
				t.Errorf("%q: differs from `cairn help %s`", args, topic)
			}
		}
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, stdout, stderr := run(t, args...)
		if code != 0 || stderr != "" || !strings.Contains(stdout, "commands:") || !strings.Contains(stdout, "--output") {
			t.Errorf("%q: exit %d, stderr %q, stdout:\n%s", args, code, stderr, stdout)
		}
	}
	// No command at all is a usage error: the list on stderr, exit 2.
	if code, stdout, stderr := run(t); code != 2 || stdout != "" || !strings.Contains(stderr, "commands:") {
		t.Errorf("no command: exit %d, stdout %q", code, stdout)
	}
	// A usage error prints the same text on stderr and exits 2.
	code, stdout, stderr := run(t, "get")
	_, help, _ := run(t, "help", "get")
	if code != 2 || stdout != "" || stderr != help {
		t.Errorf("usage error: exit %d, stderr %q", code, stderr)
	}
}

func TestUnknownCommandSuggestsNearest(t *testing.T) {
	for typo, want := range map[string]string{"stauts": "status", "statu": "status", "blok": "block", "verfiy": "verify", "serach": "search", "devent": "devnet", "histroy": "history"} {
		code, stdout, stderr := run(t, typo)
		if code != 2 || stdout != "" || !strings.Contains(stderr, "did you mean "+want+"?") {
			t.Errorf("%s: exit %d, stderr %q; want a suggestion of %s", typo, code, stderr, want)
		}
	}
	code, _, stderr := run(t, "xyzzy")
	if code != 2 || strings.Contains(stderr, "did you mean") || !strings.Contains(stderr, "commands:") {
		t.Errorf("far from every command: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := run(t, "tx", "trasnfer", "x", "1", "--key", "k"); code != 2 || !strings.Contains(stderr, `unknown transaction type "trasnfer"; did you mean transfer?`) {
		t.Errorf("tx trasnfer: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := run(t, "help", "stauts"); code != 2 || !strings.Contains(stderr, "did you mean status?") {
		t.Errorf("help of a typo: exit %d, stderr %q", code, stderr)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, stdout, stderr := run(t, args...)
		if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "cairn ") || !strings.Contains(stdout, "commit ") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/cairn-db/cairn", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := describeBuild(bi, "", ""), "cairn v1.2.3 (commit 0123abcd, modified, 2026-12-01T10:00:00Z, go1.26.8)"; got != want {
		t.Errorf("from build info: %q, want %q", got, want)
	}
	// -ldflags -X main.version=... -X main.commit=... win over build info.
	if got, want := describeBuild(bi, "v9.9.9", "feedface"), "cairn v9.9.9 (commit feedface, modified, 2026-12-01T10:00:00Z, go1.26.8)"; got != want {
		t.Errorf("link-time override: %q, want %q", got, want)
	}
	if got, want := describeBuild(&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "", ""), "cairn (devel) (commit unknown, go1.26.8)"; got != want {
		t.Errorf("no VCS information: %q, want %q", got, want)
	}
}

// closedPort returns a 127.0.0.1 port nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestUnreachableNodeIsOneLine(t *testing.T) {
	addr := closedPort(t)
	for _, node := range []string{"http://" + addr, addr} {
		for _, cmd := range [][]string{{"status"}, {"get", "k"}, {"block", "latest"}, {"search", "x"}} {
			code, stdout, stderr := run(t, append(cmd, "--node", node)...)
			want := "cairn " + cmd[0] + ": cannot reach the node at http://" + addr + " (connection refused); is the devnet running (cairn devnet)?"
			if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, want) {
				t.Errorf("%v --node %s: exit %d, stderr %q; want one line starting %q", cmd, node, code, stderr, want)
			}
			if strings.Contains(stderr, "dial tcp") || strings.Contains(stderr, "/v1/") {
				t.Errorf("%v: wrapped error chain in %q", cmd, stderr)
			}
		}
	}
	// bench reaches every node of a network.json.
	_, port, _ := net.SplitHostPort(addr)
	pn, _ := strconv.Atoi(port)
	dir := filepath.Join(t.TempDir(), "net")
	if _, err := devnet.InitNetwork(dir, devnet.Options{Validators: 1, APIPort: pn, P2PPort: pn}); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "bench", "--network", dir, "--duration", "1s", "--quiet")
	if want := "cairn bench: cannot reach the node at http://" + addr + " (connection refused); is the devnet running (cairn devnet)? Otherwise pass --network FILE\n"; code != 1 || stderr != want {
		t.Errorf("bench: exit %d, stderr %q, want %q", code, stderr, want)
	}

	code, _, stderr = run(t, "status", "--node", addr, "--output", "json")
	var p struct{ Error problem }
	if err := json.Unmarshal([]byte(stderr), &p); code != 1 || err != nil || p.Error.Code != "unreachable" || p.Error.Node != "http://"+addr || p.Error.Command != "status" {
		t.Errorf("--output json: exit %d, stderr %q (%v)", code, stderr, err)
	}
}

func TestNodeWithoutScheme(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	hostport := strings.TrimPrefix(c.URL, "http://")
	code, stdout, stderr := run(t, "status", "--node", hostport)
	var st client.Status
	decode(t, stdout, &st)
	if code != 0 || st.ChainID != apitest.ChainID {
		t.Fatalf("status --node %s: exit %d, %s", hostport, code, stderr)
	}
	t.Setenv("CAIRN_NODE", hostport)
	if code, _, stderr := run(t, "status"); code != 0 {
		t.Fatalf("CAIRN_NODE=%s: exit %d, %s", hostport, code, stderr)
	}
}

func TestNotAKeyFile(t *testing.T) {
	dir := t.TempDir()
	notKey := filepath.Join(dir, "tx.json")
	os.WriteFile(notKey, []byte(`{"chain_id": "cairn-devnet", "nonce": 1}`), 0o600)
	garbage := filepath.Join(dir, "notes.txt")
	os.WriteFile(garbage, []byte("hello\n"), 0o600)
	node := "--node=" + closedPort(t) // the key is read before the node is asked
	for _, f := range []string{notKey, garbage} {
		for _, args := range [][]string{
			{"tx", "put", "k", "v", "--key", f, node},
			{"account", "--key", f, node},
		} {
			code, _, stderr := run(t, args...)
			if code != 1 || !strings.Contains(stderr, f+" is not a Cairn key file") || strings.Count(stderr, "\n") != 1 {
				t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
			}
		}
	}
	code, _, stderr := run(t, "tx", "put", "k", "v", "--key", garbage, node, "--output=json")
	var p struct{ Error problem }
	if err := json.Unmarshal([]byte(stderr), &p); code != 1 || err != nil || p.Error.Code != "invalid" || !strings.Contains(p.Error.Message, "is not a Cairn key file") {
		t.Errorf("--output json: exit %d, stderr %q", code, stderr)
	}
}

// Refusals and failed transactions are machine-readable with --output
// json; tx status of a failed transaction names its receipt's reason.
func TestFailuresMachineReadable(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	alice, bob := c.Users[0], c.Users[1]
	akey := keyFile(t, alice)
	node := "--node=" + c.URL
	var p struct{ Error problem }

	// A refusal (admission): one JSON object on stderr with the API code.
	code, stdout, stderr := run(t, "--output", "json", "tx", "transfer", bob.Public().Address().String(), "999999999999", "--key", akey, node)
	if err := json.Unmarshal([]byte(stderr), &p); code != 1 || stdout != "" || err != nil ||
		p.Error.Code != "insufficient_balance" || p.Error.HTTPStatus != 422 || p.Error.Command != "tx transfer" {
		t.Fatalf("refusal as JSON: exit %d, stderr %q (%v)", code, stderr, err)
	}
	// The same in text: one line.
	code, _, stderr = run(t, "tx", "transfer", bob.Public().Address().String(), "999999999999", "--key", akey, node)
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "(422 insufficient_balance)") {
		t.Fatalf("refusal as text: exit %d, stderr %q", code, stderr)
	}

	// A transaction that commits but fails.
	code, stdout, stderr = run(t, "tx", "put", "voucher", "x", "--expect-version", "3", "--key", akey, node, "--wait", "--output", "json")
	var res client.TxResult
	decode(t, stdout, &res)
	if err := json.Unmarshal([]byte(stderr), &p); code != 1 || err != nil || res.Status != client.StatusFailed ||
		p.Error.Code != string(types.CodeVersionConflict) || p.Error.Tx == nil || *p.Error.Tx != res.Hash || p.Error.Height != res.Height {
		t.Fatalf("failed tx as JSON: exit %d, %+v, stderr %q", code, res, stderr)
	}
	// tx status prints its receipt (stdout) and the reason (stderr).
	code, stdout, stderr = run(t, "tx", "status", res.Hash.String(), node)
	var ts client.TxStatus
	decode(t, stdout, &ts)
	if code != 1 || ts.Status != client.StatusFailed || ts.Receipt == nil || ts.Receipt.Reason == "" {
		t.Fatalf("tx status of a failed tx: exit %d, %+v", code, ts)
	}
	want := "cairn tx status: committed at height " + strconv.FormatUint(ts.Height, 10) + " but FAILED: " + ts.Receipt.Reason + "; it changed nothing\n"
	if !strings.HasPrefix(ts.Receipt.Reason, "version_conflict: ") {
		t.Fatalf("reason %q does not start with its code", ts.Receipt.Reason)
	}
	// First what was verified (the outcome is proven), then the failure.
	if !strings.HasPrefix(stderr, "verified: tx "+res.Hash.String()+" committed at height ") || !strings.HasSuffix(stderr, "\n"+want) || strings.Count(stderr, "\n") != 2 {
		t.Fatalf("tx status of a failed tx: stderr %q, want a verified line and %q", stderr, want)
	}
	code, _, stderr = run(t, "tx", "status", res.Hash.String(), node, "--output=json")
	if err := json.Unmarshal([]byte(stderr), &p); code != 1 || err != nil || p.Error.Code != "version_conflict" || !strings.Contains(p.Error.Message, ts.Receipt.Reason) {
		t.Fatalf("tx status --output json: exit %d, stderr %q", code, stderr)
	}
	// A proof checked against another chain's validators: proof_invalid,
	// and nothing but the JSON object on stderr.
	other := *c.Genesis
	other.ChainID = "someone-else"
	gpath := filepath.Join(t.TempDir(), "genesis.json")
	gb, _ := json.Marshal(&other)
	os.WriteFile(gpath, gb, 0o644)
	code, _, stderr = run(t, "get", "voucher", "--prove", "--genesis", gpath, node, "--output", "json")
	if err := json.Unmarshal([]byte(stderr), &p); code != 1 || err != nil || p.Error.Code != "proof_invalid" || !strings.Contains(p.Error.Message, "DOES NOT VERIFY") {
		t.Fatalf("get --prove against another chain, --output json: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = run(t, "block", "latest", "--verify", "--genesis", gpath, node, "--output", "json")
	if err := json.Unmarshal([]byte(stderr), &p); code != 1 || err != nil || p.Error.Code != "proof_invalid" {
		t.Fatalf("block --verify against another chain, --output json: exit %d, stderr %q", code, stderr)
	}
	// A verified absence: not_found, with the verified explanation.
	code, stdout, stderr = run(t, "get", "voucher", "--prove", node, "--output", "json")
	var pv verifiedGet
	decode(t, stdout, &pv)
	if err := json.Unmarshal([]byte(stderr), &p); code != 1 || err != nil || !pv.Verified || p.Error.Code != "not_found" || !strings.Contains(p.Error.Message, "verified:") {
		t.Fatalf("get --prove of an absent key, --output json: exit %d, stderr %q", code, stderr)
	}

	// A bad --output is a usage error.
	if code, _, stderr = run(t, "status", "--output", "yaml", node); code != 2 || !strings.Contains(stderr, "want json or text") {
		t.Fatalf("--output yaml: exit %d, %q", code, stderr)
	}
}

// fakeTerminal is a stdout that says it is a terminal.
type fakeTerminal struct{ bytes.Buffer }

func (*fakeTerminal) IsTerminal() bool { return true }

func TestSearchHighlights(t *testing.T) {
	c := apitest.New(t, apitest.Options{Search: true})
	alice := c.Users[0]
	r, err := c.Client().SubmitWait(context.Background(), apitest.Tx(alice, 1, &types.KVPut{Key: "fruit", Value: "ripe apples & <pears>"}), 5*time.Second)
	if err != nil || r.Status != client.StatusCommitted {
		t.Fatalf("setup: %+v %v", r, err)
	}
	c.WaitIndexed()
	node := "--node=" + c.URL

	// Piped: the API's HTML markers, never JSON's \u003c escapes.
	code, stdout, stderr := run(t, "search", "apples", node)
	if code != 0 || !strings.Contains(stdout, "<mark>apples</mark>") || strings.Contains(stdout, `\u003c`) || strings.Contains(stdout, "\x1b[") {
		t.Fatalf("piped: exit %d, %s %s", code, stdout, stderr)
	}
	// On a terminal: bold underline, text unescaped, no markers.
	var term fakeTerminal
	var errb bytes.Buffer
	if code := dispatch([]string{"search", "apples", node}, &term, &errb); code != 0 {
		t.Fatalf("terminal: exit %d, %s", code, errb.String())
	}
	out := term.String()
	if !strings.Contains(out, "\x1b[1;4mapples\x1b[0m & <pears>") || strings.Contains(out, "<mark>") || strings.Contains(out, `\u003c`) {
		t.Fatalf("terminal: %q", out)
	}
	// --output json keeps the markers even on a terminal.
	term.Reset()
	if code := dispatch([]string{"search", "apples", node, "--output", "json"}, &term, &errb); code != 0 || !strings.Contains(term.String(), "<mark>apples</mark>") {
		t.Fatalf("terminal with --output json: exit %d, %q", code, term.String())
	}
}

// Output is printed without JSON's HTML escapes (search snippets show
// <mark>); a signed transaction keeps its canonical JSON, so one with <, >
// and & in it still decodes, verifies and commits.
func TestDryRunWithHTMLCharacters(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	akey := keyFile(t, c.Users[0])
	node := "--node=" + c.URL
	for _, args := range [][]string{
		{"tx", "put", "a<b>&c", "<i>&amp;", "--nonce=1"},
		{"tx", "record", `{"html": "<p>&</p>"}`, "--nonce=2"},
	} {
		code, stdout, stderr := run(t, append(args, "--key", akey, node, "--dry-run")...)
		if code != 0 {
			t.Fatalf("%v: exit %d, %s %s", args, code, stdout, stderr)
		}
		var tx types.Tx
		decode(t, stdout, &tx)
		if err := tx.VerifySignature(); err != nil {
			t.Fatalf("%v: printed tx does not verify: %v", args, err)
		}
		r, err := c.Client().SubmitWait(context.Background(), &tx, 5*time.Second)
		if err != nil || r.Status != client.StatusCommitted {
			t.Fatalf("%v: %+v %v", args, r, err)
		}
	}
}
