package p2p

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/cairn-db/cairn/crypto"
)

// Every pair of four validators exchanges messages on several channels, plus
// broadcasts; every message arrives exactly once, from the right sender, on
// the right channel, in order per sender and channel.
func TestMeshDeliversOnAllChannels(t *testing.T) {
	const n, perChannel = 4, 20
	channels := []byte{0, 1, 2, 255}
	trs := mesh(t, n, nil)
	cols := make([]*collector, n)
	for i, tr := range trs {
		cols[i] = collect(tr)
	}
	waitMesh(t, trs)

	for i, src := range trs {
		for j, dst := range trs {
			if i == j {
				continue
			}
			for _, ch := range channels {
				for k := range perChannel {
					sendEventually(t, src, dst.PublicKey(), ch, fmt.Appendf(nil, "%d>%d ch%d #%d", i, j, ch, k))
				}
			}
		}
		if got := src.Broadcast(7, fmt.Appendf(nil, "%d>all", i)); got != n-1 {
			t.Fatalf("broadcast from %d queued for %d peers, want %d", i, got, n-1)
		}
	}

	want := (n-1)*len(channels)*perChannel + (n - 1)
	for j := range trs {
		waitFor(t, fmt.Sprintf("node %d to receive %d messages", j, want), func() bool { return cols[j].count() >= want })
	}
	for j, col := range cols {
		msgs := col.snapshot()
		if len(msgs) != want {
			t.Fatalf("node %d received %d messages, want %d", j, len(msgs), want)
		}
		next := map[string]int{} // per sender and channel: next expected sequence number
		seen := map[string]bool{}
		for _, m := range msgs {
			if seen[string(m.Payload)] {
				t.Fatalf("node %d: duplicate %q", j, m.Payload)
			}
			seen[string(m.Payload)] = true
			var from, to, k int
			var ch byte
			if _, err := fmt.Sscanf(string(m.Payload), "%d>%d ch%d #%d", &from, &to, &ch, &k); err == nil {
				if to != j || m.From != trs[from].PublicKey() || m.Channel != ch {
					t.Fatalf("node %d: message %q arrived from %s on channel %d", j, m.Payload, short(m.From), m.Channel)
				}
				key := fmt.Sprint(from, ch)
				if k != next[key] {
					t.Fatalf("node %d: from %d on channel %d got #%d, want #%d", j, from, ch, k, next[key])
				}
				next[key]++
				continue
			}
			if _, err := fmt.Sscanf(string(m.Payload), "%d>all", &from); err != nil || m.Channel != 7 || m.From != trs[from].PublicKey() {
				t.Fatalf("node %d: unexpected message %q on channel %d", j, m.Payload, m.Channel)
			}
		}
	}
	for i, tr := range trs {
		s := tr.Stats()
		if s.ConnectedPeers != n-1 || s.MessagesIn != uint64(want) || s.MessagesOut != uint64(want) {
			t.Errorf("node %d stats: %+v", i, s)
		}
	}
}

// A key outside the validator set is refused by the accepting side, and the
// dialling outsider learns it was refused and never counts as connected.
func TestUnknownKeyRefused(t *testing.T) {
	member, outsider := testKey(0), testKey(9)
	var memberLog, outsiderLog logBuffer
	mln, oln := listen(t), listen(t)

	mc := testConfig(member, mln)
	mc.Allowed = []crypto.PublicKey{member.Public(), testKey(1).Public()}
	mc.Logger = memberLog.logger()
	m := start(t, mc)

	oc := testConfig(outsider, oln)
	oc.Peers = []Peer{{PublicKey: member.Public(), Addr: mln.Addr().String()}}
	oc.Logger = outsiderLog.logger()
	o := start(t, oc)

	waitFor(t, "the member to refuse the outsider", func() bool {
		return m.Stats().Refused >= 1 && o.Stats().DialFailures >= 1
	})
	waitFor(t, "refusals in both logs", func() bool {
		return memberLog.contains("refused inbound connection") && outsiderLog.contains("outbound handshake failed")
	})
	if s := o.Stats(); s.Connects != 0 || s.ConnectedPeers != 0 {
		t.Fatalf("outsider counted a connection: %+v", s)
	}
	if s := m.Stats(); s.Connects != 0 {
		t.Fatalf("member counted a connection: %+v", s)
	}
	for _, p := range m.Peers() {
		if p.PublicKey == outsider.Public() {
			t.Fatal("outsider appears among the member's peers")
		}
	}
	if o.Send(member.Public(), 0, []byte("x")) {
		t.Fatal("outsider could send to the member")
	}
}

// Dialling an address where a different key answers is refused by the
// dialler, even when that key is itself an allowed validator.
func TestWrongExpectedKeyRefused(t *testing.T) {
	a, b, c := testKey(0), testKey(1), testKey(2)
	allowed := []crypto.PublicKey{a.Public(), b.Public(), c.Public()}
	var aLog logBuffer
	aln, cln := listen(t), listen(t)

	cc := testConfig(c, cln)
	cc.Allowed = allowed
	ct := start(t, cc)

	ac := testConfig(a, aln)
	ac.Allowed = allowed
	// Configured to find b where c actually listens.
	ac.Peers = []Peer{{PublicKey: b.Public(), Addr: cln.Addr().String()}}
	ac.Logger = aLog.logger()
	at := start(t, ac)

	waitFor(t, "a to refuse c posing as b", func() bool {
		return at.Stats().Refused >= 2 && ct.Stats().InboundFailed >= 2
	})
	waitFor(t, "the refusal logged", func() bool { return aLog.contains("expected " + short(b.Public())) })
	if s := at.Stats(); s.Connects != 0 {
		t.Fatalf("a connected: %+v", s)
	}
	if s := ct.Stats(); s.Connects != 0 {
		t.Fatalf("c connected: %+v", s)
	}
}

// When a peer restarts (same key, same address) the connection comes back
// and delivery resumes in both directions. Both the lower and the higher key
// are restarted, since they dial differently.
func TestReconnectAfterRestart(t *testing.T) {
	for restart := range 2 {
		t.Run(fmt.Sprint("restart node ", restart), func(t *testing.T) {
			var cfgs [2]Config
			trs := mesh(t, 2, func(i int, c *Config) { cfgs[i] = *c })
			other := 1 - restart
			colOther := collect(trs[other])
			collect(trs[restart])
			waitMesh(t, trs)
			sendEventually(t, trs[restart], trs[other].PublicKey(), 1, []byte("before"))
			waitFor(t, "message before restart", func() bool { return colOther.has("before") })

			addr := trs[restart].Addr().String()
			if err := trs[restart].Close(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the disconnect noticed", func() bool { return !connectedTo(trs[other], trs[restart].PublicKey()) })
			if trs[other].Send(trs[restart].PublicKey(), 1, []byte("lost")) {
				t.Fatal("Send to a disconnected peer reported success")
			}

			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatalf("rebind %s: %v", addr, err)
			}
			c := cfgs[restart]
			c.Listener = ln
			again := start(t, c)
			colAgain := collect(again)
			waitMesh(t, []*Transport{trs[other], again})
			sendEventually(t, trs[other], again.PublicKey(), 2, []byte("after, to restarted"))
			sendEventually(t, again, trs[other].PublicKey(), 2, []byte("after, from restarted"))
			waitFor(t, "delivery after restart", func() bool {
				return colAgain.has("after, to restarted") && colOther.has("after, from restarted")
			})
			if colAgain.has("lost") {
				t.Fatal("a message refused by Send was delivered")
			}
		})
	}
}

// A frame above MaxMessageBytes is a protocol error: the receiver closes the
// connection without reading the payload. Send refuses oversize messages
// locally.
func TestOversizeFrameDisconnects(t *testing.T) {
	const limit = 1024
	mk, rk := testKey(0), testKey(1)
	mln := listen(t)
	mc := testConfig(mk, mln)
	mc.Allowed = []crypto.PublicKey{mk.Public(), rk.Public()}
	mc.MaxMessageBytes = limit
	m := start(t, mc)

	if m.Send(rk.Public(), 0, make([]byte, limit+1)) || m.Stats().DroppedTooLarge != 1 {
		t.Fatal("oversize Send was not refused and counted")
	}

	// A hand-driven client with a valid identity, using the transport's own
	// handshake but writing a bad frame itself.
	c := handDriven(t, rk, mk.Public(), mln.Addr().String())
	waitFor(t, "the client registered", func() bool { return connectedTo(m, rk.Public()) })

	// A valid frame first, then one a byte too long.
	startFrame(t, c, 1)
	if err := writeFrame(c.w, kindData, 3, make([]byte, limit)); err != nil {
		t.Fatal(err)
	}
	var h [frameHeaderSize]byte
	binary.BigEndian.PutUint32(h[:4], limit+1)
	h[4] = kindData
	if _, err := c.w.Write(h[:]); err != nil {
		t.Fatal(err)
	}
	if err := c.w.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-m.Receive():
		if len(msg.Payload) != limit || msg.Channel != 3 {
			t.Fatalf("got %d bytes on channel %d", len(msg.Payload), msg.Channel)
		}
	case <-time.After(waitLimit):
		t.Fatal("the valid frame was not delivered")
	}
	// The server hangs up: reads end with an error, not a ping forever.
	_ = c.raw.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		if _, _, _, err := readFrame(c.r, 1<<20); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("connection still open after an oversize frame")
			}
			break
		}
	}
	waitFor(t, "the disconnect", func() bool { return !connectedTo(m, rk.Public()) })
	if s := m.Stats(); s.ProtocolErrors != 1 {
		t.Fatalf("protocol errors = %d, want 1", s.ProtocolErrors)
	}
}

// Messages from one peer keep the order it wrote them in even when its
// connections were registered here in another order: the receiver follows
// the epochs the sender announces, not its own view of which is newer.
func TestOrderFollowsSenderEpochs(t *testing.T) {
	mk, rk := testKey(0), testKey(1)
	mln := listen(t)
	mc := testConfig(mk, mln)
	mc.Allowed = []crypto.PublicKey{mk.Public(), rk.Public()}
	m := start(t, mc)
	first := handDriven(t, rk, mk.Public(), mln.Addr().String())
	waitFor(t, "the first connection registered", func() bool { return connectedTo(m, rk.Public()) })
	second := handDriven(t, rk, mk.Public(), mln.Addr().String())
	waitFor(t, "the second connection registered", func() bool {
		a := m.lookup(rk.Public()).active.Load()
		return a != nil && a.raw.RemoteAddr().String() == second.raw.LocalAddr().String()
	})
	// Here the second connection is the active one, but the sender wrote on
	// it first (epoch 1) and then on the first one (epoch 2).
	startFrame(t, second, 1)
	dataFrame(t, second, "early")
	startFrame(t, first, 2)
	dataFrame(t, first, "late")
	select {
	case msg := <-m.Receive():
		if string(msg.Payload) != "early" {
			t.Fatalf("first delivery %q, want early", msg.Payload)
		}
	case <-time.After(waitLimit):
		t.Fatal("nothing delivered")
	}
	select {
	case msg := <-m.Receive():
		t.Fatalf("%q delivered while the older connection is still open", msg.Payload)
	case <-time.After(100 * time.Millisecond):
	}
	// The sender is done with the older connection: the later one's
	// messages follow.
	if err := second.tc.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-m.Receive():
		if string(msg.Payload) != "late" {
			t.Fatalf("second delivery %q, want late", msg.Payload)
		}
	case <-time.After(waitLimit):
		t.Fatal("the later connection's message was not delivered")
	}
}

// Data before the start frame, and a second start frame, break the wire
// format: the connection is closed and counted.
func TestStartFrameRules(t *testing.T) {
	for name, send := range map[string]func(t *testing.T, c *conn){
		"data before start": func(t *testing.T, c *conn) { dataFrame(t, c, "x") },
		"second start":      func(t *testing.T, c *conn) { startFrame(t, c, 1); startFrame(t, c, 2) },
	} {
		t.Run(name, func(t *testing.T) {
			mk, rk := testKey(0), testKey(1)
			mln := listen(t)
			mc := testConfig(mk, mln)
			mc.Allowed = []crypto.PublicKey{mk.Public(), rk.Public()}
			m := start(t, mc)
			c := handDriven(t, rk, mk.Public(), mln.Addr().String())
			waitFor(t, "the client registered", func() bool { return connectedTo(m, rk.Public()) })
			send(t, c)
			waitFor(t, "the disconnect", func() bool { return !connectedTo(m, rk.Public()) })
			if s := m.Stats(); s.ProtocolErrors != 1 || s.MessagesIn != 0 {
				t.Fatalf("protocol errors %d, received %d; want 1 and 0", s.ProtocolErrors, s.MessagesIn)
			}
		})
	}
}

// A peer that stops reading does not slow delivery to the others: the
// sender's queue for it fills and drops, and the others receive every
// message.
func TestSlowPeerDoesNotBlockOthers(t *testing.T) {
	const msgs, size = 256, 64 << 10
	trs := mesh(t, 4, func(i int, c *Config) {
		c.QueueSize = 16
		if i == 3 {
			c.RecvQueueSize = 1
		}
	})
	src, slow := trs[0], trs[3]
	cols := []*collector{nil, collect(trs[1]), collect(trs[2])}
	// trs[3]'s Receive is never drained.
	waitMesh(t, trs)

	payload := make([]byte, size)
	for i := range msgs {
		binary.BigEndian.PutUint32(payload, uint32(i))
		src.Send(slow.PublicKey(), 0, payload) // may be refused: that is the point
		for _, j := range []int{1, 2} {
			sendEventually(t, src, trs[j].PublicKey(), 0, payload)
		}
		for _, j := range []int{1, 2} {
			waitFor(t, fmt.Sprintf("node %d to receive message %d", j, i), func() bool { return cols[j].count() == i+1 })
		}
	}
	for _, j := range []int{1, 2} {
		for i, m := range cols[j].snapshot() {
			if got := binary.BigEndian.Uint32(m.Payload); got != uint32(i) || len(m.Payload) != size {
				t.Fatalf("node %d: message %d carries sequence %d", j, i, got)
			}
		}
	}
	// The slow peer really was stuck: not everything sent to it got through.
	var st PeerStatus
	for _, p := range src.Peers() {
		if p.PublicKey == slow.PublicKey() {
			st = p
		}
	}
	if st.Dropped == 0 && st.Disconnects == 0 {
		t.Fatalf("slow peer took everything; the test did not exercise a stuck peer: %+v", st)
	}
	t.Logf("slow peer: dropped %d, disconnects %d, written %d", st.Dropped, st.Disconnects, st.MessagesOut)
}

// Both sides dialling each other at once end with one shared connection;
// messages sent while the duplicates come and go all arrive, in order.
func TestDuplicateConnectionsResolve(t *testing.T) {
	const n = 300
	trs := mesh(t, 2, nil)
	cols := []*collector{collect(trs[0]), collect(trs[1])}
	waitMesh(t, trs)
	a, b := trs[0], trs[1]
	pa, pb := a.lookup(b.PublicKey()), b.lookup(a.PublicKey())

	sent := make(chan error, 1)
	go func() {
		send := func(from, to *Transport, msg []byte) error {
			deadline := time.Now().Add(waitLimit)
			for !from.Send(to.PublicKey(), 0, msg) {
				if time.Now().After(deadline) {
					return fmt.Errorf("%s refused for %v", msg, waitLimit)
				}
				time.Sleep(time.Millisecond)
			}
			return nil
		}
		for i := range n {
			if err := send(a, b, fmt.Appendf(nil, "a%03d", i)); err != nil {
				sent <- err
				return
			}
			if err := send(b, a, fmt.Appendf(nil, "b%03d", i)); err != nil {
				sent <- err
				return
			}
			if i%10 == 0 {
				time.Sleep(time.Millisecond) // spread the sends over the dials
			}
		}
		sent <- nil
	}()
	// Extra connections in both directions, as simultaneous dials make,
	// while traffic flows.
	for _, d := range []struct{ from, to *Transport }{{a, b}, {b, a}, {a, b}, {b, a}} {
		c, err := d.from.dial(d.from.lookup(d.to.PublicKey()))
		if err != nil {
			t.Fatal(err)
		}
		d.from.wg.Add(1)
		go func() { defer d.from.wg.Done(); d.from.serve(c) }()
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "one shared connection", func() bool {
		ca, cb := pa.active.Load(), pb.active.Load()
		if ca == nil || cb == nil || ca.raw.LocalAddr().String() != cb.raw.RemoteAddr().String() {
			return false
		}
		a.mu.Lock()
		la := len(a.live)
		a.mu.Unlock()
		b.mu.Lock()
		lb := len(b.live)
		b.mu.Unlock()
		return la == 1 && lb == 1
	})
	// The kept connection is the one dialled by the lower key.
	lowerIsA := bytes.Compare(a.self[:], b.self[:]) < 0
	if pa.active.Load().outbound != lowerIsA {
		t.Fatalf("kept a connection dialled by the higher key")
	}
	waitFor(t, "every message", func() bool { return cols[0].count() == n && cols[1].count() == n })
	for i, got := range cols[1].from(a.PublicKey()) {
		if want := fmt.Sprintf("a%03d", i); got != want {
			t.Fatalf("b's message %d is %q, want %q", i, got, want)
		}
	}
	for i, got := range cols[0].from(b.PublicKey()) {
		if want := fmt.Sprintf("b%03d", i); got != want {
			t.Fatalf("a's message %d is %q, want %q", i, got, want)
		}
	}
}

func TestSendRefusals(t *testing.T) {
	trs := mesh(t, 2, nil)
	tr := trs[0]
	if tr.Send(tr.PublicKey(), 0, nil) {
		t.Error("Send to ourselves succeeded")
	}
	if tr.Send(testKey(42).Public(), 0, nil) {
		t.Error("Send to an unknown key succeeded")
	}
	if got := tr.Stats().DroppedNotConnected; got != 2 {
		t.Errorf("DroppedNotConnected = %d, want 2", got)
	}
}

func TestConfigValidation(t *testing.T) {
	k := testKey(0)
	cases := map[string]Config{
		"no key":         {ListenAddr: "127.0.0.1:0"},
		"no listen addr": {Key: k},
		"peer not allowed": {Key: k, ListenAddr: "127.0.0.1:0",
			Allowed: []crypto.PublicKey{testKey(1).Public()},
			Peers:   []Peer{{PublicKey: testKey(2).Public(), Addr: "127.0.0.1:1"}}},
		"peer without address": {Key: k, ListenAddr: "127.0.0.1:0",
			Peers: []Peer{{PublicKey: testKey(2).Public()}}},
		"peer twice": {Key: k, ListenAddr: "127.0.0.1:0",
			Peers: []Peer{{PublicKey: testKey(2).Public(), Addr: "127.0.0.1:1"}, {PublicKey: testKey(2).Public(), Addr: "127.0.0.1:2"}}},
		"read timeout below heartbeat": {Key: k, ListenAddr: "127.0.0.1:0",
			HeartbeatInterval: time.Second, ReadTimeout: time.Second},
	}
	for name, c := range cases {
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
}

// Close is idempotent, closes the Receive channel, and a cancelled Start
// context closes the transport too.
func TestCloseAndContext(t *testing.T) {
	c := testConfig(testKey(0), listen(t))
	c.Allowed = []crypto.PublicKey{testKey(1).Public()}
	tr, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := tr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(ctx); err == nil {
		t.Fatal("second Start accepted")
	}
	cancel()
	select {
	case _, ok := <-tr.Receive():
		if ok {
			t.Fatal("message on an idle transport")
		}
	case <-time.After(waitLimit):
		t.Fatal("Receive not closed after the context was cancelled")
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(context.Background()); err == nil {
		t.Fatal("Start after Close accepted")
	}
}

// A peer that completes the handshake and then falls silent (no data, no
// heartbeat) is disconnected by the read deadline.
func TestSilentPeerDisconnected(t *testing.T) {
	mk, rk := testKey(0), testKey(1)
	mln := listen(t)
	mc := testConfig(mk, mln)
	mc.Allowed = []crypto.PublicKey{mk.Public(), rk.Public()}
	mc.ReadTimeout = time.Second
	m := start(t, mc)

	handDriven(t, rk, mk.Public(), mln.Addr().String())
	waitFor(t, "the silent peer registered", func() bool { return connectedTo(m, rk.Public()) })
	waitFor(t, "the silent peer dropped", func() bool { return !connectedTo(m, rk.Public()) })
	if s := m.Stats(); s.Disconnects != 1 {
		t.Fatalf("disconnects = %d, want 1", s.Disconnects)
	}
}

// Validators configured for different networks never connect, even with
// valid keys.
func TestNetworkIDMismatch(t *testing.T) {
	trs := mesh(t, 2, func(i int, c *Config) { c.NetworkID = fmt.Sprint("net-", i) })
	waitFor(t, "both sides to reject the hello", func() bool {
		return trs[0].Stats().DialFailures+trs[0].Stats().InboundFailed >= 2 &&
			trs[1].Stats().DialFailures+trs[1].Stats().InboundFailed >= 2
	})
	for _, tr := range trs {
		if s := tr.Stats(); s.Connects != 0 {
			t.Fatalf("connected across networks: %+v", s)
		}
	}
}

// ListenAddr with port 0 binds a free port that Addr reports and peers can
// dial.
func TestListenAddrPortZero(t *testing.T) {
	a, b := testKey(0), testKey(1)
	ac := testConfig(a, nil)
	ac.ListenAddr = "127.0.0.1:0"
	ac.Allowed = []crypto.PublicKey{a.Public(), b.Public()}
	at, err := New(ac)
	if err != nil {
		t.Fatal(err)
	}
	if at.Addr() != nil {
		t.Fatal("address before Start")
	}
	if err := at.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer at.Close()
	addr, ok := at.Addr().(*net.TCPAddr)
	if !ok || addr.Port == 0 || !addr.IP.IsLoopback() {
		t.Fatalf("Addr() = %v", at.Addr())
	}
	bc := testConfig(b, listen(t))
	bc.Peers = []Peer{{PublicKey: a.Public(), Addr: addr.String()}}
	bt := start(t, bc)
	waitMesh(t, []*Transport{at, bt})
}
