// Package p2p is the authenticated, encrypted transport between Cairn
// validators. A validator's network identity is its genesis Ed25519 key:
// connections are mutual TLS 1.3 with self-signed certificates carrying those
// keys, and a connection is accepted only if the peer's key is in the allowed
// set (the genesis validators) and, on the dialling side, is exactly the key
// configured for the dialled address.
//
// Invariants:
//   - At most one registered connection per peer. When both sides dial at
//     once, both keep the connection dialled by the lower public key (bytewise),
//     so they agree without talking; the other one is retired gracefully (we
//     stop writing, send close_notify and keep reading until EOF or a short
//     linger) so that what was already written on it is still delivered.
//   - Nothing blocks on a peer. Send and Broadcast never block: each peer has a
//     queue bounded in messages (QueueSize) and in payload bytes (QueueBytes)
//     and one writer goroutine; a message for a full queue, a disconnected
//     peer or an oversize payload is dropped and counted (a run of full-queue
//     drops is also logged once). A writer stuck on a peer that does not read
//     hits its write deadline and the connection is closed; other peers are
//     unaffected.
//   - Every byte in is bounded: frames larger than MaxMessageBytes close the
//     connection before their payload is read; a connection silent for
//     ReadTimeout (peers send a ping every HeartbeatInterval when idle) is
//     closed.
//   - Unauthenticated connections cannot keep validators out: inbound
//     connections wait for their handshake in limited pending slots, per
//     source IP and in a shared pool, with slots of their own for the
//     configured peers' addresses; a connection gets HelloTimeout to send its
//     TLS ClientHello and, when its address is at its limit, gives way to a
//     newer one (admission.go).
//   - Messages from one peer arrive in the order it sent them, also across
//     the replacement of a duplicate connection: the new writer starts after
//     the old one stopped and announces a higher epoch (frame.go), and the
//     receiver delivers from a connection only once every connection with a
//     lower or not yet announced epoch is drained; the two sides need not
//     agree on which connection came first. Delivery is best effort: what was in
//     flight when a connection fails is lost and never retried; the protocols
//     above (consensus, gossip, block sync) tolerate loss.
//
// Wire format (see frame.go): after the TLS handshake each side sends a hello
// (protocol version and network id) and waits for the other's; then frames
// of length:u32be kind:u8 channel:u8 payload. Channels are opaque bytes that
// let the node keep consensus, mempool gossip and block sync apart.
//
// Only peers listed in Config.Peers are dialled, with exponential backoff
// and jitter, capped at MaxBackoff. Any allowed key may dial us, and so may
// a key listed in Config.Followers: a non-voting replica that is never
// dialled, never part of a Broadcast, reached only by Send, with a smaller
// queue of its own, so that followers cannot take a validator's bandwidth
// or memory from its peers.
//
// Use:
//
//	tr, err := p2p.New(p2p.Config{Key: key, ListenAddr: "127.0.0.1:26656",
//		Peers: peers, Allowed: genesisKeys, NetworkID: chainID, Logger: log})
//	err = tr.Start(ctx)
//	go func() { for m := range tr.Receive() { handle(m) } }()
//	ok := tr.Send(peerKey, chConsensus, msg) // false: dropped and counted
//	n := tr.Broadcast(chMempool, tx)         // peers whose queue took it
//	err = tr.Close()                         // closes Receive
//
// The Receive channel must be drained promptly: when it is full every reader
// waits, which pushes back on the peers through TCP, and a peer whose writes
// stall past its WriteTimeout drops the connection.
//
// SetFaults is a fault-injection switch (drop a share of outgoing messages,
// delay them, or pretend some peers are unreachable) for tests and
// benchmarks only; the node refuses to enable it unless started with an
// explicit test flag.
//
// Counters are exposed by Stats (totals) and Peers (per peer) for export as
// metrics.
package p2p

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-db/cairn/crypto"
)

// Peer is a validator we dial: its identity and where it listens.
type Peer struct {
	PublicKey crypto.PublicKey
	Addr      string // host:port
}

// Message is one message received from a peer. Payload is owned by the
// receiver.
type Message struct {
	From    crypto.PublicKey
	Channel byte
	Payload []byte
}

// Defaults for zero Config fields.
const (
	DefaultQueueSize     = 1024
	DefaultQueueBytes    = 64 << 20
	DefaultRecvQueueSize = 4096
	// A follower's queue: a few blocks in flight, no more (it pulls).
	DefaultFollowerQueueSize  = 256
	DefaultFollowerQueueBytes = 16 << 20
	DefaultMaxMessageBytes    = 16 << 20
	DefaultHeartbeatInterval  = time.Second
	DefaultReadTimeout        = 5 * time.Second
	DefaultWriteTimeout       = 5 * time.Second
	DefaultDialTimeout        = 3 * time.Second
	DefaultHandshakeTimeout   = 5 * time.Second
	DefaultHelloTimeout       = time.Second
	// DefaultMaxPendingHandshakes bounds concurrent inbound handshakes from
	// addresses that are not a configured peer's, so a flood of TCP
	// connections costs a bounded amount of memory and CPU.
	DefaultMaxPendingHandshakes = 64
	DefaultMaxPendingPerSource  = 8
	DefaultMinBackoff           = 100 * time.Millisecond
	DefaultMaxBackoff           = 10 * time.Second
	DefaultLinger               = 2 * time.Second

	maxNetworkIDBytes = 128
	// stableAfter is how long a connection must last for the dial backoff to
	// reset; a peer that accepts and then drops us at once is backed off.
	stableAfter  = time.Second
	ioBufferSize = 64 << 10
)

// Config configures a Transport. Zero durations and sizes take the defaults
// above.
type Config struct {
	// Key is our validator key; its public half is our identity.
	Key *crypto.PrivateKey
	// ListenAddr is where we accept connections, e.g. "127.0.0.1:26656"
	// (port 0 picks a free port; see Addr). Ignored when Listener is set.
	ListenAddr string
	// Listener, if set, is used instead of listening on ListenAddr. The
	// transport owns it and closes it on Close.
	Listener net.Listener
	// Peers are the validators we dial. Every key must be in Allowed; our own
	// key is skipped.
	Peers []Peer
	// Allowed is the set of keys that may connect (the genesis validators).
	// Empty means exactly the keys in Peers.
	Allowed []crypto.PublicKey
	// Followers are keys of non-voting replicas that may connect to us
	// (they dial; we never do). They are not peers of the protocol:
	// Broadcast skips them, only Send reaches them, and each has the
	// smaller queue of FollowerQueueSize messages and FollowerQueueBytes
	// bytes, so that many followers, or a slow one, cost a validator a
	// bounded amount of memory and never hold up its validators' queues.
	// A key both in Allowed and in Followers is a follower.
	Followers []crypto.PublicKey
	// FollowerQueueSize and FollowerQueueBytes bound each follower's
	// outgoing queue (defaults 256 messages, and 16 MiB or one
	// MaxMessageBytes, whichever is larger).
	FollowerQueueSize  int
	FollowerQueueBytes int
	// NetworkID (e.g. the chain id) must match on both sides; it keeps
	// validators of two networks that share keys apart. At most 128 bytes.
	NetworkID string
	// QueueSize bounds each peer's outgoing queue, in messages.
	QueueSize int
	// QueueBytes bounds each peer's outgoing queue, in payload bytes; zero
	// means DefaultQueueBytes (64 MiB) or four MaxMessageBytes, whichever is
	// larger. A message is always taken into an empty queue, so a QueueBytes
	// below MaxMessageBytes does not make large messages unsendable.
	QueueBytes int
	// RecvQueueSize is the capacity of the Receive channel. When it is full,
	// readers wait, which pushes back on the senders through TCP.
	RecvQueueSize int
	// MaxMessageBytes bounds one message's payload, both ways.
	MaxMessageBytes int
	// HeartbeatInterval is how long a connection may be idle before we send a
	// ping; ReadTimeout is how long we wait for any frame before giving the
	// connection up. ReadTimeout must exceed HeartbeatInterval.
	HeartbeatInterval time.Duration
	ReadTimeout       time.Duration
	// WriteTimeout bounds one write; a peer that does not read for this long
	// is disconnected.
	WriteTimeout time.Duration
	DialTimeout  time.Duration
	// HandshakeTimeout bounds the TLS handshake and hello exchange.
	HandshakeTimeout time.Duration
	// HelloTimeout is how long an inbound connection may stay silent before
	// its TLS ClientHello arrives; validators send it at once, so it is much
	// shorter than HandshakeTimeout (and capped by it).
	HelloTimeout time.Duration
	// MaxPendingHandshakes bounds inbound connections not yet authenticated
	// from addresses that are not a configured peer's; MaxPendingPerSource
	// bounds them per source IP. Configured peers' addresses have slots of
	// their own. See admission.go.
	MaxPendingHandshakes int
	MaxPendingPerSource  int
	// MinBackoff and MaxBackoff bound the delay between dial attempts.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Linger bounds how long a retired duplicate connection is drained.
	Linger time.Duration
	// FaultSeed seeds the PRNG behind Faults.DropOutbound.
	FaultSeed uint64
	// CertLifetime is how long each self-signed TLS certificate is valid
	// (default DefaultCertLifetime); CertRenewBefore is how long before
	// its expiry a new one replaces it (default a third of the lifetime).
	// See certificate.go.
	CertLifetime    time.Duration
	CertRenewBefore time.Duration
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.QueueSize, DefaultQueueSize)
	def(&c.RecvQueueSize, DefaultRecvQueueSize)
	def(&c.MaxMessageBytes, DefaultMaxMessageBytes)
	def(&c.QueueBytes, max(DefaultQueueBytes, 4*c.MaxMessageBytes))
	def(&c.FollowerQueueSize, DefaultFollowerQueueSize)
	def(&c.FollowerQueueBytes, max(DefaultFollowerQueueBytes, c.MaxMessageBytes))
	defDur(&c.HeartbeatInterval, DefaultHeartbeatInterval)
	defDur(&c.ReadTimeout, DefaultReadTimeout)
	defDur(&c.WriteTimeout, DefaultWriteTimeout)
	defDur(&c.DialTimeout, DefaultDialTimeout)
	defDur(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	defDur(&c.HelloTimeout, DefaultHelloTimeout)
	c.HelloTimeout = min(c.HelloTimeout, c.HandshakeTimeout)
	def(&c.MaxPendingHandshakes, DefaultMaxPendingHandshakes)
	def(&c.MaxPendingPerSource, DefaultMaxPendingPerSource)
	defDur(&c.MinBackoff, DefaultMinBackoff)
	defDur(&c.MaxBackoff, DefaultMaxBackoff)
	defDur(&c.Linger, DefaultLinger)
	defDur(&c.CertLifetime, DefaultCertLifetime)
	defDur(&c.CertRenewBefore, c.CertLifetime/3)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// outMsg is a queued outgoing message. due, when non-zero, is the earliest
// time (unix nanoseconds) it may be written (Faults.Delay).
type outMsg struct {
	channel byte
	payload []byte
	due     int64
}

// peer is the per-validator state. It outlives connections: the queue and
// counters belong to the peer, so a replacement connection picks up what its
// predecessor had not yet written.
type peer struct {
	key  crypto.PublicKey
	addr string // configured dial address; "" if we only accept; set before the peer is published
	// ctx ends when SetValidators removes the peer (or the transport
	// closes): its dial loop stops.
	ctx    context.Context
	cancel context.CancelFunc
	queue  chan outMsg
	// follower: a non-voting replica (Config.Followers): skipped by
	// Broadcast, bounded by the follower queue limits.
	follower   bool
	queueBytes int64 // this peer's bound on queuedBytes
	// queuedBytes is the payload bytes in queue, against Config.QueueBytes;
	// queueFull is set while sends are being refused for a full queue, so
	// that each such episode is logged once.
	queuedBytes atomic.Int64
	queueFull   atomic.Bool

	// mu serialises changes of active; Send reads active without it.
	mu     sync.Mutex
	active atomic.Pointer[conn]
	since  time.Time     // guarded by mu
	wake   chan struct{} // signalled (cap 1) when active becomes nil

	// readers lists the connections to this peer whose reader runs; a
	// reader holds its deliveries while another may still deliver older
	// messages (holdForOrder). readersN mirrors its length for a lock-free
	// fast path. cond (on mu) signals changes of readers and their epochs.
	// nextEpoch is the last epoch given to a connection we write on.
	readers   []*conn // guarded by mu
	readersN  atomic.Int32
	nextEpoch uint64 // guarded by mu
	cond      *sync.Cond

	msgsIn, msgsOut, bytesIn, bytesOut        atomic.Uint64
	dropQueue, dropNotConnected, dropByFaults atomic.Uint64
	connects, disconnects                     atomic.Uint64
}

type counters struct {
	dropTooLarge, dropUnknown                  atomic.Uint64
	dials, dialFailures, refused, inboundFails atomic.Uint64
	protocolErrors                             atomic.Uint64
	pendingRefused, pendingEvicted             atomic.Uint64
	certRenewals                               atomic.Uint64
}

// Transport connects this validator to the others. Create it with New, then
// Start it; Close stops it and closes the Receive channel.
type Transport struct {
	cfg  Config
	self crypto.PublicKey
	log  *slog.Logger
	cert atomic.Pointer[tls.Certificate] // the current one; see certificate.go
	srv  *tls.Config
	// tab is the allowed peers (Allowed minus self, and Followers), by key
	// and sorted by key; replaced whole by SetValidators.
	tab   atomic.Pointer[peerTable]
	adm   *admission
	recv  chan Message
	dials atomic.Uint64 // the last dial sequence number (nextDial)

	faults atomic.Pointer[Faults]
	rngMu  sync.Mutex
	rng    *rand.Rand

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	ln        net.Listener
	live      map[net.Conn]struct{} // every open socket, closed by Close
	started   bool
	closed    bool
	stopWatch func() bool

	stats counters
}

// New validates cfg and prepares a transport; nothing listens or dials until
// Start.
func New(cfg Config) (*Transport, error) {
	if cfg.Key == nil {
		return nil, errors.New("p2p config: no key")
	}
	if len(cfg.NetworkID) > maxNetworkIDBytes {
		return nil, fmt.Errorf("p2p config: network id longer than %d bytes", maxNetworkIDBytes)
	}
	if cfg.Listener == nil && cfg.ListenAddr == "" {
		return nil, errors.New("p2p config: neither ListenAddr nor Listener set")
	}
	cfg.setDefaults()
	if cfg.ReadTimeout <= cfg.HeartbeatInterval {
		return nil, fmt.Errorf("p2p config: ReadTimeout %v must exceed HeartbeatInterval %v", cfg.ReadTimeout, cfg.HeartbeatInterval)
	}
	if cfg.MaxMessageBytes > 1<<31 {
		return nil, fmt.Errorf("p2p config: MaxMessageBytes %d above 2 GiB", cfg.MaxMessageBytes)
	}
	if cfg.CertRenewBefore >= cfg.CertLifetime {
		return nil, fmt.Errorf("p2p config: CertRenewBefore %v must be below CertLifetime %v", cfg.CertRenewBefore, cfg.CertLifetime)
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		return nil, fmt.Errorf("p2p config: MaxBackoff %v below MinBackoff %v", cfg.MaxBackoff, cfg.MinBackoff)
	}
	self := cfg.Key.Public()
	t := &Transport{
		cfg:  cfg,
		self: self,
		log:  cfg.Logger.With("self", short(self)),
		recv: make(chan Message, cfg.RecvQueueSize),
		rng:  rand.New(rand.NewPCG(cfg.FaultSeed, cfg.FaultSeed^0x9e3779b97f4a7c15)),
		live: make(map[net.Conn]struct{}),
		adm:  newAdmission(cfg.MaxPendingHandshakes, cfg.MaxPendingPerSource),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	peers := make(map[crypto.PublicKey]*peer)
	var order []*peer
	allowed := cfg.Allowed
	if len(allowed) == 0 {
		for _, p := range cfg.Peers {
			allowed = append(allowed, p.PublicKey)
		}
	}
	for _, k := range allowed {
		if k == self || peers[k] != nil {
			continue
		}
		peers[k] = t.newPeer(k, false)
	}
	for _, k := range cfg.Followers {
		if k == self {
			continue
		}
		if p := peers[k]; p != nil && !p.follower {
			delete(peers, k) // listed as a follower: treated as one
		} else if p != nil {
			continue
		}
		peers[k] = t.newPeer(k, true)
	}
	for _, pc := range cfg.Peers {
		if pc.PublicKey == self {
			continue
		}
		p := peers[pc.PublicKey]
		if p == nil {
			return nil, fmt.Errorf("p2p config: peer %s at %s is not in the allowed set", short(pc.PublicKey), pc.Addr)
		}
		if p.follower {
			return nil, fmt.Errorf("p2p config: peer %s at %s is a follower; followers dial validators, never the reverse", short(pc.PublicKey), pc.Addr)
		}
		if pc.Addr == "" {
			return nil, fmt.Errorf("p2p config: peer %s has no address", short(pc.PublicKey))
		}
		if p.addr != "" {
			return nil, fmt.Errorf("p2p config: peer %s listed twice", short(pc.PublicKey))
		}
		p.addr = pc.Addr
	}
	for _, p := range peers {
		order = append(order, p)
	}
	sort.Slice(order, func(i, j int) bool { return bytes.Compare(order[i].key[:], order[j].key[:]) < 0 })
	t.tab.Store(&peerTable{byKey: peers, order: order})
	if err := t.renewCertificate(time.Now()); err != nil {
		return nil, fmt.Errorf("p2p: %w", err)
	}
	t.srv = t.serverTLS()
	return t, nil
}

// Start listens and begins dialling the configured peers. Cancelling ctx
// has the effect of Close.
func (t *Transport) Start(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errors.New("p2p: start after close")
	}
	if t.started {
		return errors.New("p2p: started twice")
	}
	ln := t.cfg.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", t.cfg.ListenAddr)
		if err != nil {
			return fmt.Errorf("p2p listen %s: %w", t.cfg.ListenAddr, err)
		}
	}
	t.ln = ln
	t.started = true
	t.log.Info("p2p: listening", "addr", ln.Addr().String(), "peers", len(t.list()))
	t.wg.Add(1)
	go t.acceptLoop(ln)
	for _, p := range t.list() {
		if p.addr != "" {
			t.wg.Add(1)
			go t.dialLoop(p)
		}
	}
	t.wg.Add(1)
	go t.renewLoop()
	t.stopWatch = context.AfterFunc(ctx, func() { _ = t.Close() })
	return nil
}

// Addr is the address we listen on (nil before Start unless a Listener was
// given).
func (t *Transport) Addr() net.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ln != nil {
		return t.ln.Addr()
	}
	if t.cfg.Listener != nil {
		return t.cfg.Listener.Addr()
	}
	return nil
}

// MaxMessageBytes is the largest payload Send and Broadcast accept.
func (t *Transport) MaxMessageBytes() int { return t.cfg.MaxMessageBytes }

// PublicKey is our identity.
func (t *Transport) PublicKey() crypto.PublicKey { return t.self }

// Close stops listening and dialling, closes every connection, waits for the
// transport's goroutines and then closes the Receive channel. It is
// idempotent.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.cancel()
	var err error
	if t.ln != nil {
		if e := t.ln.Close(); e != nil && !errors.Is(e, net.ErrClosed) {
			err = fmt.Errorf("p2p close listener: %w", e)
		}
	} else if t.cfg.Listener != nil {
		_ = t.cfg.Listener.Close()
	}
	for c := range t.live {
		_ = c.Close()
	}
	stop := t.stopWatch
	t.mu.Unlock()
	if stop != nil {
		stop()
	}
	for _, p := range t.list() { // wake readers holding deliveries
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	}
	t.wg.Wait()
	close(t.recv)
	t.log.Info("p2p: closed")
	return err
}

// Receive returns the channel of incoming messages from every peer. It is
// closed by Close.
func (t *Transport) Receive() <-chan Message { return t.recv }

// Send queues msg for one peer without blocking. It reports false, and
// counts the drop, when the peer is unknown, not connected, partitioned by
// Faults, its queue is full, or msg exceeds MaxMessageBytes. True means
// queued on a live connection, not delivered. msg is copied.
func (t *Transport) Send(to crypto.PublicKey, channel byte, msg []byte) bool {
	if len(msg) > t.cfg.MaxMessageBytes {
		t.stats.dropTooLarge.Add(1)
		return false
	}
	p := t.lookup(to)
	if p == nil {
		t.stats.dropUnknown.Add(1)
		return false
	}
	return t.enqueue(p, channel, bytes.Clone(msg), t.faults.Load())
}

// Broadcast queues msg for every connected peer other than followers
// without blocking and returns how many queues took it. msg is copied once
// and shared.
func (t *Transport) Broadcast(channel byte, msg []byte) int {
	if len(msg) > t.cfg.MaxMessageBytes {
		t.stats.dropTooLarge.Add(1)
		return 0
	}
	cp := bytes.Clone(msg)
	f := t.faults.Load()
	n := 0
	for _, p := range t.list() {
		if p.follower {
			continue
		}
		if t.enqueue(p, channel, cp, f) {
			n++
		}
	}
	return n
}

func (t *Transport) enqueue(p *peer, channel byte, payload []byte, f *Faults) bool {
	m := outMsg{channel: channel, payload: payload}
	if f != nil && f.Partitioned[p.key] {
		p.dropByFaults.Add(1)
		return false
	}
	if p.active.Load() == nil {
		p.dropNotConnected.Add(1)
		return false
	}
	if f != nil {
		// Drawn only for messages that would otherwise be queued, so a run
		// with the same seed and traffic drops the same messages.
		if t.dropRoll(f.DropOutbound) {
			// An omission fault: the sender believes the message went out.
			p.dropByFaults.Add(1)
			return true
		}
		if f.Delay > 0 {
			m.due = time.Now().Add(f.Delay).UnixNano()
		}
	}
	// Reserve the bytes first so that concurrent senders cannot overshoot
	// the bound together. An empty queue takes any message.
	n := int64(len(payload))
	if after := p.queuedBytes.Add(n); after > p.queueBytes && after != n {
		p.queuedBytes.Add(-n)
		t.dropQueueFull(p)
		return false
	}
	select {
	case p.queue <- m:
		if p.queueFull.Load() {
			p.queueFull.Store(false)
		}
		return true
	default:
		p.queuedBytes.Add(-n)
		t.dropQueueFull(p)
		return false
	}
}

// dropQueueFull counts a message refused because p's queue is at its count
// or byte bound, and logs the first of a run of such drops.
func (t *Transport) dropQueueFull(p *peer) {
	p.dropQueue.Add(1)
	if p.queueFull.CompareAndSwap(false, true) {
		t.log.Warn("p2p: peer's queue full; dropping messages until it drains", "peer", short(p.key),
			"queued", len(p.queue), "queued_bytes", p.queuedBytes.Load())
	}
}

// took accounts for m leaving p's queue.
func (p *peer) took(m outMsg) { p.queuedBytes.Add(-int64(len(m.payload))) }

// PeerStatus describes one validator as seen by this transport.
type PeerStatus struct {
	PublicKey   crypto.PublicKey
	Follower    bool   // a non-voting replica (Config.Followers)
	Addr        string // configured dial address; "" if we only accept from it
	RemoteAddr  string // of the current connection
	Connected   bool
	Outbound    bool      // the current connection was dialled by us
	Since       time.Time // when the current connection was registered
	Partitioned bool      // by Faults
	QueueLen    int       // messages waiting to be written
	QueueBytes  int       // their payload bytes

	MessagesIn, MessagesOut uint64
	BytesIn, BytesOut       uint64 // payload bytes
	// Dropped counts messages for this peer that were not queued or were
	// discarded: queue full, not connected, or by Faults.
	Dropped               uint64
	Connects, Disconnects uint64
}

// Peers returns the status of every allowed validator and follower other
// than us, sorted by public key.
func (t *Transport) Peers() []PeerStatus {
	out := make([]PeerStatus, 0, len(t.list()))
	for _, p := range t.list() {
		s := PeerStatus{
			PublicKey:   p.key,
			Follower:    p.follower,
			Addr:        p.addr,
			Partitioned: t.partitioned(p.key),
			QueueLen:    len(p.queue),
			QueueBytes:  int(p.queuedBytes.Load()),
			MessagesIn:  p.msgsIn.Load(),
			MessagesOut: p.msgsOut.Load(),
			BytesIn:     p.bytesIn.Load(),
			BytesOut:    p.bytesOut.Load(),
			Dropped:     p.dropQueue.Load() + p.dropNotConnected.Load() + p.dropByFaults.Load(),
			Connects:    p.connects.Load(),
			Disconnects: p.disconnects.Load(),
		}
		p.mu.Lock()
		if c := p.active.Load(); c != nil {
			s.Connected = true
			s.Outbound = c.outbound
			s.RemoteAddr = c.raw.RemoteAddr().String()
			s.Since = p.since
		}
		p.mu.Unlock()
		out = append(out, s)
	}
	return out
}

// Stats are the transport's totals, for metrics.
type Stats struct {
	Peers          int // allowed validators other than us
	ConnectedPeers int
	// Followers and ConnectedFollowers count the listed followers (in none
	// of the other peer counts; their messages are in the totals).
	Followers          int
	ConnectedFollowers int

	MessagesIn, MessagesOut uint64
	BytesIn, BytesOut       uint64 // payload bytes

	DroppedQueueFull    uint64 // Send found the peer's queue full (QueueSize or QueueBytes)
	DroppedNotConnected uint64 // peer unknown or not connected
	DroppedTooLarge     uint64 // payload above MaxMessageBytes
	DroppedByFaults     uint64 // Faults: dropped or partitioned, both directions

	Dials         uint64 // outbound attempts
	DialFailures  uint64 // attempts that did not yield a connection
	Refused       uint64 // handshakes we aborted: unknown, unexpected or own key
	InboundFailed uint64 // inbound connections that failed before registration
	// PendingRefused counts inbound connections closed at accept because
	// the pending-handshake limits were reached (also in InboundFailed);
	// PendingEvicted those closed before their ClientHello to make room
	// for a newer connection from the same address.
	PendingRefused uint64
	PendingEvicted uint64
	Connects       uint64
	Disconnects    uint64
	ProtocolErrors uint64 // oversize frames, unknown kinds, bad hellos
}

// Stats returns the current totals.
func (t *Transport) Stats() Stats {
	s := Stats{
		DroppedTooLarge:     t.stats.dropTooLarge.Load(),
		DroppedNotConnected: t.stats.dropUnknown.Load(),
		Dials:               t.stats.dials.Load(),
		DialFailures:        t.stats.dialFailures.Load(),
		Refused:             t.stats.refused.Load(),
		InboundFailed:       t.stats.inboundFails.Load(),
		PendingRefused:      t.stats.pendingRefused.Load(),
		PendingEvicted:      t.stats.pendingEvicted.Load(),
		ProtocolErrors:      t.stats.protocolErrors.Load(),
	}
	for _, p := range t.list() {
		connected := p.active.Load() != nil
		switch {
		case p.follower:
			s.Followers++
			if connected {
				s.ConnectedFollowers++
			}
		default:
			s.Peers++
			if connected {
				s.ConnectedPeers++
			}
		}
		s.MessagesIn += p.msgsIn.Load()
		s.MessagesOut += p.msgsOut.Load()
		s.BytesIn += p.bytesIn.Load()
		s.BytesOut += p.bytesOut.Load()
		s.DroppedQueueFull += p.dropQueue.Load()
		s.DroppedNotConnected += p.dropNotConnected.Load()
		s.DroppedByFaults += p.dropByFaults.Load()
		s.Connects += p.connects.Load()
		s.Disconnects += p.disconnects.Load()
	}
	return s
}

// addLive records an open socket so Close can close it; it reports false
// (and the caller must close c) once the transport is closing.
func (t *Transport) addLive(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.live[c] = struct{}{}
	return true
}

func (t *Transport) removeLive(c net.Conn) {
	t.mu.Lock()
	delete(t.live, c)
	t.mu.Unlock()
}

// peerTable is the allowed peers at one time: by key, and sorted by key.
type peerTable struct {
	byKey map[crypto.PublicKey]*peer
	order []*peer
}

func (t *Transport) lookup(k crypto.PublicKey) *peer { return t.tab.Load().byKey[k] }

func (t *Transport) list() []*peer { return t.tab.Load().order }

func (t *Transport) newPeer(k crypto.PublicKey, follower bool) *peer {
	p := &peer{key: k, follower: follower, wake: make(chan struct{}, 1)}
	if follower {
		p.queue, p.queueBytes = make(chan outMsg, t.cfg.FollowerQueueSize), int64(t.cfg.FollowerQueueBytes)
	} else {
		p.queue, p.queueBytes = make(chan outMsg, t.cfg.QueueSize), int64(t.cfg.QueueBytes)
	}
	p.cond = sync.NewCond(&p.mu)
	p.ctx, p.cancel = context.WithCancel(t.ctx)
	return p
}

// SetValidators changes, at run time, who may connect and whom we dial:
// allowed are the validator keys admitted from now on (with the keys of
// peers), peers those we dial. A key new to the transport is admitted (and
// dialled when peers give its address); a validator no longer allowed is
// dropped: its dial loop stops and its connection is closed. Followers are
// kept as configured. A peer already known keeps its address. The node
// calls it after each commit from the validator sets of the next heights
// (internal/node), so a joining validator is reached before it votes and
// a leaving one is let go once it no longer does.
func (t *Transport) SetValidators(peers []Peer, allowed []crypto.PublicKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	want := map[crypto.PublicKey]string{}
	for _, k := range allowed {
		want[k] = ""
	}
	for _, pc := range peers {
		want[pc.PublicKey] = pc.Addr
	}
	delete(want, t.self)
	old := t.tab.Load()
	byKey := make(map[crypto.PublicKey]*peer, len(want))
	var removed, dial []*peer
	for k, p := range old.byKey {
		if _, ok := want[k]; ok || p.follower {
			byKey[k] = p
		} else {
			removed = append(removed, p)
		}
	}
	for k, addr := range want {
		if byKey[k] != nil {
			continue
		}
		p := t.newPeer(k, false)
		p.addr = addr
		byKey[k] = p
		if addr != "" {
			dial = append(dial, p)
		}
	}
	order := make([]*peer, 0, len(byKey))
	for _, p := range byKey {
		order = append(order, p)
	}
	sort.Slice(order, func(i, j int) bool { return bytes.Compare(order[i].key[:], order[j].key[:]) < 0 })
	t.tab.Store(&peerTable{byKey: byKey, order: order})
	for _, p := range removed {
		p.cancel()
		if c := p.active.Load(); c != nil {
			_ = c.raw.Close()
		}
		t.log.Info("p2p: peer removed", "peer", short(p.key))
	}
	for _, p := range dial {
		t.log.Info("p2p: peer added", "peer", short(p.key), "addr", p.addr)
		if t.started {
			t.wg.Add(1)
			go t.dialLoop(p)
		}
	}
}
