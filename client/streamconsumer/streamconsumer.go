// Package streamconsumer reads a Cairn chain's stream of certified blocks
// from NATS JetStream (docs/scale-out.md) and yields only verified blocks,
// in height order. It trusts the validator set of the genesis it is given
// and nothing else: the stream's servers and the node that published are
// not part of the chain's trust.
//
// Invariants of what Next returns: every block's certificate was verified
// against the genesis validators and its transactions and receipts against
// the certified header (client.StreamBlock.Verify); heights follow each
// other without a gap, starting at the height asked for; each block names
// the previous one's hash as its parent. Anything else is an error, and a
// Consumer that returned one returns nothing further that is trusted.
//
// It lives beside the SDK, not in it, so that importing the SDK does not
// link a NATS client.
package streamconsumer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// DefaultStream is the stream's name unless a publisher was configured
// with another.
const DefaultStream = "CAIRN_BLOCKS"

// HeaderHeight is the message header carrying the block's height, which
// lets a reader find a height without decoding blocks.
const HeaderHeight = "Cairn-Height"

// Subject returns the default subject of chainID's blocks: the chain id
// with the characters NATS gives meaning to replaced by '_'.
func Subject(chainID string) string {
	return "cairn.blocks." + strings.Map(func(r rune) rune {
		if r == '.' || r == '*' || r == '>' || r == ' ' {
			return '_'
		}
		return r
	}, chainID)
}

// Consumer yields verified blocks in height order.
type Consumer struct {
	chainID string
	vals    *types.ValidatorSet
	msgs    jetstream.MessagesContext
	next    uint64      // the height expected next
	parent  crypto.Hash // the hash of block next-1 (zero before the first read)
	nc      *nats.Conn  // the connection Dial opened (nil from New)
}

// Dial connects to the NATS servers at urls (comma-separated) as name and
// opens a Consumer on it as New does, the opening bounded by openTimeout;
// Close closes the connection too.
func Dial(ctx context.Context, urls, name, stream, subject string, g *types.Genesis, from uint64) (*Consumer, error) {
	nc, err := nats.Connect(urls, nats.Name(name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", urls, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats %s: %w", urls, err)
	}
	octx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	c, err := New(octx, js, stream, subject, g, from)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.nc = nc
	return c, nil
}

// openTimeout bounds Dial's finding of the first message.
const openTimeout = 30 * time.Second

// New reads stream's subject from the message of height from on (1 when
// from is 0), trusting g's validators: the set of height 1, and of height
// from only if no set change came before it (follow the changes from
// height 1, or check the set of from with client.VerifyValidatorSets).
func New(ctx context.Context, js jetstream.JetStream, stream, subject string, g *types.Genesis, from uint64) (*Consumer, error) {
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
			return nil, fmt.Errorf("stream %s: finding height %d: %w", stream, from, err)
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq
	}
	cons, err := st.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("stream %s: consumer: %w", stream, err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("stream %s: consumer: %w", stream, err)
	}
	return &Consumer{chainID: g.ChainID, vals: vals, msgs: msgs, next: max(from, 1)}, nil
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
			if mh, err = strconv.ParseUint(m.Header.Get(HeaderHeight), 10, 64); err != nil {
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

// Next returns the next block, verified; it waits for one to be
// published. Messages of heights already passed are skipped (a consumer
// restarted at an older sequence). After Stop it returns an error.
func (c *Consumer) Next() (*client.StreamBlock, error) {
	for {
		m, err := c.msgs.Next()
		if err != nil {
			return nil, err
		}
		sb, err := client.DecodeStreamBlock(m.Data())
		if err != nil {
			return nil, fmt.Errorf("height %d: %w", c.next, err)
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
		// The set of the next height (docs/consensus.md): the same, or
		// the one the message carries, which the certified header names.
		next, err := sb.NextSet(c.vals)
		if err != nil {
			return nil, err
		}
		if !c.parent.IsZero() && sb.Block.Header.ParentHash != c.parent {
			return nil, fmt.Errorf("block %d names parent %s, block %d was %s", h, sb.Block.Header.ParentHash, h-1, c.parent)
		}
		c.next, c.parent, c.vals = h+1, sb.Block.Header.Hash(), next
		return sb, nil
	}
}

// Stop ends the subscription; a Next waiting returns an error. Safe to
// call from another goroutine and more than once.
func (c *Consumer) Stop() { c.msgs.Stop() }

// Close stops the consumer and closes the connection Dial opened.
func (c *Consumer) Close() {
	c.Stop()
	if c.nc != nil {
		c.nc.Close()
	}
}
