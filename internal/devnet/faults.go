package devnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-db/cairn/internal/node"
)

// Faults is a network fault setting of one validator, as its test-only
// fault switch takes it (a node started with --unsafe-test-faults):
// DropOutbound is the share of outgoing consensus messages dropped, DelayMs
// delays every outgoing message, Partition names the peers this node is cut
// off from. The zero value clears every fault.
type Faults struct {
	DropOutbound float64  `json:"drop_outbound"`
	DelayMs      int64    `json:"delay_ms"`
	Partition    []string `json:"partition"`
}

// SetFaults sets node i's network faults. It is the one place that knows
// where the fault switch is served: POST /debug/faults on the node's own
// loopback debug listener, never its public API; the running node writes
// that listener's address to HOME/debug.addr (node.DebugAddrFile).
func (c *Cluster) SetFaults(ctx context.Context, hc *http.Client, i int, f Faults) error {
	if f.Partition == nil {
		f.Partition = []string{}
	}
	body, err := json.Marshal(f)
	if err != nil {
		return err
	}
	name := c.member(i).Name
	addr, err := c.debugAddr(ctx, i)
	if err != nil {
		return fmt.Errorf("faults on %s: no debug listener (started with --unsafe-test-faults --faults?): %w", name, err)
	}
	url := "http://" + strings.TrimSpace(string(addr)) + "/debug/faults"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("faults on %s: %w", name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("faults on %s: %w", name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("faults on %s: %s: %s", name, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// debugAddr reads node i's fault-switch address. A node that is running
// but has not written it yet is still starting (Start removes a killed
// process's stale file): wait for it, polling, until ctx ends.
func (c *Cluster) debugAddr(ctx context.Context, i int) ([]byte, error) {
	path := filepath.Join(c.member(i).Home, node.DebugAddrFile)
	for {
		addr, err := os.ReadFile(path)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || !c.Running(i) {
			return addr, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (node still starting: %w)", err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Pause freezes node i's process (SIGSTOP): it keeps its sockets open but
// answers nothing, like a validator stuck in a long GC pause or a frozen VM.
// It reports whether a process was running.
func (c *Cluster) Pause(i int) bool {
	_, ok := c.signal(i, syscall.SIGSTOP)
	return ok
}

// Resume continues a paused node i (SIGCONT; harmless if it is not paused).
func (c *Cluster) Resume(i int) {
	c.signal(i, syscall.SIGCONT)
}

// FreePorts returns n distinct loopback ports that were free a moment ago.
//
// They are drawn at random from below Linux's ephemeral range (32768 and
// up), not asked of the kernel with port 0: a port the kernel hands out is
// an ephemeral one, which the outgoing connections of everything else on
// the machine (other tests' clients and peers) may take as their source
// port before the node that was meant to bind it starts.
func FreePorts(n int) ([]int, error) {
	const low, high = 20000, 32768
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries >= 100*n {
			return nil, fmt.Errorf("free ports: found %d of %d free ports in %d..%d after %d tries", len(ports), n, low, high-1, tries)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", low+rand.IntN(high-low)))
		if err != nil {
			continue // taken: try another
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
