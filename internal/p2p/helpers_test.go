package p2p

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-db/cairn/crypto"
)

// waitLimit bounds every wait in these tests; conditions are polled, never
// assumed after a sleep.
const waitLimit = 10 * time.Second

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitLimit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testKey(i int) *crypto.PrivateKey {
	var seed [crypto.SeedSize]byte
	seed[0] = byte(i + 1)
	seed[1] = 0xca
	return crypto.MustKeyFromSeed(seed)
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// logBuffer captures a transport's log for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.buf.String(), s)
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testConfig has short backoffs so reconnects are quick in tests. The I/O
// timeouts stay generous: on a loaded 2-core machine under -race the whole
// process can stall for a couple of seconds, and a read deadline that
// expires during such a stall drops the connection and what was in flight.
func testConfig(key *crypto.PrivateKey, ln net.Listener) Config {
	return Config{
		Key:               key,
		Listener:          ln,
		NetworkID:         "cairn-test",
		HeartbeatInterval: 100 * time.Millisecond,
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      5 * time.Second,
		DialTimeout:       time.Second,
		HandshakeTimeout:  2 * time.Second,
		MinBackoff:        10 * time.Millisecond,
		MaxBackoff:        200 * time.Millisecond,
		Linger:            500 * time.Millisecond,
		FaultSeed:         1,
	}
}

func start(t testing.TB, cfg Config) *Transport {
	t.Helper()
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// mesh starts n transports, each dialling all others. tweak may adjust each
// config before it is used.
func mesh(t testing.TB, n int, tweak func(i int, c *Config)) []*Transport {
	t.Helper()
	lns := make([]net.Listener, n)
	var peers []Peer
	var allowed []crypto.PublicKey
	for i := range n {
		lns[i] = listen(t)
		k := testKey(i).Public()
		peers = append(peers, Peer{PublicKey: k, Addr: lns[i].Addr().String()})
		allowed = append(allowed, k)
	}
	trs := make([]*Transport, n)
	for i := range n {
		c := testConfig(testKey(i), lns[i])
		c.Peers = peers
		c.Allowed = allowed
		if os.Getenv("P2P_TEST_LOG") != "" { // debugging aid: P2P_TEST_LOG=1 go test ...
			c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", i)
		}
		if tweak != nil {
			tweak(i, &c)
		}
		trs[i] = start(t, c)
	}
	return trs
}

func connectedTo(tr *Transport, k crypto.PublicKey) bool {
	for _, s := range tr.Peers() {
		if s.PublicKey == k {
			return s.Connected
		}
	}
	return false
}

func waitMesh(t testing.TB, trs []*Transport) {
	t.Helper()
	waitFor(t, "full mesh", func() bool {
		for _, a := range trs {
			for _, b := range trs {
				if a != b && !connectedTo(a, b.PublicKey()) {
					return false
				}
			}
		}
		return true
	})
}

// sendEventually retries Send until it is accepted: right after connecting,
// a duplicate connection may be being retired and Send briefly refuses.
func sendEventually(t testing.TB, tr *Transport, to crypto.PublicKey, ch byte, msg []byte) {
	t.Helper()
	waitFor(t, "send accepted", func() bool { return tr.Send(to, ch, msg) })
}

// collector drains a transport's Receive channel.
type collector struct {
	mu   sync.Mutex
	msgs []Message
	done chan struct{}
}

func collect(tr *Transport) *collector {
	c := &collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for m := range tr.Receive() {
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) snapshot() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.msgs...)
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// has reports whether a message with this payload arrived.
func (c *collector) has(payload string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.msgs {
		if string(m.Payload) == payload {
			return true
		}
	}
	return false
}

// from returns the payloads received from k, in arrival order.
func (c *collector) from(k crypto.PublicKey) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.msgs {
		if m.From == k {
			out = append(out, string(m.Payload))
		}
	}
	return out
}

// handDriven connects to the transport listening at addr (whose key is
// server) as key, with the transport's own handshake on a connection the
// test then drives itself: no read loop, no heartbeats. Closed at the end
// of the test.
func handDriven(t *testing.T, key *crypto.PrivateKey, server crypto.PublicKey, addr string) *conn {
	t.Helper()
	rc := testConfig(key, listen(t))
	rc.Peers = []Peer{{PublicKey: server, Addr: addr}}
	r, err := New(rc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	c, err := r.handshake(raw, true, server)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return c
}

// startFrame writes and flushes a start frame announcing epoch on c.
func startFrame(t *testing.T, c *conn, epoch uint64) {
	t.Helper()
	var b [startPayloadSize]byte
	binary.BigEndian.PutUint64(b[:], epoch)
	if err := writeFrame(c.w, kindStart, 0, b[:]); err != nil {
		t.Fatal(err)
	}
	if err := c.w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// dataFrame writes and flushes one data frame on channel 0.
func dataFrame(t *testing.T, c *conn, payload string) {
	t.Helper()
	if err := writeFrame(c.w, kindData, 0, []byte(payload)); err != nil {
		t.Fatal(err)
	}
	if err := c.w.Flush(); err != nil {
		t.Fatal(err)
	}
}
