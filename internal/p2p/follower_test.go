package p2p

import (
	"testing"
	"time"

	"github.com/cairn-db/cairn/crypto"
)

// A follower dials the validators; they admit it because it is listed,
// reach it with Send only (never Broadcast), and keep it out of their
// validator counts. A key listed nowhere is still refused.
func TestFollowerAdmittedButNotBroadcastTo(t *testing.T) {
	follower := testKey(9)
	vals := mesh(t, 2, func(i int, c *Config) { c.Followers = []crypto.PublicKey{follower.Public()} })
	waitMesh(t, vals)
	var valKeys []crypto.PublicKey
	var peers []Peer
	for _, v := range vals {
		valKeys = append(valKeys, v.PublicKey())
		peers = append(peers, Peer{PublicKey: v.PublicKey(), Addr: v.Addr().String()})
	}
	fc := testConfig(follower, listen(t))
	fc.Peers, fc.Allowed = peers, valKeys
	f := start(t, fc)
	got := collect(f)
	waitFor(t, "follower connected to both validators", func() bool {
		return connectedTo(vals[0], follower.Public()) && connectedTo(vals[1], follower.Public())
	})
	if n := vals[0].Broadcast(1, []byte("vote")); n != 1 {
		t.Fatalf("broadcast reached %d peers, want only the other validator", n)
	}
	sendEventually(t, vals[0], follower.Public(), 3, []byte("block"))
	waitFor(t, "block at the follower", func() bool { return got.has("block") })
	time.Sleep(100 * time.Millisecond) // the broadcast was queued before the send
	if got.has("vote") {
		t.Fatal("a broadcast reached the follower")
	}
	st := vals[0].Stats()
	if st.Peers != 1 || st.ConnectedPeers != 1 || st.Followers != 1 || st.ConnectedFollowers != 1 {
		t.Fatalf("stats: %+v", st)
	}
	var sawFollower bool
	for _, p := range vals[0].Peers() {
		sawFollower = sawFollower || (p.PublicKey == follower.Public() && p.Follower)
	}
	if !sawFollower {
		t.Fatal("Peers does not mark the follower")
	}
	// A validator may not be configured to dial a follower.
	bad := testConfig(testKey(0), listen(t))
	bad.Followers = []crypto.PublicKey{follower.Public()}
	bad.Peers = []Peer{{PublicKey: follower.Public(), Addr: "127.0.0.1:1"}}
	if _, err := New(bad); err == nil {
		t.Fatal("a config dialling a follower was accepted")
	}
	// An unlisted key is refused by the validators.
	oc := testConfig(testKey(10), listen(t))
	oc.Peers, oc.Allowed = peers[:1], valKeys
	o := start(t, oc)
	time.Sleep(300 * time.Millisecond)
	if connectedTo(o, vals[0].PublicKey()) {
		t.Fatal("an unlisted key connected")
	}
}
