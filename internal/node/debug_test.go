package node_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/internal/devnet"
	"github.com/cairn-db/cairn/internal/node"
)

// The fault switch is served on its own loopback listener, never on the
// public API: the API answers 404 for it, the debug listener (whose address
// the node writes to HOME/debug.addr, where devnet finds it) serves it.
func TestFaultSwitchNotOnPublicListener(t *testing.T) {
	ports, err := devnet.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	nw, err := devnet.InitNetwork(t.TempDir(), devnet.Options{Validators: 1, APIPort: ports[0], P2PPort: ports[1]})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := node.LoadConfig(nw.Nodes[0].Home)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Search.Index = "off"
	cfg.AllowFaults = true
	node.AllowUnsafeTestFaults()
	n, err := node.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()

	api := nw.Nodes[0].API
	var st int
	for i := 0; i < 100; i++ {
		resp, err := http.Get(api + "/debug/faults")
		if err == nil {
			st = resp.StatusCode
			resp.Body.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st != http.StatusNotFound {
		t.Fatalf("GET /debug/faults on the public API: status %d, want 404", st)
	}
	var addr []byte
	for i := 0; i < 100; i++ {
		if addr, err = os.ReadFile(filepath.Join(nw.Nodes[0].Home, "debug.addr")); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("debug.addr: %v", err)
	}
	if !strings.HasPrefix(string(addr), "127.0.0.1:") || strings.TrimSpace(string(addr)) == strings.TrimPrefix(api, "http://") {
		t.Fatalf("debug listener on %q (API %s): want its own loopback port", addr, api)
	}
	c := &devnet.Cluster{Net: nw}
	if err := c.SetFaults(context.Background(), nil, 0, devnet.Faults{DelayMs: 1}); err != nil {
		t.Fatalf("set faults through devnet: %v", err)
	}
	if err := c.SetFaults(context.Background(), nil, 0, devnet.Faults{}); err != nil {
		t.Fatalf("clear faults through devnet: %v", err)
	}
}

// A debug address that is the API's own, or that is not loopback, is
// refused at startup.
func TestDebugAddrChecked(t *testing.T) {
	home := t.TempDir()
	for _, tc := range []struct {
		cfg string
		ok  bool
	}{
		{`{"name": "n0", "api_addr": "127.0.0.1:8080", "debug_addr": "127.0.0.1:8080"}`, false},
		{`{"name": "n0", "api_addr": "127.0.0.1:8080", "debug_addr": "0.0.0.0:6060"}`, false},
		{`{"name": "n0", "api_addr": "127.0.0.1:8080", "debug_addr": "10.1.2.3:6060"}`, false},
		{`{"name": "n0", "api_addr": "127.0.0.1:8080", "debug_addr": "127.0.0.1:6060"}`, true},
		{`{"name": "n0", "api_addr": "127.0.0.1:8080", "debug_addr": "localhost:0"}`, true},
		{`{"name": "n0", "api_addr": "127.0.0.1:8080"}`, true},
	} {
		if err := os.WriteFile(filepath.Join(home, "config.json"), []byte(tc.cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := node.LoadConfig(home)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.cfg, err, tc.ok)
		}
	}
}
