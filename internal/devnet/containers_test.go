package devnet

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/cairn-db/cairn/internal/node"
)

// With Containers every validator listens on all interfaces on the same
// ports, dials its peers by container name, keeps its data on the volume
// at /data, and its config passes the node's own checks; network.json
// names the APIs as the host publishes them. A follower's container is
// laid out the same way, after the validators; the validators leave
// search to it, unless there is none.
func TestInitNetworkForContainers(t *testing.T) {
	dir := t.TempDir()
	nw, err := InitNetwork(dir, Options{Validators: 4, Followers: 1, APIPort: 18080, Containers: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(nw.Followers) != 1 || nw.Followers[0].Name != "follower0" || nw.Followers[0].API != "http://127.0.0.1:18084" {
		t.Fatalf("followers in network.json: %+v, want follower0 at http://127.0.0.1:18084", nw.Followers)
	}
	for i, n := range append(nw.Nodes, nw.Followers...) {
		if want := fmt.Sprintf("http://127.0.0.1:%d", 18080+i); n.API != want {
			t.Errorf("%s: network.json api %q, want %q", n.Name, n.API, want)
		}
		c, err := node.LoadConfig(filepath.Join(dir, n.Name))
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		if c.APIAddr != "0.0.0.0:8080" || c.P2PAddr != "0.0.0.0:26656" || c.DataDir != ContainerDataDir {
			t.Errorf("%s: api %s, p2p %s, data %s", n.Name, c.APIAddr, c.P2PAddr, c.DataDir)
		}
		if i < 4 {
			if len(c.Peers) != 3 || len(c.Followers) != 1 || c.Search.Index == "on" || len(c.Search.Elsewhere) != 1 || c.Search.Elsewhere[0] != nw.Followers[0].API {
				t.Fatalf("%s: %d peers, followers %v, search %+v; want 3 peers and search left to follower0", n.Name, len(c.Peers), c.Followers, c.Search)
			}
		} else if c.Role != node.RoleFollower || len(c.Peers) != 4 || len(c.SubmitTo) != 4 || c.SubmitTo[3] != nw.Nodes[3].API {
			t.Fatalf("%s: role %q, %d peers, submit_to %v; want a follower of the 4 validators", n.Name, c.Role, len(c.Peers), c.SubmitTo)
		}
		for _, p := range c.Peers {
			if p.Addr != p.Name+":26656" {
				t.Errorf("%s dials %s at %s, want it by container name", n.Name, p.Name, p.Addr)
			}
		}
	}

	k8s, err := InitNetwork(t.TempDir(), Options{Validators: 4, Containers: true, NamePrefix: "cairn-", PeerSuffix: ".cairn"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := node.LoadConfig(k8s.Nodes[2].Home)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "cairn-2" || c.Peers[0].Addr != "cairn-0.cairn:26656" {
		t.Errorf("prefixed network: name %s, first peer at %s", c.Name, c.Peers[0].Addr)
	}
	if c.Search.Index != "on" {
		t.Errorf("containers without followers: validator search %+v, want it indexed", c.Search)
	}
}

// Tune may move a node's peer port (the tests pick free ports); every
// other node must dial it there.
func TestInitNetworkPeersFollowTune(t *testing.T) {
	nw, err := InitNetwork(t.TempDir(), Options{Validators: 4, Tune: func(i int, c *node.Config) {
		c.P2PAddr = fmt.Sprintf("127.0.0.1:%d", 40000+i)
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nw.Nodes {
		c, err := node.LoadConfig(n.Home)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range c.Peers {
			var j int
			fmt.Sscanf(p.Name, "node%d", &j)
			if want := fmt.Sprintf("127.0.0.1:%d", 40000+j); p.Addr != want {
				t.Errorf("%s dials %s at %s, want %s", n.Name, p.Name, p.Addr, want)
			}
		}
	}
}
