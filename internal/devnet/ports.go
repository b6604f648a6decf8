package devnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/node"
)

// SetPorts moves the validators and followers of the network in dir to new
// ports: node i (Members order) listens for the API on apiPort+i and for
// peers on p2pPort+i (a zero port leaves that kind unchanged). Every node's
// config (its own addresses, its peers' addresses and the API URLs it names
// for writes or search) and network.json are rewritten; keys, genesis and
// data are untouched, so the chain resumes where it stopped. The network
// must be stopped.
func SetPorts(dir string, apiPort, p2pPort int) (*client.Network, error) {
	if apiPort < 0 || apiPort > 65535 || p2pPort < 0 || p2pPort > 65535 {
		return nil, fmt.Errorf("set ports: ports must be 1..65535")
	}
	nw, err := LoadNetwork(dir)
	if err != nil {
		return nil, err
	}
	members := nw.Members()
	if apiPort+len(members)-1 > 65535 || p2pPort+len(members)-1 > 65535 {
		return nil, fmt.Errorf("set ports: %d nodes do not fit below port 65536", len(members))
	}
	cfgs := make([]node.Config, len(members))
	p2pByName := map[string]string{}
	for i, n := range members {
		if cfgs[i], err = node.ReadConfigFile(n.Home); err != nil {
			return nil, err
		}
		if apiPort != 0 {
			if cfgs[i].APIAddr, err = withPort(cfgs[i].APIAddr, apiPort+i); err != nil {
				return nil, fmt.Errorf("set ports: %s api_addr: %w", n.Name, err)
			}
		}
		if p2pPort != 0 {
			if cfgs[i].P2PAddr, err = withPort(cfgs[i].P2PAddr, p2pPort+i); err != nil {
				return nil, fmt.Errorf("set ports: %s p2p_addr: %w", n.Name, err)
			}
		}
		p2pByName[cfgs[i].Name] = cfgs[i].P2PAddr
	}
	var valAPIs, followerAPIs []string
	for i := range cfgs {
		if i < len(nw.Nodes) {
			valAPIs = append(valAPIs, "http://"+cfgs[i].APIAddr)
		} else {
			followerAPIs = append(followerAPIs, "http://"+cfgs[i].APIAddr)
		}
	}
	for i := range cfgs {
		for j, p := range cfgs[i].Peers {
			if a, ok := p2pByName[p.Name]; ok {
				cfgs[i].Peers[j].Addr = a
			}
		}
		if len(cfgs[i].SubmitTo) > 0 {
			cfgs[i].SubmitTo = valAPIs
		}
		if len(cfgs[i].Search.Elsewhere) > 0 {
			cfgs[i].Search.Elsewhere = followerAPIs
		}
		if err := cfgs[i].Save(); err != nil {
			return nil, err
		}
		if i < len(nw.Nodes) {
			nw.Nodes[i].API = "http://" + cfgs[i].APIAddr
		} else {
			nw.Followers[i-len(nw.Nodes)].API = "http://" + cfgs[i].APIAddr
		}
	}
	b, err := json.MarshalIndent(nw, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(nw.Dir, "network.json"), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("set ports: %w", err)
	}
	return nw, nil
}

func withPort(addr string, port int) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// PortsInUse tries to listen on every node's API and peer address and
// returns, for each one already taken, "ADDR (nodeN api|p2p)". A devnet
// checks this before starting so that a taken port is one clear message
// instead of validators that exit at once.
func PortsInUse(nw *client.Network) ([]string, error) {
	var taken []string
	for _, n := range nw.Members() {
		c, err := node.ReadConfigFile(n.Home)
		if err != nil {
			return nil, err
		}
		for _, a := range []struct{ addr, what string }{{c.APIAddr, "api"}, {c.P2PAddr, "p2p"}} {
			l, err := net.Listen("tcp", a.addr)
			if err != nil {
				var op *net.OpError
				if errors.As(err, &op) {
					taken = append(taken, fmt.Sprintf("%s (%s %s)", a.addr, n.Name, a.what))
					continue
				}
				return nil, err
			}
			l.Close()
		}
	}
	return taken, nil
}
