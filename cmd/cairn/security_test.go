package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/devnet"
	"github.com/cairn-db/cairn/internal/node"
)

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key as PEM files; the certificate is its own CA.
func writeSelfSigned(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "cairn test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Written under temporary names and renamed, as a certificate manager
	// would, so the node never reads half a file.
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{certFile, "CERTIFICATE", der}, {keyFile, "EC PRIVATE KEY", kder}} {
		if err := os.WriteFile(f.path+".tmp", pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f.path+".tmp", f.path); err != nil {
			t.Fatal(err)
		}
	}
}

// End to end: a validator with TLS and tokens on (reads not public) and
// metrics on their own listener; the CLI submits and reads with --token
// and --ca; no token is 401, a read token cannot submit (403), a revoked
// token stops working without a restart, and a rotated certificate is
// served without a restart.
func TestTLSAndTokensEndToEnd(t *testing.T) {
	ports, err := devnet.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	nw, err := devnet.InitNetwork(t.TempDir(), devnet.Options{Validators: 1, APIPort: ports[0], P2PPort: ports[1]})
	if err != nil {
		t.Fatal(err)
	}
	home := nw.Nodes[0].Home
	certFile, keyFile := filepath.Join(home, "api.crt"), filepath.Join(home, "api.key")
	writeSelfSigned(t, certFile, keyFile, 1)
	cfg, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Search.Index = "off"
	cfg.TLS = node.TLSConfig{CertFile: "api.crt", KeyFile: "api.key"}
	cfg.Auth = node.AuthConfig{Tokens: true, PublicReads: false}
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.GRPCAddr = "127.0.0.1:0"
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := run(t, "token", "create", "--home", home, "--scope", "submit", "--name", "app")
	var created struct{ Token, ID string }
	decode(t, stdout, &created)
	if code != 0 || !strings.HasPrefix(created.Token, "cairn_") {
		t.Fatalf("token create: %d %s", code, stderr)
	}
	code, stdout, _ = run(t, "token", "create", "--home", home, "--scope", "read", "--name", "reader")
	var reader struct{ Token, ID string }
	decode(t, stdout, &reader)
	if b, _ := os.ReadFile(filepath.Join(home, "tokens.json")); code != 0 || strings.Contains(string(b), created.Token) || strings.Contains(string(b), reader.Token) {
		t.Fatalf("tokens.json holds a token in clear (or create failed: %d)", code)
	}
	if fi, err := os.Stat(filepath.Join(home, "tokens.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("tokens.json mode: %v %v", fi.Mode(), err)
	}

	n, err := node.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	api := "https://" + strings.TrimPrefix(nw.Nodes[0].API, "http://")
	waitFor(t, func() bool {
		c, _, _ := run(t, "status", "--node", api, "--token", reader.Token, "--ca", certFile)
		return c == 0
	})

	// Writes need the submit token; reads need some token.
	code, stdout, stderr = run(t, "tx", "put", "greeting", "hello", "--key", nw.FaucetKey, "--node", api, "--token", created.Token, "--ca", certFile, "--wait")
	if code != 0 {
		t.Fatalf("tx put with the submit token: exit %d, %s %s", code, stdout, stderr)
	}
	t.Setenv("CAIRN_TOKEN", reader.Token)
	t.Setenv("CAIRN_CA", certFile)
	if code, stdout, stderr = run(t, "get", "greeting", "--node", api); code != 0 || !strings.Contains(stdout, "hello") {
		t.Fatalf("get with $CAIRN_TOKEN and $CAIRN_CA: exit %d, %s %s", code, stdout, stderr)
	}
	code, _, stderr = run(t, "tx", "put", "greeting", "bye", "--key", nw.FaucetKey, "--node", api)
	if code != 1 || !strings.Contains(stderr, "403 forbidden") {
		t.Fatalf("tx put with a read token: exit %d, %s", code, stderr)
	}
	code, _, stderr = run(t, "get", "greeting", "--node", api, "--token", "")
	if code != 1 || !strings.Contains(stderr, "401 unauthenticated") {
		t.Fatalf("get without a token: exit %d, %s", code, stderr)
	}
	code, _, stderr = run(t, "get", "greeting", "--node", api, "--ca", "")
	if code != 1 || !strings.Contains(stderr, "certificate") {
		t.Fatalf("get without --ca: exit %d, %s", code, stderr)
	}

	// /metrics: off the API, on its own listener, admin only.
	pool := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(certFile)
	pool.AppendCertsFromPEM(pemBytes)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(url, tok string) int {
		req, _ := http.NewRequest("GET", url, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := get(api+"/metrics", created.Token); st != http.StatusNotFound && st != http.StatusUnauthorized {
		t.Errorf("/metrics on the API listener: %d, want it absent", st)
	}
	maddr, err := os.ReadFile(filepath.Join(home, node.MetricsAddrFile))
	if err != nil {
		t.Fatal(err)
	}
	murl := "https://" + strings.TrimSpace(string(maddr))
	if st := get(murl+"/metrics", created.Token); st != http.StatusForbidden {
		t.Errorf("/metrics with a submit token: %d, want 403", st)
	}
	if st := get(murl+"/healthz", ""); st != http.StatusOK {
		t.Errorf("/healthz on the metrics listener: %d", st)
	}
	code, stdout, _ = run(t, "token", "create", "--home", home, "--scope", "admin")
	var admin struct{ Token string }
	decode(t, stdout, &admin)
	waitFor(t, func() bool { return get(murl+"/metrics", admin.Token) == http.StatusOK })

	// gRPC: same TLS, same tokens.
	gaddr, err := os.ReadFile(filepath.Join(home, node.GRPCAddrFile))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := client.DialGRPC(strings.TrimSpace(string(gaddr)), true, client.WithCA(certFile))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	faucet, err := nw.LoadFaucetKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		token string
		want  any
	}{{reader.Token, [2]any{403, "forbidden"}}, {"", [2]any{401, "unauthenticated"}}, {created.Token, nil}} {
		gc, err := client.New(api, client.WithGRPC(conn), client.WithToken(c.token))
		if err != nil {
			t.Fatal(err)
		}
		s := gc.NewSigner(faucet, "")
		tx, err := s.Put(context.Background(), "grpc", "hi", nil)
		if err != nil {
			if c.want != nil && errorOf(err) == c.want {
				continue // the nonce lookup (a read) was refused already
			}
			t.Fatalf("sign over gRPC: %v", err)
		}
		_, err = gc.SubmitWait(context.Background(), tx, 20*time.Second)
		if got := errorOf(err); got != c.want {
			t.Errorf("gRPC submit with token %.12q: %v, want %v", c.token, got, c.want)
		}
	}

	// Revoke: the node rereads tokens.json by itself.
	if code, _, stderr = run(t, "token", "revoke", reader.ID, "--home", home); code != 0 {
		t.Fatalf("revoke: %s", stderr)
	}
	waitFor(t, func() bool { return get(api+"/v1/status", reader.Token) == http.StatusUnauthorized })

	// Rotate the certificate: new connections get the new one.
	writeSelfSigned(t, certFile, keyFile, 2)
	waitFor(t, func() bool {
		conn, err := tls.Dial("tcp", strings.TrimPrefix(api, "https://"), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			return false
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64() == 2
	})
	c, err := client.New(api, client.WithCA(certFile), client.WithToken(created.Token))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatalf("status against the rotated certificate: %v", err)
	}
}

// errorOf is an API refusal's status and code (nil for no error).
func errorOf(err error) any {
	var e *client.Error
	if errors.As(err, &e) {
		return [2]any{e.Status, e.Code}
	}
	if err != nil {
		return err.Error()
	}
	return nil
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if ok() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition not reached in 10 s")
}

// Client certificates: with client_auth "require", a connection without a
// certificate the client CA signed is refused in the handshake; with one,
// the certificate grants client_scopes (here read: a status read works
// without a token, a submit needs a submit token on top).
func TestClientCertificates(t *testing.T) {
	ports, err := devnet.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	nw, err := devnet.InitNetwork(t.TempDir(), devnet.Options{Validators: 1, APIPort: ports[0], P2PPort: ports[1]})
	if err != nil {
		t.Fatal(err)
	}
	home := nw.Nodes[0].Home
	srvCert, srvKey := filepath.Join(home, "api.crt"), filepath.Join(home, "api.key")
	writeSelfSigned(t, srvCert, srvKey, 10)
	dir := t.TempDir()
	cliCert, cliKey := filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	writeSelfSigned(t, cliCert, cliKey, 11) // its own CA: the node trusts it as client_ca_file
	strangerCert, strangerKey := filepath.Join(dir, "stranger.crt"), filepath.Join(dir, "stranger.key")
	writeSelfSigned(t, strangerCert, strangerKey, 12)
	cfg, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Search.Index = "off"
	cfg.TLS = node.TLSConfig{CertFile: "api.crt", KeyFile: "api.key", ClientCAFile: cliCert, ClientAuth: "require", ClientScopes: []string{"read"}}
	cfg.Auth = node.AuthConfig{Tokens: true, PublicReads: false}
	code, stdout, stderr := run(t, "token", "create", "--home", home, "--scope", "submit")
	var tok struct{ Token string }
	decode(t, stdout, &tok)
	if code != 0 {
		t.Fatal(stderr)
	}
	n, err := node.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	api := "https://" + strings.TrimPrefix(nw.Nodes[0].API, "http://")
	waitFor(t, func() bool {
		c, _, _ := run(t, "status", "--node", api, "--ca", srvCert, "--cert", cliCert, "--cert-key", cliKey)
		return c == 0
	})
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no certificate", []string{"--ca", srvCert}, "certificate"},
		{"a certificate from another CA", []string{"--ca", srvCert, "--cert", strangerCert, "--cert-key", strangerKey}, "certificate"},
	} {
		code, _, stderr := run(t, append([]string{"status", "--node", api, "--token", tok.Token}, c.args...)...)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, %s", c.name, code, stderr)
		}
	}
	faucet := nw.FaucetKey
	code, _, stderr = run(t, "tx", "put", "k", "v", "--key", faucet, "--node", api, "--ca", srvCert, "--cert", cliCert, "--cert-key", cliKey)
	if code != 1 || !strings.Contains(stderr, "403 forbidden") {
		t.Fatalf("submit with a read-only certificate: exit %d, %s", code, stderr)
	}
	code, _, stderr = run(t, "tx", "put", "k", "v", "--key", faucet, "--node", api, "--ca", srvCert, "--cert", cliCert, "--cert-key", cliKey, "--token", tok.Token, "--wait")
	if code != 0 {
		t.Fatalf("submit with the certificate and a submit token: exit %d, %s", code, stderr)
	}
}
