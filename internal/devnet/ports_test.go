package devnet

import (
	"net"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cairn-db/cairn/internal/node"
)

// SetPorts rewrites every node's own addresses, its peers' addresses and
// network.json, and nothing else.
func TestSetPortsMovesTheWholeNetwork(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	if _, err := InitNetwork(dir, Options{Validators: 4, APIPort: 22500, P2PPort: 22510}); err != nil {
		t.Fatal(err)
	}
	before, _ := node.LoadConfig(filepath.Join(dir, "node2"))
	nw, err := SetPorts(dir, 22600, 0) // API only
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadNetwork(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		c, err := node.LoadConfig(filepath.Join(dir, "node"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		if want := "127.0.0.1:" + strconv.Itoa(22600+i); c.APIAddr != want || nw.Nodes[i].API != "http://"+want || loaded.Nodes[i].API != "http://"+want {
			t.Errorf("node%d API: config %s, network %s / %s, want %s", i, c.APIAddr, nw.Nodes[i].API, loaded.Nodes[i].API, want)
		}
		if want := "127.0.0.1:" + strconv.Itoa(22510+i); c.P2PAddr != want {
			t.Errorf("node%d p2p moved without --p2p-port: %s", i, c.P2PAddr)
		}
	}
	if _, err := SetPorts(dir, 0, 22700); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		c, _ := node.LoadConfig(filepath.Join(dir, "node"+strconv.Itoa(i)))
		if want := "127.0.0.1:" + strconv.Itoa(22700+i); c.P2PAddr != want {
			t.Errorf("node%d p2p: %s, want %s", i, c.P2PAddr, want)
		}
		if len(c.Peers) != 3 {
			t.Fatalf("node%d has %d peers", i, len(c.Peers))
		}
		for _, p := range c.Peers {
			j, _ := strconv.Atoi(p.Name[len("node"):])
			if want := "127.0.0.1:" + strconv.Itoa(22700+j); p.Addr != want {
				t.Errorf("node%d's peer %s at %s, want %s", i, p.Name, p.Addr, want)
			}
		}
	}
	after, _ := node.LoadConfig(filepath.Join(dir, "node2"))
	if after.Genesis != before.Genesis || after.Key != before.Key || after.DataDir != before.DataDir {
		t.Errorf("SetPorts changed more than addresses: %+v -> %+v", before, after)
	}
	if _, err := SetPorts(dir, 65534, 0); err == nil {
		t.Error("ports past 65535 accepted")
	}
}

func TestPortsInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	dir := filepath.Join(t.TempDir(), "net")
	nw, err := InitNetwork(dir, Options{Validators: 2, APIPort: port - 1, P2PPort: port})
	if err != nil {
		t.Fatal(err)
	}
	taken, err := PortsInUse(nw)
	if err != nil {
		t.Fatal(err)
	}
	// node1's API (port) and node0's p2p (port) are the listener.
	// (Other ports may happen to be taken by other programs too.)
	found := map[string]bool{}
	for _, s := range taken {
		found[s] = true
	}
	for _, want := range []string{l.Addr().String() + " (node1 api)", l.Addr().String() + " (node0 p2p)"} {
		if !found[want] {
			t.Errorf("taken %q lacks %q", taken, want)
		}
	}
}
