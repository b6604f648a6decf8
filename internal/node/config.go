package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api"
	"github.com/cairn-db/cairn/internal/mempool"
	"github.com/cairn-db/cairn/internal/p2p"
	"github.com/cairn-db/cairn/types"
)

// Peer is another validator this node dials.
type Peer struct {
	Name      string           `json:"name"`
	PublicKey crypto.PublicKey `json:"public_key"`
	Addr      string           `json:"addr"`
}

// Duration is a time.Duration written as a string ("500ms") in JSON.
type Duration struct{ time.Duration }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads "1.5s" or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		d.Duration = v
		return nil
	}
	var ms int64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("duration: want a string like \"500ms\" or milliseconds")
	}
	d.Duration = time.Duration(ms) * time.Millisecond
	return nil
}

// ConsensusConfig tunes timing; every validator may differ without
// affecting safety.
type ConsensusConfig struct {
	TimeoutPropose     Duration `json:"timeout_propose"`
	TimeoutVote        Duration `json:"timeout_vote"`
	TimeoutDelta       Duration `json:"timeout_delta"` // added per round
	MaxBlockDelay      Duration `json:"max_block_delay"`
	EmptyBlockInterval Duration `json:"empty_block_interval"` // 0: no empty blocks
	// CutWhenIdle proposes at once the transactions that arrive while no
	// block is in flight, instead of after MaxBlockDelay (default true;
	// consensus.CutPolicy).
	CutWhenIdle bool `json:"cut_when_idle"`
}

// SearchConfig controls the node's search index. In config.json it is
// "on", "off", or an object {"index": "on"|"off", "elsewhere": [URLs]}
// ({"enabled": true|false} as older configs wrote it is still read).
type SearchConfig struct {
	// Index is "on", "off", or "" for the role's default: followers
	// index, validators do not (indexing costs 50-100 µs of CPU per
	// transaction, more than a validator's whole share of the chain's work).
	Index string
	// Elsewhere are API base URLs of nodes that do index; a search on a
	// node that does not answers 421 wrong_node naming them.
	Elsewhere []string
}

type searchConfigJSON struct {
	Index     string   `json:"index,omitempty"`
	Elsewhere []string `json:"elsewhere,omitempty"`
	Enabled   *bool    `json:"enabled,omitempty"`
}

// MarshalJSON writes the object form.
func (s SearchConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(searchConfigJSON{Index: s.Index, Elsewhere: s.Elsewhere})
}

// UnmarshalJSON reads "on", "off" or the object form.
func (s *SearchConfig) UnmarshalJSON(b []byte) error {
	var mode string
	if err := json.Unmarshal(b, &mode); err == nil {
		*s = SearchConfig{Index: mode}
		return nil
	}
	var o searchConfigJSON
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("search: want \"on\", \"off\" or {\"index\": ..., \"elsewhere\": [...]}: %w", err)
	}
	*s = SearchConfig{Index: o.Index, Elsewhere: o.Elsewhere}
	if o.Enabled != nil && o.Index == "" {
		s.Index = map[bool]string{true: "on", false: "off"}[*o.Enabled]
	}
	return nil
}

// Roles a node can have (Config.Role).
const (
	RoleValidator = "validator"
	RoleFollower  = "follower"
)

// MempoolConfig bounds the mempool (internal/mempool's package doc says
// what each bound does). Held txs are those behind a nonce gap, which cannot
// execute until it fills; they have a small budget of their own and expire.
type MempoolConfig struct {
	MaxTxs   int `json:"max_txs"`
	MaxBytes int `json:"max_bytes"`
	// One sender's pending txs, ready and held.
	MaxSenderTxs   int `json:"max_sender_txs"`
	MaxSenderBytes int `json:"max_sender_bytes"`
	// Held txs: per sender, in all, and for how long.
	MaxHeldTxsPerSender   int      `json:"max_held_txs_per_sender"`
	MaxHeldBytesPerSender int      `json:"max_held_bytes_per_sender"`
	MaxHeldTxs            int      `json:"max_held_txs"`
	MaxHeldBytes          int      `json:"max_held_bytes"`
	HeldTTL               Duration `json:"held_ttl"`
}

// defaultMempool is the mempool package's defaults with a larger pool.
func defaultMempool() MempoolConfig {
	d := mempool.DefaultConfig("", types.DefaultParams())
	return MempoolConfig{
		MaxTxs: 200_000, MaxBytes: 256 << 20,
		MaxSenderTxs: d.MaxSenderTxs, MaxSenderBytes: d.MaxSenderBytes,
		MaxHeldTxsPerSender: d.MaxHeldTxsPerSender, MaxHeldBytesPerSender: d.MaxHeldBytesPerSender,
		MaxHeldTxs: d.MaxHeldTxs, MaxHeldBytes: d.MaxHeldBytes, HeldTTL: Duration{d.HeldTTL},
	}
}

// apply copies the bounds into a mempool configuration.
func (c MempoolConfig) apply(mc *mempool.Config) {
	mc.MaxTxs, mc.MaxBytes = c.MaxTxs, c.MaxBytes
	mc.MaxSenderTxs, mc.MaxSenderBytes = c.MaxSenderTxs, c.MaxSenderBytes
	mc.MaxHeldTxsPerSender, mc.MaxHeldBytesPerSender = c.MaxHeldTxsPerSender, c.MaxHeldBytesPerSender
	mc.MaxHeldTxs, mc.MaxHeldBytes, mc.HeldTTL = c.MaxHeldTxs, c.MaxHeldBytes, c.HeldTTL.Duration
}

// APILimits are the REST API's load limits (internal/api.Config says what
// each does; docs/api.md has the defaults and the answers). Zero leaves
// the default.
type APILimits struct {
	ClientRate      float64 `json:"client_rate"`  // requests/s per client IP
	ClientBurst     int     `json:"client_burst"` // bucket size per client IP
	LimitLoopback   bool    `json:"limit_loopback"`
	MaxInFlight     int     `json:"max_in_flight"`
	MaxStreams      int     `json:"max_streams"`
	MaxReplayBlocks int     `json:"max_replay_blocks"`
	MaxWaits        int     `json:"max_waits"`
}

// defaultAPILimits are generous enough for `cairn bench` from a remote
// machine (8 clients sending batches of 500): the bucket counts requests,
// not transactions.
func defaultAPILimits() APILimits {
	return APILimits{ClientRate: 1000, ClientBurst: 2000, MaxInFlight: 1024, MaxStreams: 256, MaxReplayBlocks: 10_000, MaxWaits: 512}
}

// apiConfig is the API's configuration for this node's limits on a chain
// with params p. A single transaction's body may be twice max_tx_bytes
// plus 64 KiB: its JSON form (hex, escapes) is larger than its encoding,
// and anything beyond that cannot be a valid transaction. A
// contract.deploy, bounded by max_code_bytes instead, may need more: its
// code in base64.
func (c Config) apiConfig(p types.Params) api.Config {
	l := c.API
	maxCode, _ := p.ContractParams()
	return api.Config{
		MaxBodyBytes: max(2*int64(p.MaxTxBytes), int64(maxCode)/3*4+4) + 64<<10,
		ClientRate:   l.ClientRate, ClientBurst: l.ClientBurst, LimitLoopback: l.LimitLoopback,
		MaxInFlight: l.MaxInFlight, MaxStreams: l.MaxStreams, MaxReplayBlocks: l.MaxReplayBlocks, MaxWaits: l.MaxWaits,
	}
}

// Config is one validator's configuration: DIR/nodeN/config.json, then
// environment variables (CAIRN_API_ADDR, CAIRN_P2P_ADDR, CAIRN_LOG_LEVEL, CAIRN_LOG_FORMAT,
// CAIRN_DATA_DIR), then command-line flags, each overriding the last.
// Relative paths are relative to Home.
type Config struct {
	Home    string `json:"-"`
	Name    string `json:"name"`
	Genesis string `json:"genesis"`
	Key     string `json:"key"`
	DataDir string `json:"data_dir"`
	APIAddr string `json:"api_addr"`
	// DebugAddr is the loopback admin listener: POST /admin/checkpoint
	// (for cairn backup) always, and the test-only fault switch
	// (/debug/faults, with --unsafe-test-faults --faults). Never the public
	// API, and always a loopback address, so that nothing off the machine
	// can reach it. Port 0 picks a free port; the node writes the bound address to
	// HOME/debug.addr, where devnet's Cluster.SetFaults reads it.
	DebugAddr string          `json:"debug_addr"`
	P2PAddr   string          `json:"p2p_addr"`
	Peers     []Peer          `json:"peers"`
	LogLevel  string          `json:"log_level"`
	LogFormat string          `json:"log_format"` // "text" or "json"
	Mempool   MempoolConfig   `json:"mempool"`
	Consensus ConsensusConfig `json:"consensus"`
	// API bounds the load the REST API takes.
	API APILimits `json:"api"`
	// Search indexes committed transactions for GET /v1/search (default:
	// on for followers, off for validators; CAIRN_SEARCH=on|off overrides).
	Search SearchConfig `json:"search"`
	// AccountIndex keeps the per-account transaction index for GET
	// /v1/accounts/{address}/txs: "on", "off", or "" to do as search does
	// (CAIRN_ACCOUNT_INDEX=on|off overrides). A node without it answers
	// those listings 421 wrong_node naming Search.Elsewhere. Turned on
	// later, the node indexes its older blocks in the background.
	AccountIndex string `json:"account_index,omitempty"`
	// TLS, Auth and MetricsAddr secure the API (security.go,
	// docs/security.md). MetricsAddr, when set, serves /metrics (and the
	// probes) on a listener of its own and takes /metrics off the API's;
	// port 0 picks one, written to HOME/metrics.addr. InsecureAPI accepts
	// an API bound beyond loopback without TLS and tokens (refused
	// otherwise).
	TLS         TLSConfig  `json:"tls"`
	Auth        AuthConfig `json:"auth"`
	MetricsAddr string     `json:"metrics_addr"`
	// GRPCAddr, when set, serves the gRPC API (proto/cairn/v1) there, with
	// the API's TLS, tokens and limits; port 0 picks one, written to
	// HOME/grpc.addr.
	GRPCAddr    string `json:"grpc_addr"`
	InsecureAPI bool   `json:"insecure_api,omitempty"`
	// Snapshot takes state snapshots for new nodes (snapshots.go);
	// StateSync is where this node fetches one with --state-sync.
	Snapshot  SnapshotConfig  `json:"snapshot"`
	StateSync StateSyncConfig `json:"state_sync"`
	// Pruning says how much history the node keeps (ops.go, docs/operations.md).
	Pruning PruningConfig `json:"pruning"`
	// P2PCertificates sets the lifetime of the self-signed p2p TLS
	// certificates and how long before expiry they are renewed.
	P2PCertificates CertificateConfig `json:"p2p_certificates"`
	// Role is "validator" (the default) or "follower": a non-voting replica
	// that dials the validators in Peers, follows their certified blocks,
	// re-executes and checks every one, and serves the read API (see
	// follower.go). A follower's Key is its own, not a validator's.
	Role string `json:"role,omitempty"`
	// Join lets a validator node start with a key that is not (yet) in the
	// validator set: it syncs and follows the chain without voting, and
	// votes from the height whose set includes it (`cairn node --join`,
	// docs/operations.md). Its Peers are the network's validators.
	Join bool `json:"join,omitempty"`
	// Followers are the followers a validator admits on its p2p listener
	// (by their keys; Addr is not used: followers dial validators). A
	// follower ignores them.
	Followers []Peer `json:"followers,omitempty"`
	// SubmitTo, on a follower, are validators' API base URLs, named in the
	// answer to a transaction submitted to the follower (it takes none).
	SubmitTo []string `json:"submit_to,omitempty"`
	// Blobs selects the blob store (absent: files under data_dir/blobs);
	// Stream enables publishing committed blocks to a JetStream stream
	// (absent: off). docs/scale-out.md.
	Blobs  *BlobsConfig  `json:"blobs,omitempty"`
	Stream *StreamConfig `json:"stream,omitempty"`
	// AllowFaults enables the fault-injection endpoints and flags. It is for
	// tests and benchmarks only; a node refuses it unless also started with
	// the --unsafe-test-faults flag.
	AllowFaults bool `json:"-"`
	// Byzantine makes the validator misbehave (tests and benchmarks only;
	// same guard as AllowFaults): "", "equivocate", "double-vote",
	// "unauthorized".
	Byzantine string `json:"-"`
}

// DefaultConfig returns the defaults for a node in home.
func DefaultConfig(home string) Config {
	return Config{
		Home: home, Name: filepath.Base(home), Genesis: "../genesis.json", Key: "validator.key", DataDir: "data",
		APIAddr: "127.0.0.1:8080", DebugAddr: "127.0.0.1:0", P2PAddr: "127.0.0.1:26656", LogLevel: "info", LogFormat: "text",
		Mempool: defaultMempool(),
		API:     defaultAPILimits(),
		Auth:    AuthConfig{PublicReads: true},
		Pruning: PruningConfig{Interval: Duration{10 * time.Second}, BatchRecords: 5000},
		P2PCertificates: CertificateConfig{Lifetime: Duration{p2p.DefaultCertLifetime}, RenewBefore: Duration{p2p.DefaultCertLifetime / 3},
			WarnBefore: Duration{14 * 24 * time.Hour}},
		Consensus: ConsensusConfig{
			// The propose timeout must cover building and validating a full
			// block (10,000 txs: about a second each on a busy 2-core
			// machine); a round that times out costs more than waiting.
			TimeoutPropose: Duration{3 * time.Second}, TimeoutVote: Duration{1 * time.Second},
			TimeoutDelta: Duration{1 * time.Second}, MaxBlockDelay: Duration{50 * time.Millisecond},
			CutWhenIdle: true,
		},
	}
}

// ReadConfigFile reads home/config.json over the defaults, without the
// environment overrides LoadConfig applies (so a tool that saves the
// config back does not persist them).
func ReadConfigFile(home string) (Config, error) {
	c := DefaultConfig(home)
	b, err := os.ReadFile(filepath.Join(home, "config.json"))
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("config %s: %w", filepath.Join(home, "config.json"), err)
	}
	c.Home = home
	return c, nil
}

// LoadConfig reads home/config.json over the defaults and applies the
// environment.
func LoadConfig(home string) (Config, error) {
	c, err := ReadConfigFile(home)
	if err != nil {
		return c, err
	}
	for env, dst := range map[string]*string{
		"CAIRN_API_ADDR": &c.APIAddr, "CAIRN_P2P_ADDR": &c.P2PAddr,
		"CAIRN_LOG_LEVEL": &c.LogLevel, "CAIRN_LOG_FORMAT": &c.LogFormat, "CAIRN_DATA_DIR": &c.DataDir,
	} {
		if v, ok := os.LookupEnv(env); ok {
			*dst = v
		}
	}
	if v, ok := os.LookupEnv("CAIRN_SEARCH"); ok {
		switch v {
		case "on", "off":
			c.Search.Index = v
		default:
			return c, fmt.Errorf("CAIRN_SEARCH: want on or off, got %q", v)
		}
	}
	if v, ok := os.LookupEnv("CAIRN_ACCOUNT_INDEX"); ok {
		switch v {
		case "on", "off":
			c.AccountIndex = v
		default:
			return c, fmt.Errorf("CAIRN_ACCOUNT_INDEX: want on or off, got %q", v)
		}
	}
	if err := c.snapshotEnv(); err != nil {
		return c, err
	}
	if v, ok := os.LookupEnv("CAIRN_MEMPOOL_MAX_TXS"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return c, fmt.Errorf("CAIRN_MEMPOOL_MAX_TXS: %w", err)
		}
		c.Mempool.MaxTxs = n
	}
	return c, c.Check()
}

// Save writes the config to home/config.json.
func (c Config) Save() error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.Home, "config.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// Check rejects unusable settings.
func (c Config) Check() error {
	var errs []string
	if c.Name == "" {
		errs = append(errs, "name is empty")
	}
	if c.APIAddr == "" || c.P2PAddr == "" {
		errs = append(errs, "api_addr and p2p_addr are required")
	}
	if err := checkDebugAddr(c.DebugAddr, c.APIAddr); err != nil {
		errs = append(errs, err.Error())
	}
	errs = append(errs, c.checkSecurity()...)
	if mp := c.Mempool; mp.MaxTxs <= 0 || mp.MaxBytes <= 0 || mp.MaxSenderTxs <= 0 || mp.MaxSenderBytes <= 0 || mp.HeldTTL.Duration <= 0 {
		errs = append(errs, "mempool limits and held_ttl must be positive")
	}
	if mp := c.Mempool; mp.MaxHeldTxsPerSender < 0 || mp.MaxHeldBytesPerSender < 0 || mp.MaxHeldTxs < 0 || mp.MaxHeldBytes < 0 {
		errs = append(errs, "mempool held limits must not be negative")
	}
	if a := c.API; a.ClientRate < 0 || a.ClientBurst < 0 || a.MaxInFlight < 0 || a.MaxStreams < 0 || a.MaxReplayBlocks < 0 || a.MaxWaits < 0 {
		errs = append(errs, "api limits must not be negative")
	}
	if c.Consensus.TimeoutPropose.Duration <= 0 || c.Consensus.TimeoutVote.Duration <= 0 || c.Consensus.MaxBlockDelay.Duration <= 0 {
		errs = append(errs, "consensus timeouts must be positive")
	}
	if c.Snapshot.Keep < 0 || c.Snapshot.ChunkBytes < 0 || c.Snapshot.ChunkBytes > 32<<20 {
		errs = append(errs, "snapshot.keep must not be negative and snapshot.chunk_bytes must be between 0 and 32 MiB")
	}
	if err := c.Pruning.check(); err != nil {
		errs = append(errs, err.Error())
	}
	if err := c.P2PCertificates.check(); err != nil {
		errs = append(errs, err.Error())
	}
	switch c.Search.Index {
	case "", "on", "off":
	default:
		errs = append(errs, fmt.Sprintf("search must be on or off, got %q", c.Search.Index))
	}
	switch c.AccountIndex {
	case "", "on", "off":
	default:
		errs = append(errs, fmt.Sprintf("account_index must be on or off, got %q", c.AccountIndex))
	}
	switch c.Role {
	case "", RoleValidator:
	case RoleFollower:
		if c.Byzantine != "" {
			errs = append(errs, "a follower has no Byzantine modes (it never votes)")
		}
	default:
		errs = append(errs, fmt.Sprintf("role must be validator or follower, got %q", c.Role))
	}
	errs = append(errs, c.checkScaleOut()...)
	switch c.LogFormat {
	case "", "text", "json":
	default:
		errs = append(errs, "log_format must be text or json")
	}
	switch c.Byzantine {
	case "", "equivocate", "double-vote", "unauthorized":
	default:
		errs = append(errs, "byzantine mode must be equivocate, double-vote or unauthorized")
	}
	if len(errs) > 0 {
		return errors.New("config: " + strings.Join(errs, "; "))
	}
	return nil
}

// checkDebugAddr refuses a debug listener that could be reached from off
// the machine or that would share the API's listener.
func checkDebugAddr(debug, api string) error {
	host, _, err := net.SplitHostPort(debug)
	if err != nil {
		return fmt.Errorf("debug_addr %q: %v", debug, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("debug_addr %q must be a loopback address (127.0.0.1, ::1 or localhost)", debug)
	}
	if debug == api {
		return fmt.Errorf("debug_addr %q must differ from api_addr: the fault switch never shares the public listener", debug)
	}
	return nil
}

// IsFollower reports whether the node is a follower.
func (c Config) IsFollower() bool { return c.Role == RoleFollower }

// SearchOn reports whether the node keeps a search index: as configured,
// else by role (followers do, validators do not).
func (c Config) SearchOn() bool {
	switch c.Search.Index {
	case "on":
		return true
	case "off":
		return false
	}
	return c.IsFollower()
}

// AccountIndexOn reports whether the node keeps the per-account
// transaction index: as configured, else as it does search (an indexing
// node keeps both; a validator, by default, neither).
func (c Config) AccountIndexOn() bool {
	switch c.AccountIndex {
	case "on":
		return true
	case "off":
		return false
	}
	return c.SearchOn()
}

// Path resolves p relative to the node's home.
func (c Config) Path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Home, p)
}

// LedgerDir is where the node keeps its Pebble ledger.
func LedgerDir(c Config) string { return filepath.Join(c.Path(c.DataDir), "ledger") }

// WALPath is the node's consensus write-ahead log file.
func WALPath(c Config) string { return filepath.Join(c.Path(c.DataDir), "consensus.wal") }
