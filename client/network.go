package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cairn-db/cairn/crypto"
)

// NetworkNode is one validator of a local network.
type NetworkNode struct {
	Name string `json:"name"`
	API  string `json:"api"`
	Home string `json:"home"`
}

// Network is the network.json file `cairn init` writes: the chain id, each
// node's API URL and home, and the funded faucet key.
type Network struct {
	ChainID string `json:"chain_id"`
	// Nodes are the validators: they take transactions and serve reads.
	Nodes []NetworkNode `json:"nodes"`
	// Followers are non-voting replicas: they serve reads and search
	// (validators do not index by default) and take no transactions.
	Followers []NetworkNode `json:"followers,omitempty"`
	FaucetKey string        `json:"faucet_key"`
	// Dir is the directory of the file; relative paths in it are
	// relative to Dir.
	Dir string `json:"-"`
}

// LoadNetwork reads a network.json file (or DIR/network.json when path is
// a directory).
func LoadNetwork(path string) (*Network, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "network.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read network: %w", err)
	}
	var n Network
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("network %s: %w", path, err)
	}
	if n.ChainID == "" || len(n.Nodes) == 0 {
		return nil, fmt.Errorf("network %s: needs chain_id and at least one node", path)
	}
	n.Dir = filepath.Dir(path)
	return &n, nil
}

// Members are the validators, then the followers: the processes of the
// network, numbered as `cairn devnet stop-node`/`start-node` number them.
func (n *Network) Members() []NetworkNode {
	return append(append([]NetworkNode(nil), n.Nodes...), n.Followers...)
}

// SearchNode is where to search: the first follower, else the first
// validator (which then indexes only if configured to).
func (n *Network) SearchNode() NetworkNode {
	if len(n.Followers) > 0 {
		return n.Followers[0]
	}
	return n.Nodes[0]
}

func (n *Network) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(n.Dir, p)
}

// LoadFaucetKey reads the faucet's private key.
func (n *Network) LoadFaucetKey() (*crypto.PrivateKey, error) {
	if n.FaucetKey == "" {
		return nil, errors.New("network has no faucet_key")
	}
	return crypto.LoadKey(n.resolve(n.FaucetKey))
}

// NodeHome returns node i's home directory (resolved).
func (n *Network) NodeHome(i int) string { return n.resolve(n.Nodes[i].Home) }

// Clients returns one client per node, in order.
func (n *Network) Clients(opts ...Option) ([]*Client, error) {
	out := make([]*Client, len(n.Nodes))
	for i, nd := range n.Nodes {
		c, err := New(nd.API, opts...)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", nd.Name, err)
		}
		out[i] = c
	}
	return out, nil
}
