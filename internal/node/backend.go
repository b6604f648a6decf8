package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api"
	"github.com/cairn-db/cairn/types"
)

// maxTracked bounds the admission times kept for the latency histogram.
const maxTracked = 200_000

// startAPI listens on the configured address and serves the REST API.
func (n *Node) startAPI() error {
	ln, err := net.Listen("tcp", n.cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("node: api listen %s: %w", n.cfg.APIAddr, err)
	}
	n.apiLn = ln
	cfg := n.cfg.apiConfig(n.genesis.Params)
	if cfg.Access, err = n.setupSecurity(); err != nil {
		ln.Close()
		return err
	}
	cfg.MetricsElsewhere = n.cfg.MetricsAddr != ""
	cfg.Backend, cfg.Events, cfg.Gatherer, cfg.Registerer, cfg.Logger = n, n.hub, n.m.reg, n.m.reg, n.log.With("component", "api")
	if n.index != nil {
		cfg.Search = n.index // not a nil *Index in the interface: that would not be "disabled"
	}
	if n.snapshots != nil {
		cfg.Snapshots = n.snapshots.API()
	}
	cfg.Blobs, cfg.MaxBlobBytes = n.blobs.Store(), n.maxBlobBytes
	cfg.IndexElsewhere = n.cfg.Search.Elsewhere
	h := api.New(cfg)
	n.http = api.NewHTTPServer(n.cfg.APIAddr, h, n.log)
	if err := n.startMetrics(h); err != nil {
		ln.Close()
		return err
	}
	if err := n.startDebug(); err != nil {
		n.stopSecurity(context.Background())
		ln.Close()
		return err
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.http.Serve(n.serveListener(ln)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("api server", "err", err)
		}
	}()
	return nil
}

// startDebug serves the admin endpoints (the checkpoint behind cairn
// backup, and the fault switch in test mode) on their own loopback listener
// (cfg.DebugAddr, checked by Config.Check) and writes the bound address to
// HOME/debug.addr for cairn backup and devnet. It is never mounted on the
// public API: a page or a client that can reach the API must not be able
// to stall the chain or write checkpoints.
func (n *Node) startDebug() error {
	ln, err := net.Listen("tcp", n.cfg.DebugAddr)
	if err != nil {
		return fmt.Errorf("node: debug listen %s: %w", n.cfg.DebugAddr, err)
	}
	if ln.Addr().String() == n.apiLn.Addr().String() {
		ln.Close()
		return fmt.Errorf("node: debug listener %s is the API's", ln.Addr())
	}
	// Written whole under a temporary name and renamed, so a reader never
	// sees a half-written address. A home mounted read-only (the container
	// layout: config and key from a read-only volume, data elsewhere) gets
	// no file: the node runs, and the admin listener is at debug_addr.
	tmp := n.cfg.Path(DebugAddrFile + ".tmp")
	if err := os.WriteFile(tmp, []byte(ln.Addr().String()+"\n"), 0o644); errors.Is(err, syscall.EROFS) && !n.cfg.AllowFaults {
		n.log.Warn("home is read-only: the admin listener's address is not written to "+DebugAddrFile, "addr", ln.Addr().String())
	} else if err != nil {
		ln.Close()
		return fmt.Errorf("node: %w", err)
	} else if err := os.Rename(tmp, n.cfg.Path(DebugAddrFile)); err != nil {
		ln.Close()
		return fmt.Errorf("node: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/checkpoint", n.checkpointHandler())
	if n.cfg.AllowFaults {
		mux.Handle("/debug/faults", n.faultsHandler())
		n.log.Warn("fault switch listening", "addr", ln.Addr().String())
	}
	n.debug = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.debug.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("debug server", "err", err)
		}
	}()
	return nil
}

// DebugAddrFile, in a node's home, holds the address of its fault switch
// while it runs with one.
const DebugAddrFile = "debug.addr"

// APIAddr is the address the API listens on (useful with port 0).
func (n *Node) APIAddr() string {
	if n.apiLn == nil {
		return ""
	}
	return n.apiLn.Addr().String()
}

// Submit implements api.Backend.
func (n *Node) Submit(txs []*types.Tx) []error {
	if n.pool == nil {
		// A follower takes no transactions: a write it accepted could be
		// lost with no validator ever seeing it. The client is told where
		// to send them instead (decided in docs/api.md, "Followers").
		errs := make([]error, len(txs))
		for i := range errs {
			errs[i] = &api.WrongNodeError{What: "this node is a follower and takes no transactions; submit them to a validator", Ask: n.cfg.SubmitTo}
		}
		return errs
	}
	if !n.ready.Load() {
		errs := make([]error, len(txs))
		for i := range errs {
			errs[i] = fmt.Errorf("node is starting or stopping: %w", api.ErrUnavailable)
		}
		return errs
	}
	errs := n.pool.AddBatch(txs)
	now := time.Now()
	tracked := n.tracked.Load()
	for i, err := range errs {
		if err == nil && tracked < maxTracked {
			n.submitAt.Store(txs[i].Hash(), now)
			tracked = n.tracked.Add(1)
		}
	}
	return errs
}

// Pending implements api.Backend.
func (n *Node) Pending(h crypto.Hash) (*types.Tx, bool) {
	if n.pool == nil {
		return nil, false
	}
	return n.pool.Get(h)
}

// Ready implements api.Backend.
func (n *Node) Ready() error {
	if !n.ready.Load() {
		return errors.New("consensus is not running")
	}
	return nil
}

// Info implements api.Backend.
func (n *Node) Info() api.NodeInfo {
	info := api.NodeInfo{Name: n.cfg.Name}
	if ix := n.index; ix != nil {
		info.IndexedHeight = ix.IndexedHeight()
	}
	byKey := map[crypto.PublicKey]string{}
	for _, v := range n.ledger.Validators().Validators {
		byKey[v.PublicKey] = v.Name
	}
	for k, name := range n.followers.names {
		byKey[k] = name
	}
	connected := 0
	if t := n.net; t != nil {
		for _, p := range t.Peers() {
			info.Peers = append(info.Peers, client.Peer{Name: byKey[p.PublicKey], PublicKey: p.PublicKey, Connected: p.Connected, Since: p.Since})
			if p.Connected && !p.Follower {
				connected++ // the gauge counts validators; followers are listed, not counted
			}
		}
	}
	n.m.peers.Set(float64(connected))
	if n.pool != nil {
		st := n.pool.Stats()
		info.Mempool = client.MempoolStatus{Txs: st.Txs, Bytes: st.Bytes}
	}
	info.P2PCertificate = n.certificateStatus()
	if pos := n.position.Load(); pos != nil {
		info.Consensus = client.ConsensusStatus{Height: pos.Height, Round: pos.Round, Step: pos.Step}
	}
	return info
}
