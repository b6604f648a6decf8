package p2p

import (
	"fmt"
	"time"
)

// Certificates. A peer is authenticated by the Ed25519 key its TLS
// certificate carries, checked against the genesis validator set
// (identity.go); no side checks the certificate's dates, signature or
// names. So a certificate that expires never stops a node or drops a
// peer: an expired one still completes handshakes. It is renewed anyway,
// before it expires, because operators, proxies and scanners do look at
// dates, and because a certificate that lives for a century is a finding
// in every audit. Renewal needs no restart: every handshake asks for the
// current certificate (tls.Config.GetCertificate and GetClientCertificate),
// so the next handshake after a renewal presents the new one, while
// established connections carry on (their identity is the same key).

// DefaultCertLifetime is how long a p2p certificate is valid by default; it
// is renewed a third of that before it expires.
const DefaultCertLifetime = 90 * 24 * time.Hour

// CertificateInfo describes the certificate the transport presents.
type CertificateInfo struct {
	NotBefore, NotAfter time.Time
	Serial              string
	Renewals            uint64 // renewals since the transport was created
}

// Certificate describes the current certificate.
func (t *Transport) Certificate() CertificateInfo {
	c := t.cert.Load()
	return CertificateInfo{NotBefore: c.Leaf.NotBefore, NotAfter: c.Leaf.NotAfter, Serial: c.Leaf.SerialNumber.Text(16), Renewals: t.stats.certRenewals.Load()}
}

// RenewCertificate replaces the certificate with a new one valid from now
// for the configured lifetime; the next handshake presents it.
func (t *Transport) RenewCertificate() error {
	if err := t.renewCertificate(time.Now()); err != nil {
		return err
	}
	t.stats.certRenewals.Add(1)
	return nil
}

func (t *Transport) renewCertificate(now time.Time) error {
	c, err := selfSignedCert(t.cfg.Key, now, t.cfg.CertLifetime)
	if err != nil {
		return fmt.Errorf("p2p certificate: %w", err)
	}
	t.cert.Store(&c)
	return nil
}

// renewLoop renews the certificate once it is within CertRenewBefore of
// expiring. A failed renewal is logged and retried; the old certificate,
// even expired, keeps working (see above).
func (t *Transport) renewLoop() {
	defer t.wg.Done()
	every := min(time.Minute, max(t.cfg.CertRenewBefore/4, 10*time.Millisecond))
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
		}
		left := time.Until(t.cert.Load().Leaf.NotAfter)
		if left > t.cfg.CertRenewBefore {
			continue
		}
		if err := t.RenewCertificate(); err != nil {
			t.log.Error("p2p: certificate renewal failed; the current one keeps working", "expires_in", left, "err", err)
			continue
		}
		t.log.Info("p2p: renewed the TLS certificate", "old_expires_in", left, "new_expires", t.cert.Load().Leaf.NotAfter)
	}
}
