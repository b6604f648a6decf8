package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/devnet"
	"github.com/cairn-db/cairn/types"
)

// buildCairn builds this command with a link-time version and commit.
func buildCairn(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and runs a 4-validator devnet; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "cairn")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version=v0.0.0-test -X main.commit=c0ffee", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is a running `cairn devnet` with its merged output.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
}

func startDevnet(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, append([]string{"devnet"}, args...)...), done: make(chan struct{})}
	r, w := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	go func() { _ = p.cmd.Wait(); w.Close(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-p.done:
			case <-time.After(30 * time.Second):
				_ = p.cmd.Process.Kill()
			}
		}
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until the output contains s.
func (p *proc) waitFor(t *testing.T, s string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if out := p.output(); strings.Contains(out, s) {
			return out
		}
		select {
		case <-p.done:
			if out := p.output(); strings.Contains(out, s) {
				return out
			}
			t.Fatalf("devnet exited before printing %q:\n%s", s, p.output())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("devnet did not print %q within %s:\n%s", s, timeout, p.output())
	return ""
}

// stop sends Ctrl-C and returns the exit code.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("devnet did not stop on SIGINT:\n%s", p.output())
	}
	return p.cmd.ProcessState.ExitCode()
}

func runBin(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, out.String(), errb.String()
}

// commitPut submits a put signed by the faucet at one node and waits for it.
func commitPut(t *testing.T, api string, key *crypto.PrivateKey, k string) *client.TxResult {
	t.Helper()
	c, err := client.New(api)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := c.NewSigner(key, "").Sign(ctx, &types.KVPut{Key: k, Value: "v"})
	if err != nil {
		t.Fatalf("sign at %s: %v", api, err)
	}
	r, err := c.SubmitWait(ctx, tx, 20*time.Second)
	if err != nil || r.Status != client.StatusCommitted {
		t.Fatalf("put %s at %s: %+v %v", k, api, r, err)
	}
	return r
}

func height(t *testing.T, api string) (uint64, error) {
	c, err := client.New(api)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		return 0, err
	}
	return st.Height, nil
}

// The devnet on real processes: ready and next steps, one validator
// stopped (on request, then by kill -9) is reported while the other three
// keep committing (f = 1), start-node brings it back and it catches up;
// later runs move the network to other ports and --reset starts a new
// chain. Ports 22100-22139.
func TestDevnetSupervisesValidators(t *testing.T) {
	bin := buildCairn(t)
	if code, stdout, _ := runBin(t, bin, "--version"); code != 0 || !strings.HasPrefix(stdout, "cairn v0.0.0-test (commit c0ffee") {
		t.Fatalf("--version of a build with -ldflags: %d %q", code, stdout)
	}
	home := filepath.Join(t.TempDir(), "devnet")

	p := startDevnet(t, bin, "--home", home, "--api-port", "22100", "--p2p-port", "22110")
	out := p.waitFor(t, "Ctrl-C stops them all", 90*time.Second)
	for _, want := range []string{
		"ready: 4 validators, 1 follower(s)",
		"follower0  http://127.0.0.1:22104",
		"an idle chain stays at its height",
		"1. in another terminal:  " + bin + " tx put greeting hello --key " + filepath.Join(home, "faucet.key") + " --wait --node 127.0.0.1:22100\n",
		"2. open the explorer:     http://127.0.0.1:22104/",
		"search 'type:kv.put' --node 127.0.0.1:22104",
		"--reset",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("devnet output lacks %q:\n%s", want, out)
		}
	}
	nw, err := devnet.LoadNetwork(home)
	if err != nil {
		t.Fatal(err)
	}
	faucet, err := crypto.LoadKey(nw.FaucetKey)
	if err != nil {
		t.Fatal(err)
	}
	commitPut(t, nw.Nodes[0].API, faucet, "a")

	// Search sent to a validator is answered by the follower it names.
	if code, stdout, stderr := runBin(t, bin, "search", "type:kv.put", "--node", nw.Nodes[0].API); code != 0 ||
		!strings.Contains(stderr, "asking http://127.0.0.1:22104") || !strings.Contains(stdout, `"total"`) {
		t.Fatalf("search via a validator: %d %s %s", code, stdout, stderr)
	}
	// So is an account listing: validators keep no account index.
	if code, stdout, stderr := runBin(t, bin, "account", "--key", nw.FaucetKey, "--txs", "5", "--node", nw.Nodes[1].API); code != 0 ||
		!strings.Contains(stderr, "does not index accounts; asking http://127.0.0.1:22104") || !strings.Contains(stdout, `"txs"`) || !strings.Contains(stdout, `"balance"`) {
		t.Fatalf("account --txs via a validator: %d %s %s", code, stdout, stderr)
	}
	// The follower stops and starts like a validator; the chain does not care.
	if code, _, stderr := runBin(t, bin, "devnet", "stop-node", "4", "--home", home); code != 0 {
		t.Fatalf("stop-node 4: %d %s", code, stderr)
	}
	p.waitFor(t, "a follower does not vote: the chain goes on", 30*time.Second)
	commitPut(t, nw.Nodes[0].API, faucet, "f")
	if code, _, stderr := runBin(t, bin, "devnet", "start-node", "4", "--home", home); code != 0 {
		t.Fatalf("start-node 4: %d %s", code, stderr)
	}

	// A second devnet on the same network is refused.
	if code, _, stderr := runBin(t, bin, "devnet", "--home", home); code != 1 || !strings.Contains(stderr, "already running") {
		t.Fatalf("second devnet: %d %s", code, stderr)
	}

	// stop-node 2: reported, the others go on and commit.
	code, stdout, stderr := runBin(t, bin, "devnet", "stop-node", "2", "--home", home)
	var nodes []devnet.NodeState
	if err := json.Unmarshal([]byte(stdout), &nodes); code != 0 || err != nil || nodes[2].Running || !nodes[0].Running {
		t.Fatalf("stop-node 2: %d %s %s", code, stdout, stderr)
	}
	p.waitFor(t, "node2 stopped (stop-node)", 30*time.Second)
	p.waitFor(t, "3 of 4 validators running; the chain goes on (it tolerates 1 down)", 10*time.Second)
	if _, err := height(t, nw.Nodes[2].API); err == nil {
		t.Fatal("node2 still answers after stop-node")
	}
	r := commitPut(t, nw.Nodes[1].API, faucet, "b")

	// start-node 2: back, and it catches up.
	if code, _, stderr := runBin(t, bin, "devnet", "start-node", "2", "--home", home); code != 0 {
		t.Fatalf("start-node 2: %d %s", code, stderr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := height(t, nw.Nodes[2].API)
		if err == nil && h >= r.Height {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node2 did not catch up to %d: %d %v", r.Height, h, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A validator that dies (kill -9) is reported; the others keep going.
	code, stdout, _ = runBin(t, bin, "devnet", "nodes", "--home", home)
	if err := json.Unmarshal([]byte(stdout), &nodes); code != 0 || err != nil || nodes[3].PID == 0 || nodes[3].Role != "validator" || len(nodes) != 5 || nodes[4].Role != "follower" {
		t.Fatalf("nodes: %d %s", code, stdout)
	}
	if err := syscall.Kill(nodes[3].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, "node3 EXITED", 30*time.Second)
	commitPut(t, nw.Nodes[0].API, faucet, "c")
	if !strings.Contains(p.output(), "start-node 3") {
		t.Errorf("no hint to restart node3:\n%s", p.output())
	}
	// Asking for a node that does not exist, or a devnet that does not run.
	if code, _, stderr := runBin(t, bin, "devnet", "stop-node", "9", "--home", home); code != 1 || !strings.Contains(stderr, "no node") {
		t.Errorf("stop-node 9: %d %s", code, stderr)
	}
	last, err := height(t, nw.Nodes[0].API)
	if err != nil {
		t.Fatal(err)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("Ctrl-C: exit %d\n%s", code, p.output())
	}
	for i := range nw.Nodes {
		if _, err := height(t, nw.Nodes[i].API); err == nil {
			t.Errorf("node%d still answers after the devnet stopped", i)
		}
	}
	if code, _, stderr := runBin(t, bin, "devnet", "stop-node", "1", "--home", home); code != 1 || !strings.Contains(stderr, "no devnet is running") {
		t.Errorf("stop-node without a devnet: %d %s", code, stderr)
	}

	// Resume on other ports: same chain, same height.
	p = startDevnet(t, bin, "--home", home, "--api-port", "22120", "--p2p-port", "22130")
	p.waitFor(t, "http://127.0.0.1:22124/", 90*time.Second)
	if h, err := height(t, "http://127.0.0.1:22120"); err != nil || h != last {
		t.Fatalf("resumed on new ports: height %d %v, want %d", h, err, last)
	}
	// node3, killed behind the others, catches up over the new peer ports.
	deadline = time.Now().Add(30 * time.Second)
	for {
		h, err := height(t, "http://127.0.0.1:22123")
		if err == nil && h == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node3 on its new ports did not catch up to %d: %d %v", last, h, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("Ctrl-C: exit %d", code)
	}
	// The new ports were saved: a plain run uses them.
	p = startDevnet(t, bin, "--home", home)
	p.waitFor(t, "http://127.0.0.1:22124/", 90*time.Second)
	p.stop(t)

	// --reset: a new chain (new faucet, height 0).
	p = startDevnet(t, bin, "--home", home, "--reset", "--api-port", "22100", "--p2p-port", "22110")
	p.waitFor(t, "Next steps", 90*time.Second)
	if h, err := height(t, "http://127.0.0.1:22100"); err != nil || h != 0 {
		t.Fatalf("after --reset: height %d %v, want 0", h, err)
	}
	if k, err := crypto.LoadKey(filepath.Join(home, "faucet.key")); err != nil || k.Public() == faucet.Public() {
		t.Fatalf("after --reset the faucet key is the old one (%v)", err)
	}
	p.stop(t)
	if _, err := os.Stat(devnet.ControlSocket(home)); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
}

// What `cairn devnet` refuses before starting anything, in one message
// each: a port already taken, --validators on an existing network,
// --reset of a directory that is not a network, control without a devnet.
func TestDevnetRefusals(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	taken, _ := strconv.Atoi(p)
	home := filepath.Join(t.TempDir(), "devnet")
	// node1's API port is taken.
	code, _, stderr := run(t, "devnet", "--home", home, "--api-port", strconv.Itoa(taken-1), "--p2p-port", strconv.Itoa(taken+10))
	// (Other programs may hold other ports of the range too.)
	if want := l.Addr().String() + " (node1 api)"; code != 1 || !strings.Contains(stderr, "cairn devnet: ports in use: ") || !strings.Contains(stderr, want) || !strings.Contains(stderr, "--api-port P --p2p-port P") {
		t.Errorf("port in use: exit %d, stderr %q, want %q", code, stderr, want)
	}
	if code, _, stderr = run(t, "devnet", "--home", home, "--validators", "7"); code != 1 || !strings.Contains(stderr, "has 4 validators; --validators applies when creating one (add --reset to start over)") {
		t.Errorf("--validators on an existing network: exit %d, %q", code, stderr)
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "precious"), []byte("x"), 0o600)
	if code, _, stderr = run(t, "devnet", "--home", other, "--reset"); code != 1 || !strings.Contains(stderr, "no network.json; not deleting it") {
		t.Errorf("--reset of a non-network: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(other, "precious")); err != nil {
		t.Errorf("--reset deleted a directory that is not a network: %v", err)
	}
	if code, _, stderr = run(t, "devnet", "start-node", "1", "--home", home); code != 1 || !strings.Contains(stderr, "no devnet is running this network") {
		t.Errorf("start-node without a devnet: exit %d, %q", code, stderr)
	}
	if code, _, _ = run(t, "devnet", "stop-node", "x", "--home", home); code != 2 {
		t.Errorf("stop-node x: exit %d, want 2", code)
	}
}
