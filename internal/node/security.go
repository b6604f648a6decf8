// The API's TLS, tokens and metrics listener (docs/security.md).

package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/cairn-db/cairn/internal/api"
	"github.com/cairn-db/cairn/internal/auth"
	"github.com/cairn-db/cairn/internal/grpcapi"
)

// TLSConfig is the API's TLS (empty cert_file: plain HTTP). The files are
// read again when they change and on SIGHUP, without a restart.
type TLSConfig struct {
	CertFile     string `json:"cert_file,omitempty"`
	KeyFile      string `json:"key_file,omitempty"`
	ClientCAFile string `json:"client_ca_file,omitempty"`
	// ClientAuth: "" (no client certificates), "optional" or "require".
	ClientAuth string `json:"client_auth,omitempty"`
	// ClientScopes are the scopes a verified client certificate grants
	// with tokens on ("read", "submit", "admin").
	ClientScopes []string `json:"client_scopes,omitempty"`
}

// AuthConfig is the API's authentication.
type AuthConfig struct {
	// Tokens turns bearer tokens on: HOME/tokens.json (cairn token create)
	// lists the valid ones, by hash.
	Tokens bool `json:"tokens"`
	// PublicReads lets reads through without a token (default true).
	PublicReads bool `json:"public_reads"`
}

func (c Config) tlsOn() bool { return c.TLS.CertFile != "" }

// checkSecurity refuses an API reachable from other machines with neither
// TLS nor tokens unless the config says so (insecure_api), and inconsistent
// TLS settings.
func (c Config) checkSecurity() []string {
	var errs []string
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, "tls: cert_file and key_file go together")
	}
	if c.TLS.ClientAuth != "" && !c.tlsOn() {
		errs = append(errs, "tls: client_auth needs cert_file and key_file")
	}
	for _, s := range c.TLS.ClientScopes {
		if _, err := auth.ParseScope(s); err != nil {
			errs = append(errs, "tls: client_scopes: "+err.Error())
		}
	}
	if !loopback(c.APIAddr) && !c.InsecureAPI && !(c.tlsOn() && c.Auth.Tokens) {
		errs = append(errs, fmt.Sprintf("api_addr %s is reachable from other machines, but the API is not both TLS (tls.cert_file) and token-protected (auth.tokens); "+
			"configure both (docs/security.md) or set \"insecure_api\": true to serve it as it is", c.APIAddr))
	}
	if c.GRPCAddr != "" && !loopback(c.GRPCAddr) && !c.InsecureAPI && !(c.tlsOn() && c.Auth.Tokens) {
		errs = append(errs, fmt.Sprintf("grpc_addr %s is reachable from other machines, but the API is not both TLS and token-protected; configure both or set \"insecure_api\": true", c.GRPCAddr))
	}
	if c.MetricsAddr != "" && !loopback(c.MetricsAddr) && !c.InsecureAPI && !c.Auth.Tokens {
		errs = append(errs, fmt.Sprintf("metrics_addr %s is reachable from other machines without tokens; turn auth.tokens on or bind it to loopback", c.MetricsAddr))
	}
	return errs
}

// loopback reports whether addr's host is a loopback name or address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// security is what the node keeps for the API's TLS and tokens.
type security struct {
	tls     *auth.Reloader // nil: plain HTTP
	tokens  *auth.Store    // nil: no tokens
	metrics *http.Server   // nil: /metrics on the API listener
	grpc    *grpc.Server   // nil: no gRPC listener
	stop    chan struct{}
	stopped sync.Once
}

// setupSecurity reads the certificate and the tokens file and returns the
// API's access rules.
func (n *Node) setupSecurity() (api.Access, error) {
	n.sec = &security{stop: make(chan struct{})}
	var acc api.Access
	if n.cfg.tlsOn() {
		r, err := auth.NewReloader(auth.TLSFiles{Cert: n.cfg.Path(n.cfg.TLS.CertFile), Key: n.cfg.Path(n.cfg.TLS.KeyFile),
			ClientCA: pathOrEmpty(n.cfg, n.cfg.TLS.ClientCAFile), ClientAuth: auth.ClientAuth(n.cfg.TLS.ClientAuth)})
		if err != nil {
			return acc, fmt.Errorf("node: api %w", err)
		}
		n.sec.tls = r
	}
	if n.cfg.Auth.Tokens {
		s, err := auth.OpenStore(n.cfg.Path(auth.TokensFile))
		if err != nil {
			return acc, fmt.Errorf("node: %w", err)
		}
		if s.Len() == 0 {
			n.log.Warn("auth.tokens is on but HOME/tokens.json has no tokens: only public reads are served until `cairn token create`")
		}
		n.sec.tokens = s
		acc = api.Access{Tokens: s, PublicReads: n.cfg.Auth.PublicReads}
		for _, sc := range n.cfg.TLS.ClientScopes {
			acc.ClientCertScopes = append(acc.ClientCertScopes, auth.Scope(sc))
		}
	}
	if !loopback(n.cfg.APIAddr) && !(n.cfg.tlsOn() && n.cfg.Auth.Tokens) {
		n.log.Warn("INSECURE API: reachable from other machines without TLS and tokens (insecure_api is set)", "api", n.cfg.APIAddr)
	}
	return acc, nil
}

func pathOrEmpty(c Config, p string) string {
	if p == "" {
		return ""
	}
	return c.Path(p)
}

// serveListener wraps the API's listener in TLS when configured.
func (n *Node) serveListener(ln net.Listener) net.Listener {
	if n.sec == nil || n.sec.tls == nil {
		return ln
	}
	return tls.NewListener(ln, n.sec.tls.Config("http/1.1"))
}

// startMetrics starts the gRPC listener (grpc_addr), serves /metrics,
// /healthz and /readyz on metrics_addr, and watches SIGHUP to reload the
// certificate and tokens. On failure it stops what it started.
func (n *Node) startMetrics(h *api.Server) (err error) {
	defer func() {
		if err != nil {
			n.stopSecurity(context.Background())
		}
	}()
	if err := n.startGRPC(h); err != nil {
		return err
	}
	if err := n.startMetricsListener(h); err != nil {
		return err
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		for {
			select {
			case <-hup:
				n.reloadSecurity()
			case <-n.sec.stop:
				return
			}
		}
	}()
	return nil
}

// startMetricsListener serves h's metrics handler on metrics_addr, if set.
func (n *Node) startMetricsListener(h *api.Server) error {
	if n.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", n.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("node: metrics listen %s: %w", n.cfg.MetricsAddr, err)
	}
	ln = n.serveListener(ln)
	n.sec.metrics = &http.Server{Handler: h.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second}
	if err := n.writeAddrFile(MetricsAddrFile, ln.Addr().String()); err != nil {
		ln.Close()
		return err
	}
	n.log.Info("metrics listening", "addr", ln.Addr().String())
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.sec.metrics.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("metrics server", "err", err)
		}
	}()
	return nil
}

// startGRPC serves the gRPC API on grpc_addr over the REST handler h, so
// that its authentication, limits and answers are the API's.
func (n *Node) startGRPC(h *api.Server) error {
	if n.cfg.GRPCAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", n.cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("node: grpc listen %s: %w", n.cfg.GRPCAddr, err)
	}
	var tc *tls.Config
	if n.sec.tls != nil {
		tc = n.sec.tls.Config("h2")
	}
	g := grpc.NewServer(grpcapi.ServerOptions(tc, int(n.cfg.apiConfig(n.genesis.Params).MaxBatchBodyBytes))...)
	grpcapi.New(h).Register(g)
	if err := n.writeAddrFile(GRPCAddrFile, ln.Addr().String()); err != nil {
		ln.Close()
		return err
	}
	n.sec.grpc = g
	n.log.Info("grpc listening", "addr", ln.Addr().String())
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := grpcapi.Serve(g, ln); err != nil {
			n.log.Error("grpc server", "err", err)
		}
	}()
	return nil
}

// GRPCAddrFile, in a node's home, holds the gRPC listener's address while
// it runs with one.
const GRPCAddrFile = "grpc.addr"

// MetricsAddrFile, in a node's home, holds the metrics listener's address
// while it runs with one.
const MetricsAddrFile = "metrics.addr"

func (n *Node) writeAddrFile(name, addr string) error {
	tmp := n.cfg.Path(name + ".tmp")
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	if err := os.Rename(tmp, n.cfg.Path(name)); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	return nil
}

// reloadSecurity rereads the certificate and the tokens file (SIGHUP).
func (n *Node) reloadSecurity() {
	if n.sec.tls != nil {
		if err := n.sec.tls.Reload(); err != nil {
			n.log.Error("SIGHUP: keeping the old certificate", "err", err)
		} else {
			n.log.Info("SIGHUP: certificate reloaded")
		}
	}
	if n.sec.tokens != nil {
		if err := n.sec.tokens.Reload(); err != nil {
			n.log.Error("SIGHUP: keeping the old tokens", "err", err)
		} else {
			n.log.Info("SIGHUP: tokens reloaded", "tokens", n.sec.tokens.Len())
		}
	}
}

// stopSecurity ends the SIGHUP watcher and the gRPC and metrics listeners
// (once; later calls do nothing).
func (n *Node) stopSecurity(ctx context.Context) {
	if n.sec == nil {
		return
	}
	n.sec.stopped.Do(func() { n.stopListeners(ctx) })
}

func (n *Node) stopListeners(ctx context.Context) {
	close(n.sec.stop)
	if n.sec.grpc != nil {
		// Streams of blocks end when the API closes them; Stop ends the rest.
		stopped := make(chan struct{})
		go func() { n.sec.grpc.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-ctx.Done():
			n.sec.grpc.Stop()
		}
		_ = os.Remove(n.cfg.Path(GRPCAddrFile))
	}
	if n.sec.metrics != nil {
		_ = n.sec.metrics.Shutdown(ctx)
		_ = os.Remove(n.cfg.Path(MetricsAddrFile))
	}
}
