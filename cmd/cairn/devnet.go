package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/devnet"
)

func init() {
	register("devnet", "run a local network: init if needed, start every validator, stop on Ctrl-C; stop-node/start-node N", runDevnet)
}

const devnetAbout = `Runs every validator and follower of the network in --home as a child process and
supervises them until Ctrl-C. The first run creates the network (4 validators, 1 follower, a
funded faucet key); later runs resume the chain where it stopped. A validator that exits is
reported and the others keep running: with n = 3f+1 validators the chain goes on with f of
them down. The follower does not vote: it follows the certified blocks, checks them, and
serves reads and search (validators do not index); write to a validator.

While it runs, from another terminal:
  cairn devnet stop-node N [--home DIR]    stop node N (validators 0..n-1, then followers)
  cairn devnet start-node N [--home DIR]   start it again; it catches up from its peers
  cairn devnet nodes [--home DIR]          list the nodes: running, pid, API

--api-port and --p2p-port also move an existing network (saved in its configs).
--reset deletes the network in --home and creates a new one.`

func runDevnet(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "stop-node", "start-node", "nodes":
			return runDevnetControl(args[0], args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("devnet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = usageFunc(fs, stderr, "cairn devnet [--home DIR] [--reset] [--api-port P] [--p2p-port P] [--validators N]\n       cairn devnet stop-node|start-node N [--home DIR]", devnetAbout)
	home := fs.String("home", "./devnet", "the network `DIR`")
	n := fs.Int("validators", 4, "validators, when creating the network")
	followers := fs.Int("followers", 1, "followers (non-voting replicas that index for search), when creating the network")
	api := fs.Int("api-port", 8080, "API port of node0; node i uses api-port+i")
	p2p := fs.Int("p2p-port", 26656, "peer port of node0; node i uses p2p-port+i")
	reset := fs.Bool("reset", false, "delete the network in --home first and create a new one (a new chain)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "cairn devnet: unexpected argument %q\n\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	failf := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "cairn devnet: "+format+"\n", a...)
		return 1
	}
	if devnet.Running(*home) {
		return failf("a devnet is already running the network in %s; stop it (Ctrl-C in its terminal) first", *home)
	}
	if *reset && devnet.Exists(*home) {
		if err := os.RemoveAll(*home); err != nil {
			return failf("--reset: %v", err)
		}
		fmt.Fprintf(stderr, "deleted the network in %s (--reset)\n", *home)
	} else if *reset {
		if entries, err := os.ReadDir(*home); err == nil && len(entries) > 0 {
			return failf("--reset: %s holds files but no network.json; not deleting it", *home)
		}
	}
	if !devnet.Exists(*home) {
		if _, err := devnet.InitNetwork(*home, devnet.Options{Validators: *n, Followers: *followers, APIPort: *api, P2PPort: *p2p}); err != nil {
			return failf("%v", err)
		}
		fmt.Fprintf(stderr, "created a %d-validator network with %d follower(s) in %s\n", *n, *followers, *home)
	} else {
		if set["validators"] {
			if nw, err := devnet.LoadNetwork(*home); err == nil && len(nw.Nodes) != *n {
				return failf("the network in %s has %d validators; --validators applies when creating one (add --reset to start over)", *home, len(nw.Nodes))
			}
		}
		if set["api-port"] || set["p2p-port"] {
			a, p := 0, 0
			if set["api-port"] {
				a = *api
			}
			if set["p2p-port"] {
				p = *p2p
			}
			if _, err := devnet.SetPorts(*home, a, p); err != nil {
				return failf("%v", err)
			}
			fmt.Fprintf(stderr, "moved the network in %s to new ports (saved)\n", *home)
		}
		fmt.Fprintf(stderr, "resuming the network in %s\n", *home)
	}
	nw, err := devnet.LoadNetwork(*home)
	if err != nil {
		return failf("%v", err)
	}
	if taken, err := devnet.PortsInUse(nw); err != nil {
		return failf("%v", err)
	} else if len(taken) > 0 {
		return failf("ports in use: %s.\nIs another devnet running? Stop it, or move this network with --api-port P --p2p-port P (saved for later runs).", strings.Join(taken, ", "))
	}
	bin, err := os.Executable()
	if err != nil {
		return failf("cannot find own binary: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	members := nw.Members()
	s := &supervisor{c: devnet.NewCluster(bin, nw), nw: nw, members: members, self: selfName(bin), out: stderr, events: make(chan exitEvent, 4*len(members))}
	s.stopping = make([]bool, len(members))
	closeCtl, err := devnet.ServeControl(*home, s)
	if err != nil {
		return failf("%v", err)
	}
	defer closeCtl()
	if err := s.c.StartAll(); err != nil {
		return failf("%v", err)
	}
	for i := range members {
		s.watch(i)
	}
	readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = s.c.WaitReady(readyCtx)
	cancel()
	if err != nil {
		s.stopAll()
		if ctx.Err() != nil { // Ctrl-C before ready
			fmt.Fprintln(stderr, "stopped.")
			return 0
		}
		if strings.Contains(err.Error(), "unsupported storage format") {
			return failf("%v\nThis network's data was written by another version of cairn: run it with that version, or start a new chain with --reset.", err)
		}
		return failf("%v", err)
	}
	printReady(stdout, nw, bin)

	// Run until a signal. A validator that exits is reported; the others
	// keep running.
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(stderr, "stopping validators...")
			s.stopAll()
			fmt.Fprintln(stderr, "stopped.")
			return 0
		case ev := <-s.events:
			if s.report(ev) {
				fmt.Fprintln(stderr, "cairn devnet: every validator has exited; stopping.")
				s.stopAll()
				return 1
			}
		}
	}
}

// printReady prints the nodes and the next steps.
func printReady(w io.Writer, nw *client.Network, bin string) {
	self := selfName(bin)
	faucet := relPath(nw.FaucetKey)
	fmt.Fprintf(w, "ready: %d validators, %d follower(s), chain id %s\n", len(nw.Nodes), len(nw.Followers), nw.ChainID)
	for _, nd := range nw.Members() {
		fmt.Fprintf(w, "  %s  %s  (logs: %s)\n", nd.Name, nd.API, relPath(filepath.Join(nd.Home, "node.log")))
	}
	fmt.Fprintf(w, "faucet key: %s\n\n", faucet)
	fmt.Fprintf(w, "The chain makes a block only when transactions arrive: an idle chain stays at its height.\n\n")
	fmt.Fprintf(w, "Next steps:\n")
	nodeArg := ""
	if strings.TrimRight(nodeURL(defaultNode()), "/") != nw.Nodes[0].API {
		nodeArg = " --node " + strings.TrimPrefix(nw.Nodes[0].API, "http://")
	}
	fmt.Fprintf(w, "  1. in another terminal:  %s tx put greeting hello --key %s --wait%s\n", self, faucet, nodeArg)
	fmt.Fprintf(w, "  2. open the explorer:     %s/\n", nw.SearchNode().API)
	if len(nw.Followers) > 0 {
		fmt.Fprintf(w, "  3. search (on a follower; validators do not index): %s search 'type:kv.put' --node %s\n", self, strings.TrimPrefix(nw.Followers[0].API, "http://"))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Stop one validator: %s devnet stop-node 1%s (start-node 1 brings it back).\n", self, homeArg(nw.Dir))
	fmt.Fprintf(w, "Ctrl-C stops them all; run again to resume, or add --reset to start a new chain.\n")
}

// selfName is how the user can run this binary again: "go run ./cmd/cairn"
// when it was started with go run, "cairn" when that is on PATH, else its
// path ("./cairn").
func selfName(bin string) string {
	if strings.Contains(bin, "go-build") {
		return "go run ./cmd/cairn"
	}
	if p, err := exec.LookPath("cairn"); err == nil {
		if a, b := filepath.Clean(p), filepath.Clean(bin); a == b {
			return "cairn"
		}
		if st1, err1 := os.Stat(p); err1 == nil {
			if st2, err2 := os.Stat(bin); err2 == nil && os.SameFile(st1, st2) {
				return "cairn"
			}
		}
	}
	r := relPath(bin)
	if !filepath.IsAbs(r) && !strings.Contains(r, string(filepath.Separator)) {
		r = "." + string(filepath.Separator) + r
	}
	return r
}

// homeArg is " --home DIR", or "" when DIR is the default ./devnet.
func homeArg(dir string) string {
	r := relPath(dir)
	if r == "devnet" {
		return ""
	}
	return " --home " + r
}

// relPath shows p relative to the working directory when it is below it.
func relPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	r, err := filepath.Rel(wd, p)
	if err != nil || strings.HasPrefix(r, "..") {
		return p
	}
	return r
}

// exitEvent is one validator process that exited.
type exitEvent struct {
	i         int
	requested bool // by stop-node or shutdown
}

// supervisor runs a devnet's validators and answers its control socket.
type supervisor struct {
	c       *devnet.Cluster
	nw      *client.Network
	members []client.NetworkNode // validators, then followers
	self    string               // how to run this binary (selfName)
	out     io.Writer
	events  chan exitEvent

	mu       sync.Mutex
	stopping []bool // an exit of node i was asked for
	shutdown bool
}

// watch reports node i's current process's exit as an event.
func (s *supervisor) watch(i int) {
	done := s.c.Exited(i)
	go func() {
		<-done
		s.mu.Lock()
		ev := exitEvent{i: i, requested: s.stopping[i] || s.shutdown}
		s.stopping[i] = false
		s.mu.Unlock()
		s.events <- ev
	}()
}

// report prints what an exit means for the network and returns true when
// no validator is left running and the last exit was not asked for.
func (s *supervisor) report(ev exitEvent) bool {
	s.mu.Lock()
	shutdown := s.shutdown
	s.mu.Unlock()
	if shutdown {
		return false
	}
	n := len(s.nw.Nodes)
	running := 0
	for i := range s.nw.Nodes {
		if i != ev.i && s.c.Running(i) {
			running++
		}
	}
	name := s.members[ev.i].Name
	logPath := relPath(filepath.Join(s.members[ev.i].Home, "node.log"))
	if ev.requested {
		fmt.Fprintf(s.out, "cairn devnet: %s stopped (stop-node)", name)
	} else {
		fmt.Fprintf(s.out, "cairn devnet: %s EXITED; see %s", name, logPath)
		if last := lastLine(filepath.Join(s.members[ev.i].Home, "node.log")); last != "" {
			fmt.Fprintf(s.out, "\n  last log line: %s", last)
		}
	}
	f := (n - 1) / 3
	quorum := n - f
	fmt.Fprintf(s.out, "\n  %d of %d validators running; ", running, n)
	switch {
	case ev.i >= n:
		fmt.Fprintf(s.out, "a follower does not vote: the chain goes on, reads and search wait for it.")
	case running >= quorum:
		fmt.Fprintf(s.out, "the chain goes on (it tolerates %d down).", f)
	default:
		fmt.Fprintf(s.out, "the chain cannot commit until %d run (a quorum).", quorum)
	}
	fmt.Fprintf(s.out, " Start it again with: %s devnet start-node %d%s\n", s.self, ev.i, homeArg(s.nw.Dir))
	return running == 0 && !ev.requested && ev.i < n
}

func (s *supervisor) stopAll() {
	s.mu.Lock()
	s.shutdown = true
	s.mu.Unlock()
	s.c.StopAll(15 * time.Second)
}

// Nodes implements devnet.Controller.
func (s *supervisor) Nodes() []devnet.NodeState {
	out := make([]devnet.NodeState, len(s.members))
	for i, nd := range s.members {
		pid := s.c.PID(i)
		role := "validator"
		if i >= len(s.nw.Nodes) {
			role = "follower"
		}
		out[i] = devnet.NodeState{Index: i, Name: nd.Name, Role: role, API: nd.API, Running: pid != 0, PID: pid}
	}
	return out
}

// StopNode implements devnet.Controller: SIGTERM, SIGKILL after 15s.
func (s *supervisor) StopNode(i int) error {
	if !s.c.Running(i) {
		return fmt.Errorf("%s is not running", s.members[i].Name)
	}
	s.mu.Lock()
	s.stopping[i] = true
	s.mu.Unlock()
	s.c.Stop(i, 15*time.Second)
	return nil
}

// StartNode implements devnet.Controller: start node i and wait until it
// answers /readyz (at most 60s).
func (s *supervisor) StartNode(i int) error {
	s.mu.Lock()
	shutdown := s.shutdown
	s.mu.Unlock()
	if shutdown {
		return errors.New("the devnet is shutting down")
	}
	if s.c.Running(i) {
		return fmt.Errorf("%s is already running", s.members[i].Name)
	}
	if err := s.c.Start(i); err != nil {
		return err
	}
	s.watch(i)
	fmt.Fprintf(s.out, "cairn devnet: %s started (start-node)\n", s.members[i].Name)
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if !s.c.Running(i) {
			return fmt.Errorf("%s exited while starting; see %s", s.members[i].Name, filepath.Join(s.members[i].Home, "node.log"))
		}
		if resp, err := hc.Get(s.members[i].API + "/readyz"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s started but is not ready after 60s; see %s", s.members[i].Name, filepath.Join(s.members[i].Home, "node.log"))
}

// lastLine returns the last non-empty line of the file (reading at most its
// last 4 KiB), or "".
func lastLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(0, st.Size()-4096)
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	return strings.TrimSpace(string(lines[len(lines)-1]))
}

// runDevnetControl is `cairn devnet stop-node|start-node N` and
// `cairn devnet nodes`: it asks the running devnet over its control socket.
func runDevnetControl(op string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("devnet "+op, flag.ContinueOnError)
	fs.SetOutput(stderr)
	line := "cairn devnet " + op + " N [--home DIR]"
	about := map[string]string{
		"stop-node":  "Asks the devnet running in --home to stop node N (SIGTERM): validators are 0..n-1, followers follow; the others keep running.",
		"start-node": "Asks the devnet running in --home to start node N again and waits until it is ready.",
		"nodes":      "Lists the validators and followers of the devnet running in --home: running, pid, API URL.",
	}[op]
	if op == "nodes" {
		line = "cairn devnet nodes [--home DIR]"
	}
	fs.Usage = usageFunc(fs, stderr, line, about)
	home := fs.String("home", "./devnet", "the network `DIR`")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	i := 0
	if op == "nodes" {
		if len(pos) != 0 {
			fs.Usage()
			return 2
		}
		op = ""
	} else {
		if len(pos) != 1 {
			fs.Usage()
			return 2
		}
		if i, err = strconv.Atoi(pos[0]); err != nil || i < 0 {
			fmt.Fprintf(stderr, "cairn devnet %s: N must be a node index (0, 1, ...), got %q\n", op, pos[0])
			return 2
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	nodes, err := devnet.Control(ctx, *home, strings.TrimSuffix(op, "-node"), i)
	if err != nil {
		return report(stderr, problem{Command: fs.Name(), Code: "error", Message: err.Error()})
	}
	return printJSON(stdout, nodes)
}
