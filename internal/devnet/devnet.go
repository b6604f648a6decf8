// Package devnet writes a whole local network to a directory (genesis,
// per-validator homes with keys and configs, a funded faucet key and a
// network.json that clients and the benchmark read) and runs its validators
// as child processes.
//
// Layout of DIR:
//
//	genesis.json
//	network.json           {"chain_id", "nodes": [{"name", "api", "home"}], "followers": [...], "faucet_key"}
//	faucet.key
//	node0/config.json, node0/validator.key, node0/data/ ...
//	follower0/config.json, follower0/follower.key, follower0/data/ ...
//
// Followers (Options.Followers) listen after the validators: follower i on
// APIPort+Validators+i and P2PPort+Validators+i. Validators list them (so
// they admit their connections) and name their APIs for search, and do not
// index; followers index and name the validators' APIs for writes.
//
//	devnet.sock            while `cairn devnet` runs: its control socket (control.go)
//
// With Options.Containers the same files describe one container per
// validator named nodeN and per follower named followerN (DIR mounted
// read-only at the same path in each, the data directory a volume at
// /data); see the Dockerfile and deploy/compose.yaml. A container layout
// without followers has its validators index search instead.
//
// Invariants: network.json is written last, so its presence marks a
// complete network; at most one devnet supervises a network at a time
// (the control socket answers while one does).
package devnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/node"
	"github.com/cairn-db/cairn/types"
)

// DefaultChainParams are the parameters `cairn devnet` and `cairn init`
// write: the defaults, an open chain (the genesis says "*": ["anyone"]; an
// operator narrows it in genesis.json before the first start), fees of
// types.DefaultFees (writing is never free), and governance by the faucet
// key alone (threshold 1), which holds the supply and so is the chain's
// operator (docs/security.md).
func DefaultChainParams() types.Params {
	p := types.DefaultParams()
	p.Fees = types.DefaultFees()
	p.GovernanceThreshold = 1
	return p
}

// Options of InitNetwork.
type Options struct {
	Validators int
	// Followers is the number of non-voting replicas (see the package doc).
	Followers int
	ChainID   string
	APIPort   int // node i listens on APIPort+i
	P2PPort   int // node i listens on P2PPort+i
	Host      string
	// FaucetBalance funds the faucet key.
	FaucetBalance uint64
	// Params overrides the chain parameters (nil: DefaultChainParams).
	// With a governance threshold, the faucet key is the one governor.
	Params *types.Params
	// Roles are genesis roles besides the faucet's governors (e.g. the
	// writers a permission table in Params names).
	Roles []types.Role
	// Tune, if set, adjusts each node's config before its peers are
	// filled in (with the other nodes' tuned peer addresses) and it is
	// written.
	Tune func(i int, c *node.Config)
	// Containers lays the network out for one container per validator
	// and follower: every node listens on 0.0.0.0 on the same ports
	// (ContainerAPIPort, ContainerP2PPort), dials its peers by container
	// name (node1:26656), and keeps its data in /data (a volume). APIPort+i
	// is then only the port the host publishes node i's API on, which
	// network.json names for clients on the host (followers after the
	// validators, as without containers).
	Containers bool
	// FollowerPrefix names the followers (default "follower": follower0, ...).
	FollowerPrefix string
	// ClientAPI, if set, gives the API base URL of node i (validators,
	// then followers) that the other nodes name to clients: validators'
	// search.elsewhere, followers' submit_to. Default: the URL
	// network.json names for it.
	ClientAPI func(i int, name string) string
	// NamePrefix names the validators (default "node": node0, node1, ...).
	NamePrefix string
	// PeerSuffix, with Containers, is appended to a validator's name to
	// form the host its peers dial: ".cairn" gives cairn-1.cairn, the
	// pod's name under a Kubernetes headless Service.
	PeerSuffix string
}

// The ports every validator listens on inside its own container.
const (
	ContainerAPIPort = 8080
	ContainerP2PPort = 26656
	// ContainerDataDir is the data directory of a validator in a
	// container: the mount point of its volume.
	ContainerDataDir = "/data"
)

// ErrExists is returned when DIR already holds a network.
var ErrExists = errors.New("network already initialised")

// Exists reports whether dir holds a network.json.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "network.json"))
	return err == nil
}

// LoadNetwork reads dir/network.json (or a path to the file itself).
func LoadNetwork(path string) (*client.Network, error) { return client.LoadNetwork(path) }

// InitNetwork writes a new network into dir.
func InitNetwork(dir string, o Options) (*client.Network, error) {
	if o.Validators <= 0 || o.Validators > 100 {
		return nil, fmt.Errorf("init: validators must be 1..100, got %d", o.Validators)
	}
	if o.Followers < 0 || o.Followers > 100 {
		return nil, fmt.Errorf("init: followers must be 0..100, got %d", o.Followers)
	}
	if o.ChainID == "" {
		o.ChainID = "cairn-devnet"
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.APIPort == 0 {
		o.APIPort = 8080
	}
	if o.P2PPort == 0 {
		o.P2PPort = 26656
	}
	if o.NamePrefix == "" {
		o.NamePrefix = "node"
	}
	if o.FollowerPrefix == "" {
		o.FollowerPrefix = "follower"
	}
	if o.FaucetBalance == 0 {
		o.FaucetBalance = 1 << 62
	}
	if Exists(dir) {
		return nil, fmt.Errorf("init %s: %w", dir, ErrExists)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	faucet, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	faucetPath := filepath.Join(abs, "faucet.key")
	if err := crypto.SaveKey(faucetPath, faucet); err != nil {
		return nil, err
	}
	params := DefaultChainParams()
	if o.Params != nil {
		params = *o.Params
	}
	g := &types.Genesis{
		ChainID: o.ChainID, GenesisTime: time.Now().UnixMilli(), Params: params,
		Balances: []types.Balance{{Address: faucet.Public().Address(), Amount: o.FaucetBalance}},
	}
	if params.GovernanceThreshold > 0 {
		g.Roles = []types.Role{{Name: types.RoleGovernors, Members: []crypto.Address{faucet.Public().Address()}}}
	}
	g.Roles = append(g.Roles, o.Roles...)
	keys := make([]*crypto.PrivateKey, o.Validators)
	cfgs := make([]node.Config, o.Validators)
	dial := make([]string, o.Validators)      // where peers reach node i
	published := make([]string, o.Validators) // containers: node i's API as the host sees it
	nw := &client.Network{ChainID: o.ChainID, FaucetKey: faucetPath, Dir: abs}
	for i := range keys {
		if keys[i], err = crypto.GenerateKey(); err != nil {
			return nil, err
		}
		name := fmt.Sprintf("%s%d", o.NamePrefix, i)
		home := filepath.Join(abs, name)
		if err := os.MkdirAll(home, 0o755); err != nil {
			return nil, fmt.Errorf("init: %w", err)
		}
		if err := crypto.SaveKey(filepath.Join(home, "validator.key"), keys[i]); err != nil {
			return nil, err
		}
		g.Validators = append(g.Validators, types.Validator{Name: name, PublicKey: keys[i].Public(), Power: 1})
		c := node.DefaultConfig(home)
		c.Name = name
		c.APIAddr = fmt.Sprintf("%s:%d", o.Host, o.APIPort+i)
		c.P2PAddr = fmt.Sprintf("%s:%d", o.Host, o.P2PPort+i)
		if o.Containers {
			c.APIAddr = fmt.Sprintf("0.0.0.0:%d", ContainerAPIPort)
			// On the containers' private network, published on the host's
			// loopback only (deploy/compose.yaml); TLS and tokens are the
			// operator's to add (docs/security.md).
			c.InsecureAPI = true
			c.P2PAddr = fmt.Sprintf("0.0.0.0:%d", ContainerP2PPort)
			c.DataDir = ContainerDataDir
			if o.Followers == 0 {
				// No follower to leave search to: validators index.
				c.Search.Index = "on"
			}
			dial[i] = fmt.Sprintf("%s%s:%d", name, o.PeerSuffix, ContainerP2PPort)
			published[i] = fmt.Sprintf("%s:%d", o.Host, o.APIPort+i)
		}
		cfgs[i] = c
	}
	if err := g.Check(); err != nil {
		return nil, err
	}
	if err := g.Save(filepath.Join(abs, "genesis.json")); err != nil {
		return nil, err
	}
	fkeys := make([]*crypto.PrivateKey, o.Followers)
	for i := range fkeys {
		if fkeys[i], err = crypto.GenerateKey(); err != nil {
			return nil, err
		}
		name := fmt.Sprintf("%s%d", o.FollowerPrefix, i)
		home := filepath.Join(abs, name)
		if err := os.MkdirAll(home, 0o755); err != nil {
			return nil, fmt.Errorf("init: %w", err)
		}
		if err := crypto.SaveKey(filepath.Join(home, "follower.key"), fkeys[i]); err != nil {
			return nil, err
		}
		c := node.DefaultConfig(home)
		c.Name, c.Role, c.Key = name, node.RoleFollower, "follower.key"
		c.APIAddr = fmt.Sprintf("%s:%d", o.Host, o.APIPort+o.Validators+i)
		c.P2PAddr = fmt.Sprintf("%s:%d", o.Host, o.P2PPort+o.Validators+i)
		if o.Containers {
			// As a validator's container; nobody dials a follower.
			c.APIAddr = fmt.Sprintf("0.0.0.0:%d", ContainerAPIPort)
			c.InsecureAPI = true
			c.P2PAddr = fmt.Sprintf("0.0.0.0:%d", ContainerP2PPort)
			c.DataDir = ContainerDataDir
			published = append(published, fmt.Sprintf("%s:%d", o.Host, o.APIPort+o.Validators+i))
		}
		cfgs = append(cfgs, c)
		dial = append(dial, "")
	}
	// Tune every config first, so that each node dials its peers where
	// they listen after Tune (which may move them). Followers are tuned
	// after the validators, as nodes Validators, Validators+1, ...
	for i := range cfgs {
		if o.Tune != nil {
			o.Tune(i, &cfgs[i])
		}
		if !o.Containers {
			dial[i] = cfgs[i].P2PAddr
		}
	}
	// What network.json names (after Tune, which may move the API), and
	// what the nodes name to clients.
	apiURL := make([]string, len(cfgs))
	clientURL := make([]string, len(cfgs))
	for i := range cfgs {
		apiURL[i] = "http://" + cfgs[i].APIAddr
		if o.Containers {
			apiURL[i] = "http://" + published[i]
		}
		clientURL[i] = apiURL[i]
		if o.ClientAPI != nil {
			clientURL[i] = o.ClientAPI(i, cfgs[i].Name)
		}
	}
	valAPIs, followerAPIs := clientURL[:o.Validators:o.Validators], clientURL[o.Validators:]
	for i := range cfgs {
		for j := range keys { // everyone dials the validators
			if i != j {
				cfgs[i].Peers = append(cfgs[i].Peers, node.Peer{Name: cfgs[j].Name, PublicKey: keys[j].Public(), Addr: dial[j]})
			}
		}
		if i < o.Validators {
			for j, k := range fkeys {
				cfgs[i].Followers = append(cfgs[i].Followers, node.Peer{Name: cfgs[o.Validators+j].Name, PublicKey: k.Public()})
			}
			if cfgs[i].Search.Index != "on" {
				cfgs[i].Search.Elsewhere = followerAPIs
			}
		} else {
			cfgs[i].SubmitTo = valAPIs
		}
		member := client.NetworkNode{Name: cfgs[i].Name, API: apiURL[i], Home: cfgs[i].Home}
		if i < o.Validators {
			nw.Nodes = append(nw.Nodes, member)
		} else {
			nw.Followers = append(nw.Followers, member)
		}
		if err := cfgs[i].Save(); err != nil {
			return nil, err
		}
	}
	b, err := json.MarshalIndent(nw, "", "  ")
	if err != nil {
		return nil, err
	}
	// network.json last: its presence marks a complete network.
	if err := os.WriteFile(filepath.Join(abs, "network.json"), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	return nw, nil
}
