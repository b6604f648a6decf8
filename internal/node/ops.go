package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/internal/signguard"
)

// Operations: the background pruner, the admin endpoint behind `cairn
// backup`, the signing floor, and the certificate and retention metrics.

// pruneLoop moves the ledger's oldest heights up every Interval and deletes
// what they no longer need, one bounded batch at a time (ledger.PruneStep),
// resting between batches; the commit path waits for at most one batch
// write. A failure is logged and
// retried at the next interval: pruning late costs disk, not correctness.
func (n *Node) pruneLoop(ctx context.Context) {
	defer n.wg.Done()
	p := n.cfg.Pruning
	tick := time.NewTicker(p.Interval.Duration)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		r := p.retention()
		if n.index != nil && r.BodyHeights > 0 {
			// The search index reads bodies behind the head: keep the ones
			// it has not read yet.
			if lag := n.ledger.Head().Height - min(n.index.IndexedHeight(), n.ledger.Head().Height); lag+1 > r.BodyHeights {
				r.BodyHeights = lag + 1
			}
		}
		for more := true; more; {
			start := time.Now()
			st, err := n.ledger.PruneStep(r, p.BatchRecords)
			if err != nil {
				n.log.Error("pruning failed; retrying at the next interval", "err", err)
				break
			}
			n.m.pruned.WithLabelValues("nodes").Add(float64(st.Nodes))
			n.m.pruned.WithLabelValues("versions").Add(float64(st.Versions))
			n.m.pruned.WithLabelValues("roots").Add(float64(st.Roots))
			n.m.pruned.WithLabelValues("bodies").Add(float64(st.Bodies))
			more = st.More
			if more {
				// Rest as long as the batch took: the pruner takes at most
				// about half a core from the committer and the API, and
				// still deletes faster than a chain writes.
				select {
				case <-ctx.Done():
					return
				case <-time.After(min(time.Since(start), time.Second)):
				}
			}
		}
	}
}

// withhold drops this validator's own proposals and votes at heights the
// signing floor covers (internal/signguard): after a rollback or a restore
// it may already have signed there.
func (n *Node) withhold(msgs []consensus.Outbound) []consensus.Outbound {
	if n.guard == nil {
		return msgs
	}
	out := msgs[:0]
	for _, o := range msgs {
		h, own := uint64(0), false
		switch m := o.Msg.(type) {
		case *consensus.VoteMessage:
			h, own = m.Vote.Height, int(m.Vote.Validator) == n.self
		case *consensus.Proposal:
			h, own = m.Height, true
		}
		if own && !n.guard.MaySign(h) {
			n.m.withheld.Inc()
			continue
		}
		out = append(out, o)
	}
	return out
}

// peerHeight feeds a peer's reported height to the signing floor.
func (n *Node) peerHeight(msg consensus.Message) {
	if st, ok := msg.(*consensus.Status); ok && n.guard != nil {
		n.guard.PeerAt(st.Height, n.ledger.Head().Height)
	}
}

// CheckpointResponse is the admin endpoint's answer: where the checkpoint
// is and which height it holds at least (the backup reads the exact head
// from the copy itself).
type CheckpointResponse struct {
	Dir       string `json:"dir"`
	WAL       string `json:"wal,omitempty"` // a copy of the consensus WAL taken right after
	MinHeight uint64 `json:"min_height"`
}

// BackupsDir is where the admin endpoint writes checkpoints, in a node's
// home: the same filesystem as the data, so Pebble hard-links its files.
const BackupsDir = "backups"

// checkpointHandler serves POST /admin/checkpoint on the loopback admin
// listener: a consistent Pebble checkpoint of the running ledger under
// HOME/backups/, plus a copy of the consensus WAL. The caller (cairn
// backup) archives and then deletes the directory.
func (n *Node) checkpointHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		dir := filepath.Join(n.cfg.Path(BackupsDir), fmt.Sprintf("checkpoint-%d", time.Now().UnixNano()))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp := CheckpointResponse{Dir: dir, MinHeight: n.ledger.Head().Height}
		if err := n.ledger.Checkpoint(filepath.Join(dir, "ledger")); err != nil {
			_ = os.RemoveAll(dir)
			n.log.Error("checkpoint failed", "err", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		// The WAL is written by the consensus goroutine; a copy taken now
		// may end in a torn record, which wal.Open cuts on restore.
		if b, err := os.ReadFile(WALPath(n.cfg)); err == nil {
			resp.WAL = filepath.Join(dir, "consensus.wal")
			if err := os.WriteFile(resp.WAL, b, 0o600); err != nil {
				_ = os.RemoveAll(dir)
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		n.log.Info("checkpoint written", "dir", dir, "min_height", resp.MinHeight)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
}

// certificateStatus describes the p2p certificate for GET /v1/status.
func (n *Node) certificateStatus() *client.CertificateStatus {
	if n.net == nil {
		return nil
	}
	c := n.net.Certificate()
	left := time.Until(c.NotAfter)
	return &client.CertificateStatus{
		NotAfter: c.NotAfter.UnixMilli(), SecondsLeft: int64(left / time.Second),
		Expiring: left <= n.cfg.P2PCertificates.WarnBefore.Duration, Renewals: c.Renewals,
		RenewBeforeHours: int64(n.cfg.P2PCertificates.RenewBefore.Hours()),
	}
}

// registerOpsMetrics adds the certificate, retention and signing-floor
// gauges.
func (n *Node) registerOpsMetrics() {
	// Captured now: closeAll clears the fields while a scrape may run.
	tr, l, g := n.net, n.ledger, n.guard
	n.m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cairn_p2p_certificate_expiry_seconds",
			Help: "Seconds until the p2p TLS certificate expires (renewed before; negative: expired, which does not stop the node)."},
			func() float64 { return time.Until(tr.Certificate().NotAfter).Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cairn_retained_state_from_height", Help: "Oldest height whose state is kept (0: all)."},
			func() float64 { return float64(l.Retained().StateFrom) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cairn_retained_bodies_from_height", Help: "Oldest height whose block body is kept (0: all)."},
			func() float64 { return float64(l.Retained().BodiesFrom) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cairn_sign_floor_height", Help: "This validator signs nothing at or below this height (after a rollback or restore; 0: none)."},
			func() float64 {
				if g == nil {
					return 0
				}
				return float64(g.Height())
			}),
	)
}

// openGuard reads the signing floor from the data directory.
func (n *Node) openGuard() error {
	f, err := signguard.Read(n.cfg.Path(n.cfg.DataDir))
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	if f.Height > 0 || f.UntilCaughtUp {
		n.guard = signguard.New(f)
		n.guard.Committed(n.ledger.Head().Height)
		n.log.Warn("signing floor in force: this validator withholds its proposals and votes at or below it",
			"height", f.Height, "until_caught_up", f.UntilCaughtUp, "reason", f.Reason)
	}
	return nil
}
