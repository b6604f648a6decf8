package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/field"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// cairn field drives three member nodes and a real one-validator chain:
// open, payments through a non-leader, a checkpoint, a cooperative close,
// and the chain's entry read back with its proof verified.
func TestFieldCommands(t *testing.T) {
	c := apitest.New(t, apitest.Options{Users: 3})
	keys := c.Users
	peers := map[crypto.PublicKey]string{}
	var srvs []*httptest.Server
	for _, k := range keys {
		srv := httptest.NewUnstartedServer(nil)
		srvs = append(srvs, srv)
		peers[k.Public()] = "http://" + srv.Listener.Addr().String()
	}
	for i, k := range keys {
		nd, err := field.NewNode(field.Config{Key: k, Dir: t.TempDir(), Peers: peers, Accept: field.AcceptUpTo(k.Public(), map[crypto.PublicKey]bool{keys[0].Public(): true}, 1000)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.Close() })
		srvs[i].Config.Handler = nd.Handler()
		srvs[i].Start()
		t.Cleanup(srvs[i].Close)
	}
	kf := []string{keyFile(t, keys[0]), keyFile(t, keys[1]), keyFile(t, keys[2])}
	node := func(i int) string { return peers[keys[i].Public()] }
	var members []string
	for _, k := range keys {
		members = append(members, k.Public().String()+":1000")
	}
	id := crypto.Sum([]byte("cli field"))
	ok := func(args ...string) string {
		t.Helper()
		code, out, errs := run(t, args...)
		if code != 0 {
			t.Fatalf("cairn %v: exit %d: %s", args, code, errs)
		}
		return out
	}
	var r client.TxResult
	decode(t, ok("field", "open", "--node", node(0), "--key", kf[0], "--chain", c.URL, "--members", strings.Join(members, ","),
		"--period", "2", "--expiry", "+100", "--penalty", "10", "--id", id.String()), &r)
	if r.Status != client.StatusCommitted {
		t.Fatalf("open: %+v", r)
	}
	ok("field", "pay", "--node", node(1), "--key", kf[1], "--to", "2", "--amount", "3", "--count", "50", "--batch", "20")
	var st types.FieldStateClaim
	decode(t, ok("field", "checkpoint", "--node", node(0), "--key", kf[0]), &st)
	if st.State != 50 || st.Balances[1] != 850 || st.Balances[2] != 1150 {
		t.Fatalf("checkpoint: %+v", st)
	}
	// Overspending is refused with the reason.
	code, _, errs := run(t, "field", "pay", "--node", node(1), "--key", kf[1], "--to", "0", "--amount", "5000")
	if code != 1 || !strings.Contains(errs, "balance of 850") {
		t.Fatalf("overspend: exit %d: %s", code, errs)
	}
	// Another member's key cannot drive a node.
	code, _, errs = run(t, "field", "status", "--node", node(0), "--key", kf[1])
	if code != 1 || !strings.Contains(errs, "only its own key") {
		t.Fatalf("foreign control: exit %d: %s", code, errs)
	}
	decode(t, ok("field", "close", "--node", node(0), "--key", kf[0], "--chain", c.URL), &r)
	var fs client.FieldState
	decode(t, ok("field", "status", "--chain", c.URL, id.String()), &fs)
	if fs.Field.Status != types.FieldClosingStatus || fs.Field.Pending.Kind != types.CloseCooperative || fs.Field.Pending.State != 50 {
		t.Fatalf("status: %+v", fs.Field)
	}
}
