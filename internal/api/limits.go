package api

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// This file holds the API's load limits: a token bucket per client IP and
// counters of requests in flight, open event streams and commit waits. A
// refusal costs a map lookup and an atomic add, and happens before any body
// is read. Each limit has its answer: 429 rate_limited for a client over
// its own rate, 503 busy for a node at its capacity; both say when to retry.

// maxClients bounds the buckets kept; past it, full (idle) buckets are
// dropped, and if that is not enough, all of them.
const maxClients = 16_384

// clientLimiter is a token bucket per client IP.
type clientLimiter struct {
	rate  rate.Limit
	burst int

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newClientLimiter(r rate.Limit, burst int) *clientLimiter {
	return &clientLimiter{rate: r, burst: burst, m: map[string]*rate.Limiter{}}
}

// allow takes a token from ip's bucket; when there is none it says how
// long until there is.
func (c *clientLimiter) allow(ip string, now time.Time) (bool, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.m[ip]
	if l == nil {
		if len(c.m) >= maxClients {
			c.evict(now)
		}
		l = rate.NewLimiter(c.rate, c.burst)
		c.m[ip] = l
	}
	if l.AllowN(now, 1) {
		return true, 0
	}
	return false, time.Duration(float64(time.Second) / float64(c.rate))
}

// evict drops the buckets that are full again (their clients have been
// idle long enough to be forgotten), or every bucket if none is.
func (c *clientLimiter) evict(now time.Time) {
	for ip, l := range c.m {
		if l.TokensAt(now) >= float64(c.burst) {
			delete(c.m, ip)
		}
	}
	if len(c.m) >= maxClients {
		clear(c.m)
	}
}

// admit applies the limits to a request: the client's bucket, then the
// in-flight or stream count. release gives the slot back.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, stream bool) (release func(), err error) {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		ip := net.ParseIP(host)
		if s.cfg.LimitLoopback || ip == nil || !ip.IsLoopback() {
			if ok, after := s.clients.allow(host, time.Now()); !ok {
				w.Header().Set("Retry-After", retryAfter(after))
				return nil, errf(http.StatusTooManyRequests, "rate_limited", "more than %g requests per second (burst %d) from %s", s.cfg.ClientRate, s.cfg.ClientBurst, host)
			}
		}
	}
	counter, limit, what := &s.inFlight, s.cfg.MaxInFlight, "requests in flight"
	if stream {
		counter, limit, what = &s.streams, s.cfg.MaxStreams, "event streams open"
	}
	if !take(counter, limit) {
		return nil, s.busy(w, "%d %s, the node's limit", limit, what)
	}
	return func() { counter.Add(-1) }, nil
}

// take adds one to counter unless it is at limit.
func take(counter *atomic.Int64, limit int) bool {
	if counter.Add(1) > int64(limit) {
		counter.Add(-1)
		return false
	}
	return true
}

// busy is the answer of a node at one of its capacity limits: 503 busy,
// retry in a second.
func (s *Server) busy(w http.ResponseWriter, format string, args ...any) error {
	w.Header().Set("Retry-After", "1")
	return errf(http.StatusServiceUnavailable, "busy", format, args...)
}

// retryAfter is a Retry-After value: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10)
}
