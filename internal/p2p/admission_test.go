package p2p

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/cairn-db/cairn/crypto"
)

// idleConns opens n TCP connections to addr that never send a byte, like a
// flood of half-open clients, and closes them at the end of the test.
func idleConns(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("idle connection %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return conns
}

// A flood of idle TCP connections from the validators' own address does not
// keep a validator out: it connects while the idle connections are still
// within their deadlines (set far beyond the test's wait), so the deadlines
// are not what lets it in.
func TestIdleConnectionsDoNotLockOutPeer(t *testing.T) {
	a, b := testKey(0), testKey(1)
	allowed := []crypto.PublicKey{a.Public(), b.Public()}
	aln, bln := listen(t), listen(t)
	const long = 10 * waitLimit

	ac := testConfig(a, aln)
	ac.Allowed = allowed
	ac.HandshakeTimeout = long
	ac.HelloTimeout = long
	at := start(t, ac)

	idleConns(t, aln.Addr().String(), 3*DefaultMaxPendingHandshakes)

	bc := testConfig(b, bln)
	bc.Allowed = allowed
	bc.Peers = []Peer{{PublicKey: a.Public(), Addr: aln.Addr().String()}}
	bc.HandshakeTimeout = long
	bt := start(t, bc)

	waitFor(t, "b to connect to a through the flood", func() bool {
		return connectedTo(at, b.Public()) && connectedTo(bt, a.Public())
	})
	if s := at.Stats(); s.PendingEvicted == 0 {
		t.Fatalf("no idle connection was evicted: %+v", s)
	}
	if n := at.adm.pending(); n > DefaultMaxPendingPerSource {
		t.Fatalf("%d pending handshakes from one address, limit %d", n, DefaultMaxPendingPerSource)
	}
}

// dialFrom opens a TCP connection to addr from the local IP src, or skips
// the test where that loopback address is not usable (it is on Linux).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("cannot dial from %s: %v", src, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Idle connections from many other addresses fill the shared pool, after
// which further unknown sources are refused; a configured peer's address
// has slots of its own and its validator still connects.
func TestConfiguredPeerAddressHasReservedSlots(t *testing.T) {
	a, b := testKey(0), testKey(1)
	allowed := []crypto.PublicKey{a.Public(), b.Public()}
	aln, bln := listen(t), listen(t)
	const long = 10 * waitLimit

	// a knows b at 127.0.0.1 but at a port where nothing listens, so the
	// connection can only come from b dialling a.
	dead := listen(t)
	deadAddr := dead.Addr().String()
	_ = dead.Close()
	ac := testConfig(a, aln)
	ac.Allowed = allowed
	ac.Peers = []Peer{{PublicKey: b.Public(), Addr: deadAddr}}
	ac.HandshakeTimeout, ac.HelloTimeout = long, long
	ac.MaxPendingHandshakes, ac.MaxPendingPerSource = 6, 2
	at := start(t, ac)

	for i := range 3 { // 3 sources x 2 = the shared pool's 6 slots
		for range 2 {
			dialFrom(t, fmt.Sprintf("127.0.0.%d", 2+i), aln.Addr().String())
		}
	}
	waitFor(t, "the shared pool to fill", func() bool { return at.adm.pending() == 6 })
	late := dialFrom(t, "127.0.0.9", aln.Addr().String())
	waitFor(t, "a further unknown source to be refused", func() bool { return at.Stats().PendingRefused == 1 })
	if _, err := late.Read(make([]byte, 1)); err == nil {
		t.Fatal("the refused connection is open")
	}

	bc := testConfig(b, bln)
	bc.Allowed = allowed
	bc.Peers = []Peer{{PublicKey: a.Public(), Addr: aln.Addr().String()}}
	bt := start(t, bc)
	waitFor(t, "b to connect to a through its reserved slots", func() bool {
		return connectedTo(at, b.Public()) && connectedTo(bt, a.Public())
	})
	if s := at.Stats(); s.PendingEvicted != 0 {
		t.Fatalf("connections evicted: %+v", s)
	}
}

// A connection that sends nothing is closed after HelloTimeout, well before
// HandshakeTimeout.
func TestSilentConnectionClosedAfterHelloTimeout(t *testing.T) {
	a := testKey(0)
	aln := listen(t)
	ac := testConfig(a, aln)
	ac.Allowed = []crypto.PublicKey{a.Public(), testKey(1).Public()}
	ac.HandshakeTimeout = 10 * waitLimit
	ac.HelloTimeout = 50 * time.Millisecond
	at := start(t, ac)

	c := idleConns(t, aln.Addr().String(), 1)[0]
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("silent connection still open after %v", waitLimit)
	}
	waitFor(t, "the failure counted", func() bool { return at.Stats().InboundFailed == 1 })
}
