package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// ClientAuth says whether the API asks for client certificates.
type ClientAuth string

// Client certificate modes.
const (
	ClientCertNone     ClientAuth = ""         // none asked for
	ClientCertOptional ClientAuth = "optional" // verified against the CA when given
	ClientCertRequire  ClientAuth = "require"  // every connection must present one
)

// TLSFiles names a listener's certificate, key and (for client
// certificates) the CA bundle that signs them.
type TLSFiles struct {
	Cert, Key, ClientCA string
	ClientAuth          ClientAuth
}

// Reloader serves a certificate and client CA read from files, and reads
// them again when they change (checked at most once per second, on a new
// handshake) or on Reload (the node calls it on SIGHUP). A failed reload
// keeps serving the last good pair and is reported by Err: rotating a
// certificate never takes the API down.
type Reloader struct {
	files TLSFiles

	mu      sync.Mutex
	cert    *tls.Certificate
	pool    *x509.CertPool
	stamp   string // the files' sizes and mtimes when last read
	checked time.Time
	lastErr error
}

// NewReloader reads the files once; an error here is fatal to the caller.
func NewReloader(f TLSFiles) (*Reloader, error) {
	if f.Cert == "" || f.Key == "" {
		return nil, errors.New("tls: cert_file and key_file are both required")
	}
	switch f.ClientAuth {
	case ClientCertNone, ClientCertOptional, ClientCertRequire:
	default:
		return nil, fmt.Errorf("tls: client_auth %q: want \"\", optional or require", f.ClientAuth)
	}
	if f.ClientAuth != ClientCertNone && f.ClientCA == "" {
		return nil, errors.New("tls: client_auth needs client_ca_file")
	}
	r := &Reloader{files: f}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reloader) stampOf() string {
	s := ""
	for _, p := range []string{r.files.Cert, r.files.Key, r.files.ClientCA} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			s += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
		} else {
			s += "missing;"
		}
	}
	return s
}

// Reload reads the files now.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reloadLocked(time.Now())
}

func (r *Reloader) reloadLocked(now time.Time) error {
	r.checked = now
	stamp := r.stampOf()
	cert, err := tls.LoadX509KeyPair(r.files.Cert, r.files.Key)
	if err != nil {
		r.lastErr = fmt.Errorf("tls: load certificate: %w", err)
		return r.lastErr
	}
	var pool *x509.CertPool
	if r.files.ClientCA != "" {
		pem, err := os.ReadFile(r.files.ClientCA)
		if err != nil {
			r.lastErr = fmt.Errorf("tls: client CA: %w", err)
			return r.lastErr
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			r.lastErr = fmt.Errorf("tls: client CA %s holds no PEM certificate", r.files.ClientCA)
			return r.lastErr
		}
	}
	r.cert, r.pool, r.stamp, r.lastErr = &cert, pool, stamp, nil
	return nil
}

func (r *Reloader) current() (*tls.Certificate, *x509.CertPool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= time.Second {
		r.checked = now
		if r.stampOf() != r.stamp {
			_ = r.reloadLocked(now) // keeps the last good pair on error
		}
	}
	return r.cert, r.pool
}

// Err is the last reload's failure, if any.
func (r *Reloader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// Config returns a server tls.Config (TLS 1.2 or later) that takes the
// certificate and client CA current at each handshake, offering the given
// application protocols ("http/1.1" for the REST API, "h2" for gRPC).
func (r *Reloader) Config(nextProtos ...string) *tls.Config {
	base := &tls.Config{MinVersion: tls.VersionTLS12}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		cert, pool := r.current()
		c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cert}, ClientCAs: pool,
			NextProtos: nextProtos}
		switch r.files.ClientAuth {
		case ClientCertOptional:
			c.ClientAuth = tls.VerifyClientCertIfGiven
		case ClientCertRequire:
			c.ClientAuth = tls.RequireAndVerifyClientCert
		}
		return c, nil
	}
	return base
}
