// Command stream-consumer reads a Cairn chain's stream of certified blocks
// from NATS JetStream (docs/scale-out.md) and prints one JSON line per
// block. It trusts only the validator set of the genesis file it is given:
// every block's certificate is verified against it, and the transactions
// and receipts against the certified header, before the block is used; the
// stream's servers and the node that published are not trusted. Heights
// must follow each other and each block must name its parent.
//
//	go run ./examples/stream-consumer --nats nats://127.0.0.1:4222 --genesis devnet/genesis.json
//
// An analytics job would replace print with its own sink and keep the last
// height it stored, to start from it (--from) after a restart.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// Consumer yields verified blocks in height order.
type Consumer struct {
	chainID string
	vals    *types.ValidatorSet
	cons    jetstream.Consumer
	msgs    jetstream.MessagesContext
	next    uint64      // the height expected next
	parent  crypto.Hash // the hash of block next-1 (zero before the first)
}

// NewConsumer reads stream's subject from the message of height from on.
func NewConsumer(ctx context.Context, js jetstream.JetStream, stream, subject string, g *types.Genesis, from uint64) (*Consumer, error) {
	vals, err := g.ValidatorSet()
	if err != nil {
		return nil, err
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	// An ordered consumer: no state on the servers, redelivered in order
	// after any failure. Start at the first message, or at the one of
	// height from (found by its sequence: heights and sequences both grow).
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if from > 1 {
		seq, err := sequenceOf(ctx, st, subject, from)
		if err != nil {
			return nil, err
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq
	}
	cons, err := st.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	return &Consumer{chainID: g.ChainID, vals: vals, cons: cons, msgs: msgs, next: max(from, 1)}, nil
}

// sequenceOf finds the stream sequence of height h by binary search over
// the subject's messages (their heights grow with their sequences).
func sequenceOf(ctx context.Context, st jetstream.Stream, subject string, h uint64) (uint64, error) {
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	lo, hi := info.State.FirstSeq, info.State.LastSeq
	for lo < hi {
		mid := lo + (hi-lo)/2
		m, err := st.GetMsg(ctx, mid)
		var mh uint64
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound) || (err == nil && m.Subject != subject):
			mh = 0 // a gap or another subject: look further on
		case err != nil:
			return 0, err
		default:
			if mh, err = strconv.ParseUint(m.Header.Get("Cairn-Height"), 10, 64); err != nil {
				return 0, fmt.Errorf("message %d has no height", mid)
			}
		}
		if mh < h {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// Next returns the next block, verified. Messages of heights already
// passed are skipped (a consumer restarted at an older sequence).
func (c *Consumer) Next() (*client.StreamBlock, error) {
	for {
		m, err := c.msgs.Next()
		if err != nil {
			return nil, err
		}
		sb, err := client.DecodeStreamBlock(m.Data())
		if err != nil {
			return nil, err
		}
		h := sb.Block.Header.Height
		if h < c.next {
			continue
		}
		if h > c.next {
			return nil, fmt.Errorf("stream skips from height %d to %d", c.next, h)
		}
		if err := sb.Verify(c.chainID, c.vals); err != nil {
			return nil, err
		}
		if !c.parent.IsZero() && sb.Block.Header.ParentHash != c.parent {
			return nil, fmt.Errorf("block %d names parent %s, block %d was %s", h, sb.Block.Header.ParentHash, h-1, c.parent)
		}
		c.next, c.parent = h+1, sb.Block.Header.Hash()
		return sb, nil
	}
}

// Stop ends the subscription.
func (c *Consumer) Stop() { c.msgs.Stop() }

// line is what the example prints per block.
type line struct {
	Height   uint64      `json:"height"`
	Hash     crypto.Hash `json:"hash"`
	Time     int64       `json:"time"`
	Txs      int         `json:"txs"`
	Failed   int         `json:"failed"`
	Verified bool        `json:"verified"`
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stream-consumer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	urls := fs.String("nats", "nats://127.0.0.1:4222", "NATS server URLs, comma-separated")
	genesis := fs.String("genesis", "", "the chain's genesis file: its validators are the ones trusted (required)")
	stream := fs.String("stream", "CAIRN_BLOCKS", "stream name")
	subject := fs.String("subject", "", "subject (default cairn.blocks.CHAIN_ID)")
	from := fs.Uint64("from", 1, "first height to read")
	count := fs.Uint64("count", 0, "stop after this many blocks (0: follow forever)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *genesis == "" {
		fmt.Fprintln(stderr, "stream-consumer: --genesis is required")
		return 2
	}
	g, err := types.LoadGenesis(*genesis)
	if err != nil {
		fmt.Fprintf(stderr, "stream-consumer: %v\n", err)
		return 1
	}
	if *subject == "" {
		*subject = "cairn.blocks." + strings.NewReplacer(".", "_", "*", "_", ">", "_", " ", "_").Replace(g.ChainID)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	nc, err := nats.Connect(*urls, nats.Name("cairn stream-consumer"), nats.MaxReconnects(-1))
	if err != nil {
		fmt.Fprintf(stderr, "stream-consumer: %v\n", err)
		return 1
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintf(stderr, "stream-consumer: %v\n", err)
		return 1
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	c, err := NewConsumer(octx, js, *stream, *subject, g, *from)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "stream-consumer: %v\n", err)
		return 1
	}
	go func() { <-ctx.Done(); c.Stop() }()
	enc := json.NewEncoder(stdout)
	for n := uint64(0); *count == 0 || n < *count; n++ {
		sb, err := c.Next()
		if err != nil {
			if ctx.Err() != nil {
				return 0
			}
			fmt.Fprintf(stderr, "stream-consumer: %v\n", err)
			return 1
		}
		l := line{Height: sb.Block.Header.Height, Hash: sb.Block.Header.Hash(), Time: sb.Block.Header.Time, Txs: len(sb.Block.Txs), Verified: true}
		for _, r := range sb.Receipts {
			if !r.OK {
				l.Failed++
			}
		}
		_ = enc.Encode(l)
	}
	c.Stop()
	return 0
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
