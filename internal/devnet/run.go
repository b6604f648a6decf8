package devnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/node"
)

// Cluster runs a network's validators and followers as child processes of
// one binary (`BIN node --home DIR/nodeN`); node i is Net.Members()[i]: the
// validators, then the followers. Each child's output goes to its
// home/node.log. Tests and benchmarks use it to kill -9 and restart nodes.
type Cluster struct {
	Bin     string
	Net     *client.Network
	Args    []string // extra arguments for every node
	mu      sync.Mutex
	nodeArg map[int][]string
	procs   []*exec.Cmd
	exited  []chan struct{}
	logs    []*os.File
	stopped bool
}

// NewCluster prepares a cluster for network nw using binary bin.
func NewCluster(bin string, nw *client.Network, extraArgs ...string) *Cluster {
	n := len(nw.Members())
	return &Cluster{Bin: bin, Net: nw, Args: extraArgs, procs: make([]*exec.Cmd, n), exited: make([]chan struct{}, n), logs: make([]*os.File, n)}
}

// Start starts node i (no-op if it is running).
func (c *Cluster) Start(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.procs[i] != nil {
		return nil
	}
	home := c.member(i).Home
	lf, err := os.OpenFile(filepath.Join(home, "node.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %w", c.member(i).Name, err)
	}
	// A node killed with SIGKILL leaves its fault switch's address behind;
	// remove it so SetFaults waits for the new process's listener instead
	// of posting to a dead port.
	if err := os.Remove(filepath.Join(home, node.DebugAddrFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		lf.Close()
		return fmt.Errorf("start %s: %w", c.member(i).Name, err)
	}
	args := append([]string{"node", "--home", home}, c.Args...)
	args = append(args, c.nodeArg[i]...)
	cmd := exec.Command(c.Bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	// Own process group: a Ctrl-C in the terminal reaches only the parent,
	// which then stops the children in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("start %s: %w", c.member(i).Name, err)
	}
	done := make(chan struct{})
	c.procs[i], c.exited[i], c.logs[i] = cmd, done, lf
	go func() {
		_ = cmd.Wait()
		lf.Close()
		// Forget the process before announcing its exit, so a Start right
		// after Kill starts a new one instead of finding this one "running".
		c.mu.Lock()
		if c.procs[i] == cmd {
			c.procs[i] = nil
		}
		c.mu.Unlock()
		close(done)
	}()
	return nil
}

func (c *Cluster) member(i int) client.NetworkNode { return c.Net.Members()[i] }

// SetArgs sets extra arguments for node i's next starts (e.g. a Byzantine
// mode for one validator).
func (c *Cluster) SetArgs(i int, args ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodeArg == nil {
		c.nodeArg = map[int][]string{}
	}
	c.nodeArg[i] = args
}

// StartAll starts every node.
func (c *Cluster) StartAll() error {
	for i := range c.Net.Members() {
		if err := c.Start(i); err != nil {
			c.StopAll(5 * time.Second)
			return err
		}
	}
	return nil
}

// Running reports whether node i's process is alive.
func (c *Cluster) Running(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[i] != nil
}

// PID returns node i's process id, or 0 when it is not running.
func (c *Cluster) PID(i int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.procs[i] == nil {
		return 0
	}
	return c.procs[i].Process.Pid
}

// Exited returns a channel closed when node i's current process exits.
func (c *Cluster) Exited(i int) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.exited[i] == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return c.exited[i]
}

func (c *Cluster) signal(i int, sig os.Signal) (<-chan struct{}, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.procs[i]
	if p == nil {
		return nil, false
	}
	_ = p.Process.Signal(sig)
	return c.exited[i], true
}

// Kill sends SIGKILL to node i and waits for it to exit.
func (c *Cluster) Kill(i int) {
	if done, ok := c.signal(i, syscall.SIGKILL); ok {
		<-done
	}
}

// Stop sends SIGTERM to node i, waits up to grace, then kills it.
func (c *Cluster) Stop(i int, grace time.Duration) {
	done, ok := c.signal(i, syscall.SIGTERM)
	if !ok {
		return
	}
	select {
	case <-done:
	case <-time.After(grace):
		c.Kill(i)
	}
}

// StopAll stops every node in parallel.
func (c *Cluster) StopAll(grace time.Duration) {
	var wg sync.WaitGroup
	for i := range c.Net.Members() {
		wg.Add(1)
		go func() { defer wg.Done(); c.Stop(i, grace) }()
	}
	wg.Wait()
}

// WaitReady polls every running node's /readyz until all answer 200 or ctx
// ends.
func (c *Cluster) WaitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for i, n := range c.Net.Members() {
		for {
			if !c.Running(i) {
				log := filepath.Join(n.Home, "node.log")
				if why := startError(log); why != "" {
					return fmt.Errorf("%s exited: %s (see %s)", n.Name, why, log)
				}
				return fmt.Errorf("%s exited; see %s", n.Name, log)
			}
			resp, err := client.Get(n.API + "/readyz")
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", n.Name, errors.Join(ctx.Err(), err))
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// startError returns the reason a node gave for not starting: the err of
// the last "cannot start" line of its log, or "" when there is none.
func startError(log string) string {
	b, err := os.ReadFile(log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.Contains(lines[i], `msg="cannot start"`) {
			continue
		}
		_, why, ok := strings.Cut(lines[i], " err=")
		if !ok {
			return ""
		}
		if u, err := strconv.Unquote(why); err == nil {
			return u
		}
		return why
	}
	return ""
}
