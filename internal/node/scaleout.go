package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-db/cairn/internal/blobstore"
	"github.com/cairn-db/cairn/internal/blockstream"
)

// BlobsConfig selects the node's blob store (docs/scale-out.md). Absent,
// blobs live in files under the node's data directory.
type BlobsConfig struct {
	// Engine is "files" (the default: DATA_DIR/blobs) or "nats" (a
	// JetStream object store on the servers at URLs, Replicas copies).
	Engine   string   `json:"engine"`
	URLs     []string `json:"urls,omitempty"`
	Replicas int      `json:"replicas,omitempty"` // nats: default 3
	Bucket   string   `json:"bucket,omitempty"`   // nats: default cairn-blobs
	MaxBytes int64    `json:"max_bytes,omitempty"`
	// MaxBlobBytes bounds one upload (default 1 GiB).
	MaxBlobBytes int64 `json:"max_blob_bytes,omitempty"`
	// CheckTimeout bounds the store lookups of one admission, proposal or
	// validation (default 1s): a store that does not answer makes the
	// validator refuse the proposal, it never holds the round longer.
	CheckTimeout Duration `json:"check_timeout,omitempty"`
}

// StreamConfig enables the stream of certified blocks (docs/scale-out.md):
// the node publishes every committed block to a JetStream stream.
type StreamConfig struct {
	URLs     []string `json:"urls"`
	Replicas int      `json:"replicas,omitempty"` // default 3
	Stream   string   `json:"stream,omitempty"`   // default CAIRN_BLOCKS
	Subject  string   `json:"subject,omitempty"`  // default cairn.blocks.CHAIN_ID
}

// checkScaleOut rejects unusable blob and stream settings.
func (c Config) checkScaleOut() []string {
	var errs []string
	if b := c.Blobs; b != nil {
		switch b.Engine {
		case "", "files":
			if len(b.URLs) > 0 {
				errs = append(errs, "blobs: urls need engine nats")
			}
		case "nats":
			if len(b.URLs) == 0 {
				errs = append(errs, "blobs: engine nats needs urls")
			}
		default:
			errs = append(errs, fmt.Sprintf("blobs: engine must be files or nats, got %q", b.Engine))
		}
		if b.Replicas < 0 || b.Replicas > 5 || b.MaxBytes < 0 || b.MaxBlobBytes < 0 || b.CheckTimeout.Duration < 0 {
			errs = append(errs, "blobs: replicas must be 1 to 5, sizes and check_timeout not negative")
		}
	}
	if s := c.Stream; s != nil && (len(s.URLs) == 0 || s.Replicas < 0 || s.Replicas > 5) {
		errs = append(errs, "stream: needs urls, and replicas 1 to 5")
	}
	return errs
}

// openBlobs opens the configured blob store and the checker that guards
// admission, proposals and prevotes with it.
func (n *Node) openBlobs() error {
	bc := BlobsConfig{}
	if n.cfg.Blobs != nil {
		bc = *n.cfg.Blobs
	}
	timeout := bc.CheckTimeout.Duration
	if timeout == 0 {
		timeout = time.Second
	}
	var s blobstore.Store
	var err error
	switch bc.Engine {
	case "", "files":
		s, err = blobstore.OpenFiles(filepath.Join(n.cfg.Path(n.cfg.DataDir), "blobs"))
	case "nats":
		spool := filepath.Join(n.cfg.Path(n.cfg.DataDir), "blob-spool")
		if err = os.MkdirAll(spool, 0o755); err == nil {
			s, err = blobstore.OpenNATS(blobstore.NATSConfig{URLs: bc.URLs, Bucket: bc.Bucket, Replicas: bc.Replicas,
				MaxBytes: bc.MaxBytes, Name: "cairn " + n.cfg.Name, SpoolDir: spool})
		}
	default:
		err = fmt.Errorf("unknown engine %q", bc.Engine)
	}
	if err != nil {
		return fmt.Errorf("node: blob store: %w", err)
	}
	n.blobs = blobstore.NewChecker(s, timeout)
	n.maxBlobBytes = bc.MaxBlobBytes
	return nil
}

// openStream prepares the block stream publisher, if configured (it runs
// from Run, on its own goroutine).
func (n *Node) openStream() error {
	sc := n.cfg.Stream
	if sc == nil {
		return nil
	}
	p, err := blockstream.NewPublisher(blockstream.Config{URLs: sc.URLs, Replicas: sc.Replicas, Stream: sc.Stream,
		Subject: sc.Subject, Name: "cairn " + n.cfg.Name}, blockstream.LedgerSource(n.ledger), n.genesis.ChainID, n.log.With("component", "blockstream"))
	if err != nil {
		return fmt.Errorf("node: block stream: %w", err)
	}
	n.stream = p
	n.m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cairn_stream_published_height",
		Help: "The last height the block stream acknowledged (compare with cairn_height for the export lag).",
	}, func() float64 { return float64(p.Published()) }))
	return nil
}

// closeScaleOut closes the blob store and the stream publisher's
// connection.
func (n *Node) closeScaleOut() error {
	var errs []error
	if n.stream != nil {
		errs = append(errs, n.stream.Close())
		n.stream = nil
	}
	if n.blobs != nil {
		errs = append(errs, n.blobs.Store().Close())
		n.blobs = nil
	}
	return errors.Join(errs...)
}
