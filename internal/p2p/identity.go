package p2p

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/cairn-db/cairn/crypto"
)

// alpnProtocol is offered and required in the TLS handshake so that a TLS
// endpoint speaking something else fails the handshake instead of the framing.
const alpnProtocol = "cairn-p2p/1"

// selfSignedCert makes a TLS certificate for key, valid from an hour
// before now for lifetime. Nothing checks its signature, names or dates:
// in TLS 1.3 the CertificateVerify message proves the peer holds the
// private key of the certificate's public key, and that public key is the
// whole identity we check. The certificate is only the envelope TLS
// requires to carry it, so an expired one still connects (see
// certificate.go for why it is renewed anyway).
func selfSignedCert(key *crypto.PrivateKey, now time.Time, lifetime time.Duration) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate serial: %w", err)
	}
	pub := key.Public()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "cairn validator " + pub.String()},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	std := key.Std()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, std.Public(), std)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: std, Leaf: leaf}, nil
}

// peerKey extracts the Ed25519 identity from a completed handshake.
func peerKey(cs tls.ConnectionState) (crypto.PublicKey, error) {
	if len(cs.PeerCertificates) != 1 {
		return crypto.PublicKey{}, fmt.Errorf("peer sent %d certificates, want exactly 1", len(cs.PeerCertificates))
	}
	pk, ok := cs.PeerCertificates[0].PublicKey.(ed25519.PublicKey)
	if !ok || len(pk) != crypto.PublicKeySize {
		return crypto.PublicKey{}, errors.New("peer certificate key is not Ed25519")
	}
	var k crypto.PublicKey
	copy(k[:], pk)
	return k, nil
}

// errRefused marks handshakes we aborted because of the peer's identity.
var errRefused = errors.New("peer refused")

// baseTLS is what the server and client configurations share: TLS 1.3 only,
// our current certificate (asked for at each handshake, so a rotated one
// serves the next handshake without a restart), our ALPN, no session
// resumption (a resumed session would skip the certificate exchange that
// identifies the peer).
func (t *Transport) baseTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return t.cert.Load(), nil
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return t.cert.Load(), nil
		},
		NextProtos:             []string{alpnProtocol},
		SessionTicketsDisabled: true,
	}
}

// serverTLS accepts any client whose key is in the allowed set (other than
// our own). The stdlib does no chain verification with RequireAnyClientCert;
// VerifyConnection is the whole check.
func (t *Transport) serverTLS() *tls.Config {
	c := t.baseTLS()
	c.ClientAuth = tls.RequireAnyClientCert
	// Called once the ClientHello is in: the connection leaves the short
	// HelloTimeout for the rest of HandshakeTimeout (the handshake's context
	// bounds the total) and may no longer be evicted for newer ones.
	c.GetConfigForClient = func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
		t.adm.helloArrived(hi.Conn)
		if err := hi.Conn.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout)); err != nil {
			return nil, err
		}
		return nil, nil
	}
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		k, err := peerKey(cs)
		if err != nil {
			return t.refuse(err)
		}
		if k == t.self {
			return t.refuse(errors.New("peer presented our own key"))
		}
		if t.lookup(k) == nil {
			return t.refuse(fmt.Errorf("key %s is neither a validator nor a listed follower", short(k)))
		}
		return nil
	}
	return c
}

// clientTLS accepts exactly the key we expect at the address we dial. Normal
// verification is skipped (there is no CA); VerifyConnection still runs.
func (t *Transport) clientTLS(expected crypto.PublicKey) *tls.Config {
	c := t.baseTLS()
	c.InsecureSkipVerify = true
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		k, err := peerKey(cs)
		if err != nil {
			return t.refuse(err)
		}
		if k != expected {
			return t.refuse(fmt.Errorf("peer presented key %s, expected %s", short(k), short(expected)))
		}
		return nil
	}
	return c
}

// refuse counts a refusal; the caller of the handshake logs it, with the
// remote address, because the callback does not know it.
func (t *Transport) refuse(err error) error {
	t.stats.refused.Add(1)
	return fmt.Errorf("%w: %w", errRefused, err)
}

// short abbreviates a key for logs.
func short(k crypto.PublicKey) string { return k.String()[:16] }
