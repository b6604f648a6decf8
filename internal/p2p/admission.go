package p2p

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Admission of inbound connections before they are authenticated.
//
// Anyone who can reach the port can open TCP connections, and until the TLS
// handshake has shown a validator's certificate nothing tells them apart
// from a validator. An inbound connection therefore holds a pending slot
// from accept until its handshake ends, and slots are limited so that idle
// or stalled connections cannot keep validators out:
//
//   - Per source address: at most MaxPendingPerSource pending connections
//     from one IP. When a source is at its limit, its newest connection
//     replaces its oldest one that has not yet sent a TLS ClientHello: a
//     validator sends its ClientHello as soon as it is connected, so the
//     connection that has been silent longest is the least likely to be
//     one. This is what protects validators that share an address with an
//     attacker (all devnet nodes share 127.0.0.1).
//   - Shared pool: connections from addresses that are not a configured
//     peer's take slots from one pool of MaxPendingHandshakes; when it is
//     full they are refused.
//   - Reserved: an address a configured peer resolves to does not use the
//     shared pool; its own limit is MaxPendingPerSource or two per peer
//     configured at it, whichever is larger. So a flood from other addresses
//     cannot crowd out the peers we know.
//   - Until its ClientHello arrives a connection has HelloTimeout (short);
//     after that the whole handshake has HandshakeTimeout.
//
// Invariant: pending connections number at most MaxPendingHandshakes plus
// the reserved addresses' limits.
type admission struct {
	shared    int // capacity of the pool for unreserved sources
	perSource int

	mu       sync.Mutex
	reserved map[netip.Addr]int // per-source limit of configured peers' addresses
	inShared int                // pending connections from unreserved sources
	bySource map[netip.Addr][]*pendingConn
	byConn   map[net.Conn]*pendingConn
}

// pendingConn is an inbound connection holding a pending slot.
type pendingConn struct {
	raw      net.Conn
	src      netip.Addr
	reserved bool
	hello    bool // its ClientHello arrived: it is no longer evicted
	released bool
}

// admitResult says what admit did with a new connection.
type admitResult int

const (
	admitted         admitResult = iota
	admittedEvicting             // admitted in place of an older silent connection
	refusedSource                // its source is at its limit with no silent connection
	refusedShared                // the shared pool is full
)

func newAdmission(shared, perSource int) *admission {
	return &admission{
		shared:    shared,
		perSource: perSource,
		reserved:  map[netip.Addr]int{},
		bySource:  map[netip.Addr][]*pendingConn{},
		byConn:    map[net.Conn]*pendingConn{},
	}
}

// reserve records the addresses of the configured peers (host:port each).
// IP literals are taken as they are; host names are resolved, bounded by
// timeout, and a name that does not resolve gets no reservation (its peer
// then competes in the shared pool, as before it was known).
func (a *admission) reserve(ctx context.Context, addrs []string, timeout time.Duration) (unresolved []string) {
	count := map[netip.Addr]int{}
	for _, hp := range addrs {
		host, _, err := net.SplitHostPort(hp)
		if err != nil {
			unresolved = append(unresolved, hp)
			continue
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			count[ip.Unmap()]++
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, timeout)
		ips, err := net.DefaultResolver.LookupNetIP(lctx, "ip", host)
		cancel()
		if err != nil || len(ips) == 0 {
			unresolved = append(unresolved, hp)
			continue
		}
		for _, ip := range ips {
			count[ip.Unmap()]++
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for ip, n := range count {
		a.reserved[ip] = max(a.perSource, 2*n)
	}
	return unresolved
}

// sourceOf is the IP a connection comes from. Connections whose address is
// not an IP (a custom listener) share one source, the zero Addr.
func sourceOf(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// admit gives raw a pending slot, or says why not. When the result is
// admittedEvicting, evicted is the connection it replaced, which the caller
// must close.
func (a *admission) admit(raw net.Conn) (p *pendingConn, evicted net.Conn, res admitResult) {
	src := sourceOf(raw)
	a.mu.Lock()
	defer a.mu.Unlock()
	limit, reserved := a.reserved[src]
	if !reserved {
		limit = a.perSource
	}
	list := a.bySource[src]
	var victim *pendingConn
	if len(list) >= limit {
		for _, q := range list {
			if !q.hello {
				victim = q
				break
			}
		}
		if victim == nil {
			return nil, nil, refusedSource
		}
	}
	// A victim from the same source frees a slot in the same pool.
	if !reserved && victim == nil && a.inShared >= a.shared {
		return nil, nil, refusedShared
	}
	res = admitted
	if victim != nil {
		a.releaseLocked(victim)
		evicted, res = victim.raw, admittedEvicting
	}
	p = &pendingConn{raw: raw, src: src, reserved: reserved}
	a.bySource[src] = append(a.bySource[src], p)
	a.byConn[raw] = p
	if !reserved {
		a.inShared++
	}
	return p, evicted, res
}

// helloArrived marks raw's ClientHello as received, so it is not evicted
// for a newer connection from its source any more.
func (a *admission) helloArrived(raw net.Conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p := a.byConn[raw]; p != nil {
		p.hello = true
	}
}

// release frees p's slot once its handshake ended. It is idempotent: an
// evicted connection's slot was freed when it was evicted.
func (a *admission) release(p *pendingConn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.releaseLocked(p)
}

func (a *admission) releaseLocked(p *pendingConn) {
	if p.released {
		return
	}
	p.released = true
	delete(a.byConn, p.raw)
	list := a.bySource[p.src]
	for i, q := range list {
		if q == p {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(a.bySource, p.src)
	} else {
		a.bySource[p.src] = list
	}
	if !p.reserved {
		a.inShared--
	}
}

// pending reports the number of pending connections, for tests.
func (a *admission) pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.byConn)
}
