// Package api is a validator's REST API: JSON over HTTP under /v1, plus
// /metrics, /healthz and /readyz. It reads the committed chain from the
// ledger, hands submitted transactions to the node (mempool admission and
// gossip), streams committed blocks as server-sent events from the events
// hub, and serves an OpenAPI 3 document describing all of it. docs/api.md
// is the reference for clients. It also serves the explorer's pages
// (internal/explorer) at / for browsers.
//
// The JSON shapes are the Go types of package client, so the SDK and the
// server share one definition.
//
// Invariants:
//   - A client's mistake gets a 4xx with a JSON body {"error": {"code",
//     "message"}}, never a 500; a 500 means a bug or a storage failure. Its
//     body says only "internal error" and an id; the detail is logged under
//     that id. A panic in a handler is recovered, logged with its stack and
//     answered 500; it never takes the process down.
//   - Every error, from any handler, the mempool, the ledger or the search
//     index, is mapped to a status and code in one place (asAPIError).
//   - A POST must carry Content-Type: application/json (415 otherwise), so
//     a web page cannot post to a node without a CORS preflight.
//   - Every request body is bounded (http.MaxBytesReader) and every request
//     but the event stream has a deadline; ?wait=commit waits at most
//     MaxWait.
//   - Reads are snapshots at one committed height: a response never mixes
//     two heights.
//   - The API never writes state: it only reads the ledger and passes
//     transactions to Backend.Submit.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/time/rate"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/blobstore"
	"github.com/cairn-db/cairn/internal/events"
	"github.com/cairn-db/cairn/internal/explorer"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

// Backend is what the API needs from the node.
type Backend interface {
	// Ledger returns the committed chain.
	Ledger() *ledger.Ledger
	// Submit admits txs to the mempool and gossips the admitted ones.
	// errs[i] is tx i's result: nil, a *types.TxError, mempool.ErrFull,
	// mempool.ErrDuplicate (or ErrCommitted), an error wrapping
	// ErrUnavailable (the node cannot take transactions now), or any other
	// error (the node's fault: answered 500).
	Submit(txs []*types.Tx) []error
	// Pending returns a tx waiting in the mempool.
	Pending(h crypto.Hash) (*types.Tx, bool)
	// Info describes the node for /v1/status.
	Info() NodeInfo
	// Ready returns nil when the node is serving (GET /readyz), else why not.
	Ready() error
}

// NodeInfo is the node-specific part of /v1/status.
type NodeInfo struct {
	Name      string
	Peers     []client.Peer
	Mempool   client.MempoolStatus
	Consensus client.ConsensusStatus
	// IndexedHeight is the last height the search index has applied.
	IndexedHeight uint64
	// P2PCertificate describes the p2p certificate (nil: none).
	P2PCertificate *client.CertificateStatus
}

// ErrUnavailable is wrapped by Backend.Submit errors that mean the node
// cannot take transactions right now (starting, syncing, shutting down):
// answered 503.
var ErrUnavailable = errors.New("node unavailable")

// Config configures the API. Zero limits take the defaults shown.
type Config struct {
	Backend Backend
	// Events is the hub of committed blocks (for /v1/events and
	// ?wait=commit). Nil: /v1/events answers 503 and waits poll the ledger.
	Events *events.Hub
	// Search answers GET /v1/search (nil: 503 "search is not enabled", or
	// 421 wrong_node naming IndexElsewhere when that is set).
	Search Searcher
	// Snapshots serves GET /v1/snapshots (nil: the list is empty).
	Snapshots SnapshotSource
	// IndexElsewhere are API base URLs of nodes that index, for a node
	// that does not (a validator; see WrongNodeError).
	IndexElsewhere []string
	// Gatherer is served at /metrics (nil: an empty registry).
	Gatherer prometheus.Gatherer
	// Registerer, when set, receives the API's own metrics (requests by
	// route and status, latency, open event streams).
	Registerer prometheus.Registerer
	// Logger receives request errors (nil: discard).
	Logger *slog.Logger

	// MaxBodyBytes bounds a single-transaction request body (4 MiB).
	MaxBodyBytes int64
	// MaxBatchBodyBytes bounds a batch request body (64 MiB).
	MaxBatchBodyBytes int64
	// MaxBatchTxs bounds the transactions in one batch (10,000).
	MaxBatchTxs int
	// MaxQueryBodyBytes bounds the body of any other request (64 KiB).
	MaxQueryBodyBytes int64
	// RequestTimeout bounds every request except the event stream and the
	// wait of ?wait=commit (30 s).
	RequestTimeout time.Duration
	// DefaultWait and MaxWait: how long ?wait=commit waits without and at
	// most with ?timeout (10 s, 60 s).
	DefaultWait, MaxWait time.Duration
	// DefaultPageSize and MaxPageSize for paged lists (100, 1,000).
	DefaultPageSize, MaxPageSize int
	// Heartbeat is the interval of SSE comment lines that keep idle
	// streams open through proxies (15 s).
	Heartbeat time.Duration
	// EventBuffer is how many blocks an event stream may fall behind
	// before it is dropped from the hub and catches up from the ledger (256).
	EventBuffer int
	// WriteTimeout bounds writing one response or one event (30 s).
	WriteTimeout time.Duration

	// Load limits (see docs/api.md, "Limits"). /healthz, /readyz and
	// /metrics are exempt from all of them, so an overloaded node can
	// still be watched.
	//
	// ClientRate and ClientBurst are each client's token bucket, by
	// remote IP: requests per second and the burst (1,000/s, 2,000).
	// Past it: 429 rate_limited with Retry-After.
	ClientRate  float64
	ClientBurst int
	// LimitLoopback applies the client bucket to loopback clients too
	// (off: local tools, benchmarks and tests are not rate limited; turn
	// it on behind a reverse proxy on the same machine, where every client
	// looks local).
	LimitLoopback bool
	// MaxInFlight bounds requests being served at once, event streams
	// aside (1,024). Past it: 503 busy with Retry-After.
	MaxInFlight int
	// MaxStreams bounds open event streams (256); MaxReplayBlocks how far
	// behind the head ?from= or Last-Event-ID may start (10,000 blocks;
	// older blocks are for GET /v1/blocks/{height}). Past them: 503 busy,
	// 400 bad_request.
	MaxStreams      int
	MaxReplayBlocks int
	// MaxWaits bounds requests waiting with ?wait=commit at once (512).
	// Past it: 503 busy, before the body is read.
	MaxWaits int

	// Blobs is the node's blob store for PUT and GET /v1/blobs (nil: they
	// answer 503 blobs_disabled). MaxBlobBytes bounds one upload
	// (blobstore.DefaultMaxBytes, 1 GiB); BlobTimeout bounds one blob
	// request, body included (10 minutes).
	Blobs        blobstore.Store
	MaxBlobBytes int64
	BlobTimeout  time.Duration
	// Access is who may call which route (auth.go; zero: everyone).
	Access Access
	// MetricsElsewhere leaves /metrics out of this handler: it is served
	// by MetricsHandler on the node's own metrics listener.
	MetricsElsewhere bool
}

func (c *Config) setDefaults() {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxBodyBytes, 4<<20)
	def(&c.MaxBatchBodyBytes, 64<<20)
	def(&c.MaxQueryBodyBytes, 64<<10)
	defInt(&c.MaxBatchTxs, 10_000)
	defDur(&c.RequestTimeout, 30*time.Second)
	defDur(&c.DefaultWait, 10*time.Second)
	defDur(&c.MaxWait, 60*time.Second)
	defInt(&c.DefaultPageSize, 100)
	defInt(&c.MaxPageSize, 1000)
	defDur(&c.Heartbeat, 15*time.Second)
	defInt(&c.EventBuffer, 256)
	defDur(&c.WriteTimeout, 30*time.Second)
	if c.ClientRate <= 0 {
		c.ClientRate = 1000
	}
	defInt(&c.ClientBurst, 2000)
	defInt(&c.MaxInFlight, 1024)
	defInt(&c.MaxStreams, 256)
	defInt(&c.MaxReplayBlocks, 10_000)
	defInt(&c.MaxWaits, 512)
	def(&c.MaxBlobBytes, blobstore.DefaultMaxBytes)
	defDur(&c.BlobTimeout, 10*time.Minute)
	if c.MaxBatchBodyBytes < c.MaxBodyBytes {
		c.MaxBatchBodyBytes = c.MaxBodyBytes
	}
	if c.DefaultWait > c.MaxWait {
		c.DefaultWait = c.MaxWait
	}
	if c.DefaultPageSize > c.MaxPageSize {
		c.DefaultPageSize = c.MaxPageSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Gatherer == nil {
		c.Gatherer = prometheus.NewRegistry()
	}
}

// Server is the API's http.Handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	routes  []route
	metrics *metrics

	closeOnce sync.Once
	closing   chan struct{}

	// Load limits (Config.ClientRate and after).
	clients                  *clientLimiter
	inFlight, streams, waits atomic.Int64
}

// handlerFunc is an endpoint: it writes a success response itself and
// returns an error for anything else (an *apiError for client mistakes).
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route is one endpoint of the API.
type route struct {
	method  string
	pattern string // ServeMux path pattern, also the metrics label
	h       handlerFunc
	// stream marks the long-lived event stream: no request timeout.
	stream bool
	// body is the request body limit (0: MaxQueryBodyBytes).
	body int64
	// timeout overrides RequestTimeout (0: RequestTimeout).
	timeout time.Duration
	// unlimited exempts the route from the load limits (health, metrics).
	unlimited bool
}

// New returns the API handler. It panics if cfg.Backend is nil (a wiring
// bug found at startup, not on a request).
func New(cfg Config) *Server {
	if cfg.Backend == nil {
		panic("api: Config.Backend is nil")
	}
	cfg.setDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), closing: make(chan struct{}),
		clients: newClientLimiter(rate.Limit(cfg.ClientRate), cfg.ClientBurst)}
	s.metrics = newMetrics(cfg.Registerer)
	s.routes = []route{
		{method: "GET", pattern: "/v1/status", h: s.status},
		{method: "POST", pattern: "/v1/txs", h: s.submit, body: cfg.MaxBatchBodyBytes, timeout: cfg.RequestTimeout + cfg.MaxWait},
		{method: "GET", pattern: "/v1/txs/{hash}", h: s.getTx},
		{method: "GET", pattern: "/v1/blocks/{height}", h: s.getBlock},
		{method: "GET", pattern: "/v1/kv/{key}", h: s.getKV},
		{method: "GET", pattern: "/v1/kv/{key}/history", h: s.kvHistory},
		{method: "GET", pattern: "/v1/accounts/{address}", h: s.getAccount},
		{method: "GET", pattern: "/v1/accounts/{address}/txs", h: s.accountTxs},
		{method: "GET", pattern: "/v1/events", h: s.events, stream: true},
		{method: "GET", pattern: "/v1/evidence", h: s.evidence},
		{method: "GET", pattern: "/v1/search", h: s.search},
		{method: "GET", pattern: "/v1/fields/{id}", h: s.getField},
		{method: "GET", pattern: "/v1/contracts", h: s.listContracts},
		{method: "GET", pattern: "/v1/contracts/{name}", h: s.getContract},
		{method: "GET", pattern: "/v1/contracts/{name}/keys/{key}", h: s.getContractKey},
		{method: "GET", pattern: "/v1/contracts/{name}/keys/{key}/history", h: s.contractKeyHistory},
		{method: "POST", pattern: "/v1/contracts/{name}/query", h: s.queryContract},
		{method: "PUT", pattern: "/v1/blobs", h: s.putBlob, body: cfg.MaxBlobBytes + 1, timeout: cfg.BlobTimeout},
		{method: "GET", pattern: "/v1/blobs/{hash}", h: s.getBlob, timeout: cfg.BlobTimeout},
		{method: "GET", pattern: "/v1/openapi.json", h: s.openAPI},
		{method: "GET", pattern: "/metrics", h: s.promHandler(), unlimited: true},
		{method: "GET", pattern: "/healthz", h: s.healthz, unlimited: true},
		{method: "GET", pattern: "/readyz", h: s.readyz, unlimited: true},
	}
	s.routes = append(s.routes, s.snapshotRoutes()...)
	s.routes = append(s.routes, s.validatorRoutes()...)
	s.routes = append(s.routes, s.stakingRoutes()...) // staking.go
	if cfg.MetricsElsewhere {
		s.routes = slices.DeleteFunc(s.routes, func(rt route) bool { return rt.pattern == "/metrics" })
	}
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	// The explorer's pages and files (internal/explorer), for browsers:
	// GET only, under the same limits, outside the OpenAPI document.
	ui := explorer.Handler()
	for _, p := range explorer.Patterns {
		s.mux.Handle("GET "+p, s.wrap(route{method: "GET", pattern: p, h: func(w http.ResponseWriter, r *http.Request) error {
			ui.ServeHTTP(w, r)
			return nil
		}}))
	}
	// Everything else: JSON 404, or 405 when the path exists for another
	// method.
	s.mux.Handle("/", s.wrap(route{pattern: "unmatched", h: s.unmatched}))
	return s
}

// MetricsHandler serves /metrics, /healthz and /readyz, for a listener of
// their own (the node's metrics_addr): monitoring then never shares a port,
// nor its load limits, with clients. /metrics needs scope admin when
// tokens are on.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range []route{
		{method: "GET", pattern: "/metrics", h: s.promHandler(), unlimited: true},
		{method: "GET", pattern: "/healthz", h: s.healthz, unlimited: true},
		{method: "GET", pattern: "/readyz", h: s.readyz, unlimited: true},
	} {
		mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	mux.Handle("/", s.wrap(route{pattern: "unmatched", unlimited: true, h: func(w http.ResponseWriter, r *http.Request) error {
		return errf(http.StatusNotFound, "not_found", "no such endpoint: %s %s", r.Method, r.URL.Path)
	}}))
	return mux
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close ends every open event stream and wait, so an http.Server's Shutdown
// can finish; register it with http.Server.RegisterOnShutdown. Requests
// after Close are still served.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.closing) }) }

// NewHTTPServer returns an http.Server for h with timeouts fit for the API:
// headers within 10 s, idle keep-alive connections closed after 2 minutes.
// Body read and response write deadlines are set per request by the API
// itself (the event stream needs none), so the server sets no overall
// read or write timeout. It registers h's Close for Shutdown.
func NewHTTPServer(addr string, h *Server, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Addr: addr, Handler: h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	if log != nil {
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	srv.RegisterOnShutdown(h.Close)
	return srv
}

// recorder remembers the status written through it (for logs, metrics and
// the panic handler) and passes everything else on.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush lets the event stream flush through the recorder.
func (w *recorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer (deadlines).
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap applies, outermost first: metrics and logging, panic recovery,
// deadlines and body limits, then the handler with its error mapping.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				ae := s.internal(r, fmt.Errorf("panic: %v", v), "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeError(rec, ae)
				}
				if rec.status == 0 {
					rec.status = http.StatusInternalServerError
				}
				s.metrics.panics.Inc()
			}
			s.metrics.observe(rt.pattern, rec.status, time.Since(start))
		}()

		if !rt.unlimited {
			release, err := s.admit(rec, r, rt.stream)
			if err != nil {
				s.fail(rec, r, err)
				return
			}
			defer release()
		}
		if err := s.authorize(rec, r, routeScope(rt)); err != nil {
			s.fail(rec, r, err)
			return
		}

		rc := http.NewResponseController(rec)
		if !rt.stream {
			timeout := rt.timeout
			if timeout <= 0 {
				timeout = s.cfg.RequestTimeout
			}
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			r = r.WithContext(ctx)
			// Deadlines on the connection stop a client that trickles its
			// body or never reads the answer from holding a goroutine. They
			// are best effort: not every ResponseWriter supports them. The
			// body is read first thing, so RequestTimeout bounds it even on
			// routes that may then wait longer (?wait=commit).
			_ = rc.SetReadDeadline(time.Now().Add(s.cfg.RequestTimeout))
			_ = rc.SetWriteDeadline(time.Now().Add(timeout + s.cfg.WriteTimeout))
		}
		limit := rt.body
		if limit <= 0 {
			limit = s.cfg.MaxQueryBodyBytes
		}
		r.Body = http.MaxBytesReader(rec, r.Body, limit)

		var err error
		if rt.method == http.MethodPost {
			err = needJSON(r)
		}
		if err == nil {
			err = rt.h(rec, r)
		}
		if err != nil {
			s.fail(rec, r, err)
		}
	})
}

// needJSON refuses a POST whose Content-Type is not application/json
// (parameters such as charset allowed). Browsers send text/plain and form
// encodings cross-origin without asking; application/json needs a CORS
// preflight, which this API never grants, so a web page cannot post to a
// node on the user's machine.
func needJSON(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errf(http.StatusUnsupportedMediaType, "unsupported_media_type", "POST needs Content-Type: application/json, got %q", r.Header.Get("Content-Type"))
	}
	return nil
}

// fail writes err as an error response, unless a response was started.
func (s *Server) fail(w *recorder, r *http.Request, err error) {
	ae := s.answer(r, err)
	if w.status != 0 {
		return // too late to change the status; the client sees a cut answer
	}
	writeError(w, ae)
}

// unmatched answers requests no route matches: 405 with Allow when the
// path exists for other methods, else 404.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) error {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		if m == r.Method || (m == http.MethodGet && r.Method == http.MethodHead) {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pat := s.mux.Handler(probe); pat != "" && pat != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		for i, m := range allow {
			if i == 0 {
				w.Header().Set("Allow", m)
			} else {
				w.Header().Add("Allow", m)
			}
		}
		return errf(http.StatusMethodNotAllowed, "method_not_allowed", "%s is not allowed on %s", r.Method, r.URL.Path)
	}
	return errf(http.StatusNotFound, "not_found", "no such endpoint: %s %s", r.Method, r.URL.Path)
}

// promHandler serves /metrics. It gathers itself rather than letting
// promhttp do it, so that a failure is answered like every other 500 (a
// fixed message and an id, the detail in the log) instead of with
// promhttp's text, which names the detail.
func (s *Server) promHandler() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		mfs, err := s.cfg.Gatherer.Gather()
		if err != nil {
			return fmt.Errorf("gather metrics: %w", err)
		}
		gathered := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return mfs, nil })
		promhttp.HandlerFor(gathered, promhttp.HandlerOpts{}).ServeHTTP(w, r)
		return nil
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, client.Health{Status: "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Backend.Ready(); err != nil {
		return errf(http.StatusServiceUnavailable, "unavailable", "not ready: %v", err)
	}
	return writeJSON(w, http.StatusOK, client.Health{Status: "ready"})
}

// metrics are the API's own Prometheus metrics.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	streams  prometheus.Gauge
	resyncs  prometheus.Counter
	panics   prometheus.Counter
	txs      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cairn_api_requests_total", Help: "API requests by route and HTTP status."}, []string{"route", "code"}),
		latency:  prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cairn_api_request_duration_seconds", Help: "API request latency by route (event streams excluded).", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"}),
		streams:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "cairn_api_event_streams", Help: "Open /v1/events streams."}),
		resyncs:  prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_api_event_stream_resyncs_total", Help: "Times an event stream fell behind the hub and caught up from the ledger."}),
		panics:   prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_api_panics_total", Help: "Handler panics recovered (each one is a bug)."}),
		txs:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cairn_api_txs_total", Help: "Transactions submitted through the API, by result (accepted or the error code)."}, []string{"result"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.latency, m.streams, m.resyncs, m.panics, m.txs} {
			// A second Server on the same registry (tests) fails with
			// AlreadyRegisteredError; its metrics then stay unexported,
			// which is harmless.
			_ = reg.Register(c)
		}
	}
	return m
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	if status == 0 {
		status = http.StatusOK
	}
	m.requests.WithLabelValues(route, fmt.Sprint(status)).Inc()
	if route != "/v1/events" {
		m.latency.WithLabelValues(route).Observe(d.Seconds())
	}
}
