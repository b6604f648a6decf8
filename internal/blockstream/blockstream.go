// Package blockstream publishes a node's committed blocks, each with its
// certificate and receipts (client.StreamBlock), to a NATS JetStream
// stream replicated on R servers, for analytics and other consumers that
// should not load the validators (docs/scale-out.md).
//
// Invariants:
//   - In order, no gaps: height h is published only after h-1 is
//     acknowledged by the stream (a quorum of its replicas); a failure
//     retries the same height until it lands, however long that takes.
//   - Once per height: every message carries Nats-Msg-Id CHAIN_ID/HEIGHT,
//     which the server deduplicates, and an expected last sequence for the
//     subject, so that a second publisher or a retry after a lost
//     acknowledgement cannot append a height twice; on a mismatch the
//     publisher rereads the stream's last message and resumes after it.
//   - Resumes after a restart from the stream's last message, not from any
//     local file: the stream is the record of what was published.
//   - Never holds up the committer: it runs on its own goroutine and reads
//     committed blocks from the ledger at its own pace, however far behind.
package blockstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/client/streamconsumer"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

// Message headers.
const (
	HeaderChainID = "Cairn-Chain-Id"
	HeaderHeight  = streamconsumer.HeaderHeight
)

// DefaultStream is the stream's name unless configured; readers
// (client/streamconsumer) default to the same.
const DefaultStream = streamconsumer.DefaultStream

// Config configures a Publisher.
type Config struct {
	// URLs of the cluster's servers.
	URLs []string
	// Replicas of the stream when the publisher creates it (3).
	Replicas int
	// Stream is the stream's name (CAIRN_BLOCKS); Subject the subject of
	// this chain's messages (cairn.blocks.CHAIN_ID).
	Stream, Subject string
	// Name identifies the connection to the servers.
	Name string
	// Poll is how often the ledger's head is checked (50 ms).
	Poll time.Duration
}

// Subject returns the default subject of chainID's blocks, the one
// readers default to.
func Subject(chainID string) string { return streamconsumer.Subject(chainID) }

// MsgID is the deduplication id of chainID's block at height.
func MsgID(chainID string, height uint64) string {
	return chainID + "/" + strconv.FormatUint(height, 10)
}

// Source is what the publisher reads: the committed chain.
type Source interface {
	// Height is the last committed height.
	Height() uint64
	// Block returns a committed block, its certificate and receipts.
	Block(height uint64) (*types.Block, *types.Certificate, []*types.Receipt, error)
}

// LedgerSource reads a node's ledger.
func LedgerSource(l *ledger.Ledger) Source { return ledgerSource{l} }

type ledgerSource struct{ l *ledger.Ledger }

func (s ledgerSource) Height() uint64 { return s.l.Head().Height }
func (s ledgerSource) ValidatorsAt(h uint64) (*types.ValidatorSet, error) {
	return s.l.ValidatorsAt(h)
}
func (s ledgerSource) Block(h uint64) (*types.Block, *types.Certificate, []*types.Receipt, error) {
	return s.l.Block(h)
}

// Publisher publishes src's blocks to the stream.
type Publisher struct {
	cfg     Config
	src     Source
	chainID string
	log     *slog.Logger
	nc      *nats.Conn
	js      jetstream.JetStream

	published atomic.Uint64 // last height the stream acknowledged
	wake      chan struct{}
}

// NewPublisher connects to the cluster (an unreachable cluster is retried
// in Run, not an error here).
func NewPublisher(cfg Config, src Source, chainID string, log *slog.Logger) (*Publisher, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("blockstream: no server URLs")
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 3
	}
	if cfg.Stream == "" {
		cfg.Stream = DefaultStream
	}
	if cfg.Subject == "" {
		cfg.Subject = Subject(chainID)
	}
	if cfg.Name == "" {
		cfg.Name = "cairn-blockstream"
	}
	if cfg.Poll == 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nc, err := nats.Connect(strings.Join(cfg.URLs, ","), nats.Name(cfg.Name),
		nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("blockstream: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("blockstream: %w", err)
	}
	return &Publisher{cfg: cfg, src: src, chainID: chainID, log: log, nc: nc, js: js, wake: make(chan struct{}, 1)}, nil
}

// Published returns the last height the stream has acknowledged (0 before
// the first).
func (p *Publisher) Published() uint64 { return p.published.Load() }

// Notify tells the publisher a block was committed (optional: it polls).
// It never blocks.
func (p *Publisher) Notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Close ends the connection; call it after Run returns.
func (p *Publisher) Close() error {
	p.nc.Close()
	return nil
}

// Run publishes until ctx ends.
func (p *Publisher) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	var (
		synced  bool
		next    uint64 // the height to publish next
		lastSeq uint64 // the stream sequence of our subject's last message
	)
	tick := time.NewTicker(p.cfg.Poll)
	defer tick.Stop()
	for {
		var err error
		if !synced {
			next, lastSeq, err = p.resync(ctx)
			synced = err == nil
		}
		for err == nil && next <= p.src.Height() && ctx.Err() == nil {
			var seq uint64
			seq, err = p.publish(ctx, next, lastSeq)
			if err == nil {
				lastSeq = seq
				p.published.Store(next)
				next++
				backoff = 100 * time.Millisecond
			}
		}
		if err != nil && ctx.Err() == nil {
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
				p.log.Warn("stream moved on without us (another publisher?); rereading its last message", "height", next)
				synced = false
			} else {
				p.log.Warn("cannot publish to the block stream; retrying", "height", next, "in", backoff, "err", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.wake:
		case <-tick.C:
		}
	}
}

// resync makes sure the stream exists and returns the height after its
// last message on our subject and that message's sequence.
func (p *Publisher) resync(ctx context.Context) (next, seq uint64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := p.js.Stream(ctx, p.cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = p.js.CreateStream(ctx, jetstream.StreamConfig{
			Name: p.cfg.Stream, Description: "Cairn certified blocks (client.StreamBlock)",
			Subjects: []string{p.cfg.Subject}, Replicas: p.cfg.Replicas, Storage: jetstream.FileStorage,
			Duplicates: 10 * time.Minute,
		})
	}
	if err != nil {
		return 0, 0, fmt.Errorf("stream %s: %w", p.cfg.Stream, err)
	}
	last, err := st.GetLastMsgForSubject(ctx, p.cfg.Subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		p.log.Info("block stream is empty; publishing from height 1", "stream", p.cfg.Stream, "subject", p.cfg.Subject)
		return 1, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("stream %s: last message: %w", p.cfg.Stream, err)
	}
	if c := last.Header.Get(HeaderChainID); c != p.chainID {
		return 0, 0, fmt.Errorf("stream %s subject %s holds chain %q, this node is %q", p.cfg.Stream, p.cfg.Subject, c, p.chainID)
	}
	h, err := strconv.ParseUint(last.Header.Get(HeaderHeight), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("stream %s: last message has no height: %w", p.cfg.Stream, err)
	}
	p.published.Store(h)
	p.log.Info("block stream resumes", "after", h, "sequence", last.Sequence)
	return h + 1, last.Sequence, nil
}

// publish sends one height and returns its stream sequence once a quorum
// of the stream's replicas has it.
func (p *Publisher) publish(ctx context.Context, height, lastSeq uint64) (uint64, error) {
	b, cert, rs, err := p.src.Block(height)
	if err != nil {
		return 0, fmt.Errorf("read block %d: %w", height, err)
	}
	sb := &client.StreamBlock{Block: b, Certificate: cert, Receipts: rs}
	if b.Header.NextValidatorsHash != b.Header.ValidatorsHash {
		// The set changes: carry the next one, so a consumer follows it
		// from the stream alone.
		vs, ok := p.src.(interface {
			ValidatorsAt(uint64) (*types.ValidatorSet, error)
		})
		if !ok {
			return 0, fmt.Errorf("block %d: the validator set changes and the source cannot say to what", height)
		}
		next, err := vs.ValidatorsAt(height + 1)
		if err != nil {
			return 0, fmt.Errorf("block %d: next validators: %w", height, err)
		}
		sb.NextValidators = next.Validators
	}
	data := sb.Encode()
	if max := p.nc.MaxPayload(); max > 0 && int64(len(data)) > max {
		return 0, fmt.Errorf("block %d is a %d-byte message, the servers' max_payload is %d: raise max_payload", height, len(data), max)
	}
	m := nats.NewMsg(p.cfg.Subject)
	m.Data = data
	m.Header.Set(HeaderChainID, p.chainID)
	m.Header.Set(HeaderHeight, strconv.FormatUint(height, 10))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ack, err := p.js.PublishMsg(ctx, m, jetstream.WithMsgID(MsgID(p.chainID, height)),
		jetstream.WithExpectLastSequencePerSubject(lastSeq))
	if err != nil {
		return 0, fmt.Errorf("publish block %d: %w", height, err)
	}
	return ack.Sequence, nil
}
