package p2p

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// A node whose certificate expired long ago still connects and exchanges
// messages both ways: peers authenticate the key, never the dates.
func TestExpiredCertificateStillConnects(t *testing.T) {
	expired, err := selfSignedCert(testKey(0), time.Now().Add(-200*24*time.Hour), 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if expired.Leaf.NotAfter.After(time.Now()) {
		t.Fatal("test certificate is not expired")
	}
	lns := []net.Listener{listen(t), listen(t)}
	var peers []Peer
	for i, ln := range lns {
		peers = append(peers, Peer{PublicKey: testKey(i).Public(), Addr: ln.Addr().String()})
	}
	trs := make([]*Transport, 2)
	for i := range trs {
		c := testConfig(testKey(i), lns[i])
		c.Peers = peers
		tr, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			tr.cert.Store(&expired) // before any handshake
		}
		t.Cleanup(func() { _ = tr.Close() })
		trs[i] = tr
	}
	for _, tr := range trs {
		if err := tr.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	waitMesh(t, trs)
	c0, c1 := collect(trs[0]), collect(trs[1])
	sendEventually(t, trs[0], trs[1].PublicKey(), 1, []byte("from the expired"))
	sendEventually(t, trs[1], trs[0].PublicKey(), 1, []byte("to the expired"))
	waitFor(t, "messages both ways", func() bool { return c1.has("from the expired") && c0.has("to the expired") })
	if got := trs[0].Certificate().NotAfter; !got.Equal(expired.Leaf.NotAfter) {
		t.Fatalf("presented certificate expires %v, want the expired one's %v", got, expired.Leaf.NotAfter)
	}
}

// A certificate near its expiry is renewed in place, and the next
// handshake presents the new one; connections stay up.
func TestCertificateRenewsWithoutRestart(t *testing.T) {
	trs := mesh(t, 2, func(i int, c *Config) {
		if i == 0 {
			c.CertLifetime, c.CertRenewBefore = 3*time.Second, 2*time.Second
		}
	})
	waitMesh(t, trs)
	first := trs[0].Certificate()
	if d := first.NotAfter.Sub(first.NotBefore); d != time.Hour+3*time.Second {
		t.Fatalf("certificate validity %v", d)
	}
	// Under a slow run the first renewal may come before first was read.
	waitFor(t, "renewal", func() bool { return trs[0].Certificate().Renewals > first.Renewals })
	renewed := trs[0].Certificate()
	if renewed.Serial == first.Serial || !renewed.NotAfter.After(first.NotAfter) {
		t.Fatalf("renewed certificate %+v, first %+v", renewed, first)
	}
	// A new handshake, as peer 1, gets the certificate current now.
	conn, err := tls.Dial("tcp", trs[0].Addr().String(), trs[1].clientTLS(trs[0].PublicKey()))
	if err != nil {
		t.Fatalf("handshake after renewal: %v", err)
	}
	serial := conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
	conn.Close()
	if now := trs[0].Certificate().Serial; serial != now && serial != renewed.Serial {
		t.Fatalf("handshake presented serial %s, current is %s", serial, now)
	}
	if serial == first.Serial {
		t.Fatal("handshake after renewal presented the first certificate")
	}
	if !connectedTo(trs[0], trs[1].PublicKey()) {
		t.Fatal("renewal dropped the connection")
	}
}

func TestCertificateConfigRefused(t *testing.T) {
	c := testConfig(testKey(0), listen(t))
	c.CertLifetime, c.CertRenewBefore = time.Hour, 2*time.Hour
	if _, err := New(c); err == nil {
		t.Fatal("renewal later than the lifetime accepted")
	}
}
