package p2p

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-db/cairn/crypto"
)

// conn is one authenticated connection to a peer. Its reader runs in the
// goroutine that called serve; its writer, started only if the connection is
// registered, drains the peer's queue.
type conn struct {
	p        *peer
	tc       *tls.Conn
	raw      net.Conn
	outbound bool
	r        *bufio.Reader
	w        *bufio.Writer

	// retire is closed to stop the writer (the connection was replaced, or is
	// going down); the writer then sends close_notify and the reader drains
	// until EOF or lingerUntil.
	retire      chan struct{}
	retireOnce  sync.Once
	lingerUntil atomic.Int64 // unix nanoseconds; 0 while not retiring
	writerDone  chan struct{}

	// dial is the dialler's sequence number for this connection (its hello).
	dial uint64
	// sendEpoch is the epoch our writer announces in its start frame,
	// assigned when the connection is registered (see frame.go).
	sendEpoch uint64

	// Guarded by p.mu (written only by the reader goroutine): recvEpoch is
	// the epoch the peer announced for its writes on this connection, once
	// recvKnown; readerDone once the reader has returned.
	recvEpoch  uint64
	recvKnown  bool
	readerDone bool
}

func (c *conn) startRetire(linger time.Duration) {
	c.retireOnce.Do(func() {
		until := time.Now().Add(linger)
		c.lingerUntil.Store(until.UnixNano())
		_ = c.raw.SetReadDeadline(until)
		close(c.retire)
	})
}

// acceptLoop accepts TCP connections until the listener is closed; each that
// is admitted (see admission) is handshaken and served in its own goroutine.
func (t *Transport) acceptLoop(ln net.Listener) {
	defer t.wg.Done()
	var dialAddrs []string
	for _, p := range t.list() {
		if p.addr != "" {
			dialAddrs = append(dialAddrs, p.addr)
		}
	}
	// Resolved here rather than in Start so that a slow resolver delays
	// only accepting (the kernel queues connections meanwhile), not Start.
	if bad := t.adm.reserve(t.ctx, dialAddrs, t.cfg.DialTimeout); len(bad) > 0 && t.ctx.Err() == nil {
		t.log.Warn("p2p: could not resolve peer addresses; no handshake slots reserved for them", "addrs", bad)
	}
	var backoff time.Duration
	for {
		raw, err := ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait a little, bounded.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			t.log.Warn("p2p: accept failed", "err", err, "retry_in", backoff)
			if !sleepCtx(t.ctx, backoff) {
				return
			}
			continue
		}
		backoff = 0
		pc, evicted, res := t.adm.admit(raw)
		switch res {
		case refusedSource, refusedShared:
			t.stats.inboundFails.Add(1)
			t.stats.pendingRefused.Add(1)
			why := "too many pending handshakes from this address"
			if res == refusedShared {
				why = "too many pending handshakes"
			}
			t.log.Warn("p2p: "+why+"; dropping connection", "remote", raw.RemoteAddr().String())
			_ = raw.Close()
			continue
		case admittedEvicting:
			// Its handshake goroutine sees the closed socket, fails and
			// counts it; logged at debug level since a flood repeats it.
			t.stats.pendingEvicted.Add(1)
			t.log.Debug("p2p: pending handshakes from this address at their limit; closing its oldest silent one", "remote", raw.RemoteAddr().String())
			_ = evicted.Close()
		}
		if !t.addLive(raw) {
			t.adm.release(pc)
			_ = raw.Close()
			return
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			c, err := t.handshake(raw, false, crypto.PublicKey{})
			t.adm.release(pc)
			if err != nil {
				t.stats.inboundFails.Add(1)
				t.removeLive(raw)
				_ = raw.Close()
				if errors.Is(err, errRefused) {
					t.log.Warn("p2p: refused inbound connection", "remote", raw.RemoteAddr().String(), "err", err)
				} else if t.ctx.Err() == nil {
					t.log.Info("p2p: inbound handshake failed", "remote", raw.RemoteAddr().String(), "err", err)
				}
				return
			}
			t.serve(c)
		}()
	}
}

// dialLoop keeps one connection to a configured peer: whenever we are not
// connected to it (by either direction), it dials, backing off on failure.
func (t *Transport) dialLoop(p *peer) {
	defer t.wg.Done()
	attempt := 0
	for {
		for p.active.Load() != nil {
			select {
			case <-p.wake:
			case <-p.ctx.Done():
				return
			}
		}
		if !sleepCtx(p.ctx, t.dialDelay(p, attempt)) {
			return
		}
		if p.active.Load() != nil {
			continue // it dialled us meanwhile
		}
		t.stats.dials.Add(1)
		c, err := t.dial(p)
		if err != nil {
			t.stats.dialFailures.Add(1)
			attempt++
			continue
		}
		start := time.Now()
		t.serve(c) // returns when the connection is gone
		if time.Since(start) >= stableAfter {
			attempt = 0
		} else {
			attempt++
		}
	}
}

// dialDelay is the wait before dial attempt number attempt (0 after start or
// after a stable connection ended): exponential from MinBackoff, capped at
// MaxBackoff, with jitter in [d/2, d] so validators restarted together do not
// dial in lockstep. The side with the higher key waits an extra two
// MinBackoffs so that, when both sides are up, the lower key (whose
// connection wins a tie) usually dials first and no duplicate is made.
func (t *Transport) dialDelay(p *peer, attempt int) time.Duration {
	var d time.Duration
	if attempt > 0 {
		d = t.cfg.MinBackoff
		for i := 1; i < attempt && d < t.cfg.MaxBackoff; i++ {
			d *= 2
		}
		d = min(d, t.cfg.MaxBackoff)
	}
	d = jitter(d)
	if bytes.Compare(t.self[:], p.key[:]) > 0 {
		d += jitter(2 * t.cfg.MinBackoff)
	}
	return d
}

func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (t *Transport) dial(p *peer) (*conn, error) {
	d := net.Dialer{Timeout: t.cfg.DialTimeout}
	raw, err := d.DialContext(t.ctx, "tcp", p.addr)
	if err != nil {
		// The peer is down or unreachable: routine, retried with backoff.
		t.log.Debug("p2p: dial failed", "peer", short(p.key), "addr", p.addr, "err", err)
		return nil, err
	}
	if !t.addLive(raw) {
		_ = raw.Close()
		return nil, net.ErrClosed
	}
	c, err := t.handshake(raw, true, p.key)
	if err != nil {
		t.removeLive(raw)
		_ = raw.Close()
		if t.ctx.Err() == nil {
			// Something listens there but the handshake failed: a wrong key
			// on either side, another network, or not a Cairn node.
			t.log.Warn("p2p: outbound handshake failed", "peer", short(p.key), "addr", p.addr, "err", err)
		}
		return nil, err
	}
	return c, nil
}

// handshake runs TLS and the hello exchange on raw. For outbound connections
// expected is the only key accepted.
func (t *Transport) handshake(raw net.Conn, outbound bool, expected crypto.PublicKey) (*conn, error) {
	var tc *tls.Conn
	if outbound {
		tc = tls.Client(raw, t.clientTLS(expected))
	} else {
		tc = tls.Server(raw, t.srv)
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.HandshakeTimeout)
	defer cancel()
	if !outbound {
		// Until its ClientHello arrives (see serverTLS) an inbound
		// connection has only HelloTimeout: a validator sends it at once.
		if err := raw.SetDeadline(time.Now().Add(t.cfg.HelloTimeout)); err != nil {
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	cs := tc.ConnectionState()
	if cs.NegotiatedProtocol != alpnProtocol {
		return nil, fmt.Errorf("%w: peer did not negotiate %s", errProtocol, alpnProtocol)
	}
	key, err := peerKey(cs) // checked by VerifyConnection; cannot fail here
	if err != nil {
		return nil, err
	}
	p := t.lookup(key)
	if p == nil {
		return nil, fmt.Errorf("%w: key %s", errRefused, short(key))
	}
	c := &conn{
		p:          p,
		tc:         tc,
		raw:        raw,
		outbound:   outbound,
		r:          bufio.NewReaderSize(tc, ioBufferSize),
		w:          bufio.NewWriterSize(tc, ioBufferSize),
		retire:     make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	// The dialler's TLS handshake completes before the acceptor has checked
	// the dialler's certificate (TLS 1.3), so the dialler waits for the
	// acceptor's hello: receiving it means the acceptor accepted our key.
	if err := raw.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout)); err != nil {
		return nil, fmt.Errorf("hello: %w", err)
	}
	var dial uint64
	if outbound {
		dial = t.nextDial()
	}
	if err := writeFrame(c.w, kindHello, 0, helloPayload(t.cfg.NetworkID, dial)); err != nil {
		return nil, fmt.Errorf("send hello: %w", err)
	}
	if err := c.w.Flush(); err != nil {
		return nil, fmt.Errorf("send hello: %w", err)
	}
	kind, _, payload, err := readFrame(c.r, maxHelloBytes)
	if err != nil {
		return nil, fmt.Errorf("read hello: %w", err)
	}
	if kind != kindHello {
		return nil, fmt.Errorf("%w: first frame has kind %d, want hello", errProtocol, kind)
	}
	theirDial, err := checkHello(payload, t.cfg.NetworkID)
	if err != nil {
		return nil, err
	}
	c.dial = dial
	if !outbound {
		c.dial = theirDial
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("hello: %w", err)
	}
	return c, nil
}

// serve registers c (or retires it if a preferred connection exists), runs
// its reader until the connection ends, and cleans up.
func (t *Transport) serve(c *conn) {
	writing, prev := t.register(c)
	if writing {
		t.wg.Add(1)
		go t.writeLoop(c, prev)
	} else {
		close(c.writerDone)
		c.startRetire(t.cfg.Linger)
		_ = c.raw.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
		_ = c.tc.CloseWrite()
	}
	t.addReader(c)
	err := t.readLoop(c)
	t.removeReader(c)
	c.startRetire(0)
	if !errors.Is(err, io.EOF) {
		_ = c.raw.Close()
	}
	// On a clean close (the peer retired this connection) the writer
	// flushes what it had taken from the queue before we close the socket;
	// its write deadline bounds the wait.
	<-c.writerDone
	_ = c.raw.Close()
	t.removeLive(c.raw)
	t.unregister(c, err)
}

// nextDial returns a sequence number for a connection we dial: larger than
// any before, also across restarts (it starts from the clock).
func (t *Transport) nextDial() uint64 {
	for {
		last := t.dials.Load()
		next := max(last+1, uint64(time.Now().UnixNano()))
		if t.dials.CompareAndSwap(last, next) {
			return next
		}
	}
}

// preferred reports whether c was dialled by the lower of the two keys: the
// connection both sides keep when they dialled each other at once.
func (t *Transport) preferred(c *conn) bool {
	selfLower := bytes.Compare(t.self[:], c.p.key[:]) < 0
	return c.outbound == selfLower
}

// register makes c the peer's active connection and reports whether it did,
// and which connection it displaced. Against an existing connection in the
// other direction, the preferred one wins; in the same direction the one
// dialled later wins (the dialler made it because it believes the old one
// dead), by the dialler's sequence number rather than by arrival here, so
// that both sides keep the same one.
func (t *Transport) register(c *conn) (ok bool, prev *conn) {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.active.Load()
	if t.ctx.Err() != nil || (old != nil && old.outbound != c.outbound && !t.preferred(c)) ||
		(old != nil && old.outbound == c.outbound && c.dial < old.dial) {
		if t.ctx.Err() == nil {
			t.log.Debug("p2p: keeping existing connection over duplicate", "peer", short(p.key), "outbound", c.outbound)
		}
		return false, nil
	}
	if old != nil {
		old.startRetire(t.cfg.Linger)
	}
	// Epochs rise across the connections we write on, also across a
	// restart of this process (they start from the clock), so the peer can
	// order what arrives on them.
	if p.nextEpoch == 0 {
		p.nextEpoch = uint64(time.Now().UnixNano())
	}
	p.nextEpoch++
	c.sendEpoch = p.nextEpoch
	p.active.Store(c)
	p.since = time.Now()
	p.connects.Add(1)
	p.cond.Broadcast() // a reader waiting as the active one is active no more
	if old == nil {
		t.log.Info("p2p: peer connected", "peer", short(p.key), "remote", c.raw.RemoteAddr().String(), "outbound", c.outbound)
	} else {
		t.log.Debug("p2p: replaced connection", "peer", short(p.key), "outbound", c.outbound)
	}
	return true, old
}

// addReader and removeReader keep p.readers, the connections to p whose
// reader runs, for holdForOrder.
func (t *Transport) addReader(c *conn) {
	p := c.p
	p.mu.Lock()
	p.readers = append(p.readers, c)
	p.readersN.Store(int32(len(p.readers)))
	p.mu.Unlock()
}

func (t *Transport) removeReader(c *conn) {
	p := c.p
	p.mu.Lock()
	c.readerDone = true
	if i := slices.Index(p.readers, c); i >= 0 {
		p.readers = slices.Delete(p.readers, i, i+1)
	}
	p.readersN.Store(int32(len(p.readers)))
	p.cond.Broadcast()
	p.mu.Unlock()
}

// holdForOrder blocks c's reader while another connection to the same peer
// may still deliver messages the peer sent before c's: one whose epoch is
// smaller, or not yet known (its start frame has not arrived). The peer
// writes on one connection at a time, in epoch order, and a connection it
// does not write on it closes for writing at once, so every wait ends when
// an older connection is drained (EOF, or the linger deadline of a retired
// one) or announces a later epoch.
func (t *Transport) holdForOrder(c *conn) {
	p := c.p
	if p.readersN.Load() <= 1 {
		return
	}
	p.mu.Lock()
	for t.ctx.Err() == nil && olderReader(p, c) {
		p.cond.Wait()
	}
	p.mu.Unlock()
}

// olderReader reports whether p has a running reader other than c that may
// deliver messages sent before c's; p.mu must be held.
func olderReader(p *peer, c *conn) bool {
	for _, o := range p.readers {
		if o != c && (!o.recvKnown || o.recvEpoch < c.recvEpoch) {
			return true
		}
	}
	return false
}

// unregister forgets c if it is still the active connection. Messages still
// queued for the peer stay queued for its next connection: a duplicate
// connection retired by the peer can end before its replacement registers
// here, and what was queued must not be lost in that gap. While the peer is
// disconnected Send refuses new messages, so the queue cannot grow stale
// beyond its bound; the protocols above discard outdated messages anyway.
func (t *Transport) unregister(c *conn, cause error) {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.active.Load() != c {
		return
	}
	p.active.Store(nil)
	p.disconnects.Add(1)
	select {
	case p.wake <- struct{}{}:
	default:
	}
	if t.ctx.Err() == nil {
		t.log.Info("p2p: peer disconnected", "peer", short(p.key), "err", cause)
	}
}

// readLoop delivers frames from c until the connection fails, the read
// deadline passes (silence or end of linger), or the transport closes.
func (t *Transport) readLoop(c *conn) error {
	p := c.p
	var lastSet time.Time
	for {
		// Refresh the idle deadline at most every quarter timeout: setting
		// it per frame costs more than small frames themselves. A retiring
		// connection keeps its fixed linger deadline.
		if c.lingerUntil.Load() == 0 {
			if now := time.Now(); now.Sub(lastSet) > t.cfg.ReadTimeout/4 {
				if err := c.raw.SetReadDeadline(now.Add(t.cfg.ReadTimeout)); err != nil {
					return err
				}
				lastSet = now
			}
		}
		kind, ch, payload, err := readFrame(c.r, t.cfg.MaxMessageBytes)
		if err != nil {
			if errors.Is(err, errProtocol) {
				return t.violation(p, err)
			}
			return err
		}
		switch kind {
		case kindPing:
			continue
		case kindHello:
			return t.violation(p, fmt.Errorf("%w: second hello", errProtocol))
		case kindStart:
			if c.recvKnown {
				return t.violation(p, fmt.Errorf("%w: second start frame", errProtocol))
			}
			p.mu.Lock()
			c.recvEpoch, c.recvKnown = binary.BigEndian.Uint64(payload), true
			p.cond.Broadcast()
			p.mu.Unlock()
			continue
		}
		if !c.recvKnown {
			return t.violation(p, fmt.Errorf("%w: data before the start frame", errProtocol))
		}
		p.msgsIn.Add(1)
		p.bytesIn.Add(uint64(len(payload)))
		if t.partitioned(p.key) {
			p.dropByFaults.Add(1)
			continue
		}
		t.holdForOrder(c)
		select {
		case t.recv <- Message{From: p.key, Channel: ch, Payload: payload}:
		case <-t.ctx.Done():
			return t.ctx.Err()
		}
	}
}

// violation counts and logs a peer's breach of the wire format and returns
// err, which ends the connection.
func (t *Transport) violation(p *peer, err error) error {
	t.stats.protocolErrors.Add(1)
	t.log.Warn("p2p: protocol violation; disconnecting", "peer", short(p.key), "err", err)
	return err
}

// writeLoop drains the peer's queue onto c, once prev (the connection c
// displaced, if any) has stopped writing, coalescing whatever is queued
// into one flush, and sends a ping when idle. On retire it sends
// close_notify and exits; on a write error it closes the socket so the
// reader ends too.
func (t *Transport) writeLoop(c *conn, prev *conn) {
	defer t.wg.Done()
	defer close(c.writerDone)
	hb := time.NewTicker(t.cfg.HeartbeatInterval)
	defer hb.Stop()
	w := connWriter{t: t, c: c, hb: hb}
	var err error
	if prev != nil {
		// Keep per-peer order: the displaced writer may still be flushing
		// messages taken from the queue before ours (bounded by its write
		// deadline).
		select {
		case <-prev.writerDone:
		case <-c.retire:
			err = errRetired
		case <-t.ctx.Done():
			return
		}
	}
	if err == nil {
		var epoch [startPayloadSize]byte
		binary.BigEndian.PutUint64(epoch[:], c.sendEpoch)
		if err = w.frame(kindStart, 0, epoch[:]); err == nil {
			err = w.flush()
		}
	}
	for err == nil {
		select {
		case <-c.retire:
			err = errRetired
		case <-t.ctx.Done():
			return
		case m := <-c.p.queue:
			c.p.took(m)
			err = w.write(m)
			// Coalesce what is already queued into one flush; bounded so a
			// flood cannot postpone the flush forever.
			for i := 0; err == nil && i < 4096; i++ {
				select {
				case <-c.retire:
					err = errRetired
				case m = <-c.p.queue:
					c.p.took(m)
					err = w.write(m)
					continue
				default:
				}
				break
			}
			if err == nil {
				err = w.flush()
			}
		case <-hb.C:
			err = w.ping()
		}
	}
	if errors.Is(err, errRetired) {
		// Replaced or going down: say goodbye cleanly; the reader drains
		// until the peer closes too or the linger ends.
		if w.flush() == nil {
			_ = c.raw.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
			_ = c.tc.CloseWrite()
		}
		return
	}
	if t.ctx.Err() == nil {
		t.log.Info("p2p: write failed; disconnecting", "peer", short(c.p.key), "err", err)
	}
	_ = c.raw.Close()
}

// connWriter writes frames with a write deadline that is refreshed at most
// every quarter WriteTimeout, for the same reason as the read deadline.
type connWriter struct {
	t         *Transport
	c         *conn
	hb        *time.Ticker
	lastSet   time.Time
	lastWrite time.Time
}

var errRetired = errors.New("connection retired")

// wait sleeps for d (a Faults.Delay), still sending heartbeats so that a long
// injected delay does not look like a dead connection to the peer. It does
// not stop on retire: the message was taken from the queue and must still go
// out on this connection, which the peer keeps draining.
func (w *connWriter) wait(d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	for {
		select {
		case <-tm.C:
			return nil
		case <-w.hb.C:
			if err := w.ping(); err != nil {
				return err
			}
		case <-w.t.ctx.Done():
			return w.t.ctx.Err()
		}
	}
}

// ping sends a heartbeat if nothing was written for a heartbeat interval.
func (w *connWriter) ping() error {
	if time.Since(w.lastWrite) < w.t.cfg.HeartbeatInterval {
		return nil
	}
	if err := w.frame(kindPing, 0, nil); err != nil {
		return err
	}
	return w.flush()
}

func (w *connWriter) deadline() error {
	now := time.Now()
	w.lastWrite = now
	if now.Sub(w.lastSet) > w.t.cfg.WriteTimeout/4 {
		w.lastSet = now
		return w.c.raw.SetWriteDeadline(now.Add(w.t.cfg.WriteTimeout))
	}
	return nil
}

func (w *connWriter) frame(kind, ch byte, payload []byte) error {
	if err := w.deadline(); err != nil {
		return err
	}
	return writeFrame(w.c.w, kind, ch, payload)
}

func (w *connWriter) flush() error {
	if w.c.w.Buffered() == 0 {
		return nil
	}
	if err := w.deadline(); err != nil {
		return err
	}
	return w.c.w.Flush()
}

// write sends one queued message, first waiting out its Faults.Delay.
func (w *connWriter) write(m outMsg) error {
	p := w.c.p
	if m.due != 0 {
		if wait := time.Until(time.Unix(0, m.due)); wait > 0 {
			// Do not hold earlier messages hostage to this one's delay.
			if err := w.flush(); err != nil {
				return err
			}
			if err := w.wait(wait); err != nil {
				return err
			}
		}
	}
	if w.t.partitioned(p.key) {
		p.dropByFaults.Add(1)
		return nil
	}
	if err := w.frame(kindData, m.channel, m.payload); err != nil {
		return err
	}
	p.msgsOut.Add(1)
	p.bytesOut.Add(uint64(len(m.payload)))
	return nil
}
