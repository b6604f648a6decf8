// Package natstest runs a real NATS JetStream cluster of nats-server
// processes on 127.0.0.1 for tests (test-only): three servers by default,
// each with its own store directory, that a test can kill (SIGKILL) and
// start again on the same ports and data. Without the nats-server binary
// the test is skipped, loudly, except under CI=true, where it fails
// (.ci/run installs the package).
package natstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Binary finds nats-server (PATH, then /usr/sbin where Debian puts it).
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nats-server"); err == nil {
		return "/usr/sbin/nats-server"
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("nats-server not found under CI (.ci/run installs the nats-server package)")
	}
	t.Skip("SKIPPED: nats-server not found; install Debian's nats-server package to run the JetStream cluster tests")
	return ""
}

// Cluster is a running JetStream cluster.
type Cluster struct {
	t      testing.TB
	bin    string
	dir    string
	client []int // client port per server
	route  []int // cluster port per server
	mon    []int // monitoring (HTTP) port per server

	mu    sync.Mutex
	procs []*exec.Cmd
}

// Start runs n servers (n >= 1) and waits until JetStream answers.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t, bin: Binary(t), dir: t.TempDir(), procs: make([]*exec.Cmd, n)}
	for i := 0; i < n; i++ {
		c.client = append(c.client, freePort(t))
		c.route = append(c.route, freePort(t))
		c.mon = append(c.mon, freePort(t))
	}
	for i := 0; i < n; i++ {
		c.writeConfig(i)
	}
	t.Cleanup(c.stopAll)
	for i := 0; i < n; i++ {
		c.Restart(i)
	}
	c.WaitReady(60 * time.Second)
	return c
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (c *Cluster) writeConfig(i int) {
	var routes []string
	for j, p := range c.route {
		if j != i {
			routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
		}
	}
	cluster := ""
	if len(c.client) > 1 {
		cluster = fmt.Sprintf("cluster {\n  name: cairntest\n  listen: 127.0.0.1:%d\n  routes: [%s]\n}\n", c.route[i], strings.Join(routes, ", "))
	}
	conf := fmt.Sprintf(`server_name: n%d
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
max_payload: 8MB
jetstream {
  store_dir: %q
  max_memory_store: 64MB
  max_file_store: 20GB
}
%s`, i, c.client[i], c.mon[i], filepath.Join(c.dir, fmt.Sprintf("n%d", i)), cluster)
	if err := os.WriteFile(c.confPath(i), []byte(conf), 0o644); err != nil {
		c.t.Fatalf("natstest: %v", err)
	}
}

func (c *Cluster) confPath(i int) string { return filepath.Join(c.dir, fmt.Sprintf("n%d.conf", i)) }

// URL is server i's client URL.
func (c *Cluster) URL(i int) string { return fmt.Sprintf("nats://127.0.0.1:%d", c.client[i]) }

// URLs are every server's client URL.
func (c *Cluster) URLs() []string {
	var out []string
	for i := range c.client {
		out = append(out, c.URL(i))
	}
	return out
}

// StoreDir is server i's JetStream directory.
func (c *Cluster) StoreDir(i int) string { return filepath.Join(c.dir, fmt.Sprintf("n%d", i)) }

// Kill stops server i with SIGKILL (no clean shutdown) and waits for it.
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	p := c.procs[i]
	c.procs[i] = nil
	c.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.Process.Kill()
	_ = p.Wait()
}

// Restart starts server i (again), on its ports and its data.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Kill(i)
	logf, err := os.OpenFile(filepath.Join(c.dir, fmt.Sprintf("n%d.log", i)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatalf("natstest: %v", err)
	}
	cmd := exec.Command(c.bin, "-c", c.confPath(i))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("natstest: start nats-server: %v", err)
	}
	logf.Close()
	c.mu.Lock()
	c.procs[i] = cmd
	c.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.client[i]), time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("natstest: server %d did not listen: %v\n%s", i, err, c.Log(i))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log returns server i's log so far (for failure messages).
func (c *Cluster) Log(i int) string {
	b, _ := os.ReadFile(filepath.Join(c.dir, fmt.Sprintf("n%d.log", i)))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// WaitReady waits until the cluster can place a stream on all its servers.
func (c *Cluster) WaitReady(timeout time.Duration) {
	c.t.Helper()
	nc, err := nats.Connect(strings.Join(c.URLs(), ","), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		c.t.Fatalf("natstest: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatalf("natstest: %v", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		// Ready means a stream with every server as a replica can be
		// placed: a meta leader alone may not know all its peers yet.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "NATSTEST_READY", Subjects: []string{"natstest.ready"},
			Replicas: len(c.client), Storage: jetstream.MemoryStorage})
		if err == nil {
			err = js.DeleteStream(ctx, "NATSTEST_READY")
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("natstest: JetStream not ready after %v: %v\n%s", timeout, err, c.Log(0))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// StreamState is one server's copy of a stream, from its monitoring
// endpoint (/jsz): what it has stored, not what the leader believes.
type StreamState struct {
	Messages, LastSeq uint64
}

// Stream returns server i's local state of stream name (found false if the
// server has no copy or does not answer).
func (c *Cluster) Stream(i int, name string) (st StreamState, found bool) {
	hc := http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/jsz?streams=true", c.mon[i]))
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	var jsz struct {
		Accounts []struct {
			Streams []struct {
				Name  string `json:"name"`
				State struct {
					Messages uint64 `json:"messages"`
					LastSeq  uint64 `json:"last_seq"`
				} `json:"state"`
			} `json:"stream_detail"`
		} `json:"account_details"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&jsz); err != nil {
		return st, false
	}
	for _, a := range jsz.Accounts {
		for _, s := range a.Streams {
			if s.Name == name {
				return StreamState{Messages: s.State.Messages, LastSeq: s.State.LastSeq}, true
			}
		}
	}
	return st, false
}

// WaitCaughtUp waits until every running server holds the same copy of
// stream name. A server restarted after missing writes catches up in the
// background; taking the others down before it has can lose data on
// nats-server 2.9 (it may be elected leader with a partial copy), so
// operators, and these tests, wait for this before the next failure.
func (c *Cluster) WaitCaughtUp(name string, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var states []StreamState
		ok := true
		for i := range c.client {
			c.mu.Lock()
			running := c.procs[i] != nil
			c.mu.Unlock()
			if !running {
				continue
			}
			st, found := c.Stream(i, name)
			ok = ok && found
			states = append(states, st)
		}
		for _, st := range states {
			ok = ok && st == states[0]
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("natstest: stream %s copies differ after %v: %+v", name, timeout, states)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *Cluster) stopAll() {
	for i := range c.procs {
		c.Kill(i)
	}
}
