package devnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// A running `cairn devnet` listens on a Unix socket in its network
// directory (DIR/devnet.sock, mode 0600: only its owner can use it) so that
// other commands can stop and start one validator while the rest keep
// running: `cairn devnet stop-node N`, `cairn devnet start-node N`.
//
//	GET  /nodes             every node's state
//	POST /nodes/N/stop      stop node N (SIGTERM, then SIGKILL after a grace)
//	POST /nodes/N/start     start node N again
//
// Answers are JSON: the nodes' states, or {"error": "..."} with a 4xx/5xx.

// NodeState is one validator as the devnet supervising it sees it.
type NodeState struct {
	Index   int    `json:"index"`
	Name    string `json:"name"`
	Role    string `json:"role"` // "validator" or "follower"
	API     string `json:"api"`
	Running bool   `json:"running"`
	PID     int    `json:"pid,omitempty"`
}

// Controller is what the control socket drives.
type Controller interface {
	Nodes() []NodeState
	StopNode(i int) error
	StartNode(i int) error
}

// ControlSocket returns the control socket's path for the network in dir.
func ControlSocket(dir string) string { return filepath.Join(dir, "devnet.sock") }

// ErrRunning is returned by ServeControl when another devnet already
// serves the network's control socket.
var ErrRunning = errors.New("a devnet is already running this network")

// ServeControl serves ctl on dir's control socket until close is called. A
// socket left by a devnet that was killed is replaced; one that answers
// means the network is already running (ErrRunning).
func ServeControl(dir string, ctl Controller) (closeFn func(), err error) {
	path := ControlSocket(dir)
	if Running(dir) {
		return nil, fmt.Errorf("%s: %w", dir, ErrRunning)
	}
	_ = os.Remove(path) // stale: nothing answered
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /nodes", func(w http.ResponseWriter, r *http.Request) {
		writeControl(w, http.StatusOK, ctl.Nodes())
	})
	act := func(f func(int) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			i, err := strconv.Atoi(r.PathValue("i"))
			if err != nil || i < 0 || i >= len(ctl.Nodes()) {
				writeControl(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no node %q: want 0..%d", r.PathValue("i"), len(ctl.Nodes())-1)})
				return
			}
			if err := f(i); err != nil {
				writeControl(w, http.StatusConflict, map[string]string{"error": err.Error()})
				return
			}
			writeControl(w, http.StatusOK, ctl.Nodes())
		}
	}
	mux.HandleFunc("POST /nodes/{i}/stop", act(ctl.StopNode))
	mux.HandleFunc("POST /nodes/{i}/start", act(ctl.StartNode))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = os.Remove(path)
	}, nil
}

func writeControl(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Running reports whether a devnet answers on dir's control socket.
func Running(dir string) bool {
	c, err := net.DialTimeout("unix", ControlSocket(dir), 2*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// ErrNotRunning is returned by Control when no devnet serves dir.
var ErrNotRunning = errors.New("no devnet is running this network")

// Control asks the devnet running the network in dir to stop or start
// node i (op "stop" or "start"), or with op "" only lists the nodes. It
// returns the nodes' states after the operation.
func Control(ctx context.Context, dir, op string, i int) ([]NodeState, error) {
	sock := ControlSocket(dir)
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	method, path := http.MethodGet, "/nodes"
	if op != "" {
		method, path = http.MethodPost, fmt.Sprintf("/nodes/%d/%s", i, op)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://devnet"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%s: %w (start it with: cairn devnet --home %s)", dir, ErrNotRunning, dir)
		}
		return nil, fmt.Errorf("devnet control: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("devnet control: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return nil, errors.New(e.Error)
		}
		return nil, fmt.Errorf("devnet control: %s", resp.Status)
	}
	var nodes []NodeState
	if err := json.Unmarshal(b, &nodes); err != nil {
		return nil, fmt.Errorf("devnet control: %w", err)
	}
	return nodes, nil
}
