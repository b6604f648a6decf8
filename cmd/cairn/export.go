package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/client/streamconsumer"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

func init() {
	register("export", "write the chain's certified blocks from NATS JetStream as JSON lines, each verified", runExport)
}

const exportUsage = "cairn export --nats URLS --genesis FILE [--stream NAME] [--from HEIGHT] [--to HEIGHT]"

const exportAbout = `Reads the stream of certified blocks a node publishes to NATS JetStream
(docs/scale-out.md) and writes one JSON object per block to stdout, in
height order: header fields, and each transaction with its receipt.

Every block is verified before it is written: its certificate against the
validator set of the genesis FILE (the only thing trusted; the stream's
servers and the publishing node are not), its transactions and receipts
against the certified header, its height (the one after the last) and its
parent (the last block's hash). A block that fails stops the export with an
error and exit status 1; the blocks written before it are sound.

With --to the export ends after that height (waiting for it to be
published); without, it follows the stream until SIGINT or SIGTERM (exit 0).
Resume after a restart with --from the last height stored + 1. The output
is always JSON Lines; the global --output json also makes errors JSON.`

// exportTx is one transaction of an exported block.
type exportTx struct {
	Hash      crypto.Hash      `json:"hash"`
	Type      string           `json:"type"`
	Sender    crypto.PublicKey `json:"sender"`
	Nonce     uint64           `json:"nonce"`
	Timestamp int64            `json:"timestamp"`
	Receipt   *types.Receipt   `json:"receipt"`
}

// exportBlock is one line of the export. Verified is always true: a block
// that fails verification is never written.
type exportBlock struct {
	Height     uint64           `json:"height"`
	Hash       crypto.Hash      `json:"hash"`
	ParentHash crypto.Hash      `json:"parent_hash"`
	Time       int64            `json:"time"`
	Proposer   crypto.PublicKey `json:"proposer"`
	StateRoot  crypto.Hash      `json:"state_root"`
	Signers    int              `json:"signers"`
	Txs        []exportTx       `json:"txs"`
	Verified   bool             `json:"verified"`
}

func exportLine(sb *client.StreamBlock) exportBlock {
	h := &sb.Block.Header
	l := exportBlock{Height: h.Height, Hash: h.Hash(), ParentHash: h.ParentHash, Time: h.Time, Proposer: h.Proposer,
		StateRoot: h.StateRoot, Signers: len(sb.Certificate.Sigs), Txs: make([]exportTx, len(sb.Block.Txs)), Verified: true}
	for i, tx := range sb.Block.Txs {
		// Verify checked one receipt per transaction, in order.
		l.Txs[i] = exportTx{Hash: tx.Hash(), Type: tx.Payload.TxType().String(), Sender: tx.Sender, Nonce: tx.Nonce,
			Timestamp: tx.Timestamp, Receipt: sb.Receipts[i]}
	}
	return l
}

func runExport(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return export(ctx, args, stdout, stderr)
}

// export runs until --to is written, ctx ends (exit 0) or a block fails.
func export(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = usageFunc(fs, stderr, exportUsage, exportAbout)
	urls := fs.String("nats", "nats://127.0.0.1:4222", "NATS server `URLS`, comma-separated")
	genesis := fs.String("genesis", "", "the chain's genesis `FILE`: its validators are the ones trusted (required)")
	stream := fs.String("stream", streamconsumer.DefaultStream, "the stream's `NAME`")
	subject := fs.String("subject", "", "the chain's `SUBJECT` (default cairn.blocks.CHAIN_ID)")
	from := fs.Uint64("from", 1, "first `HEIGHT` to write")
	to := fs.Uint64("to", 0, "last `HEIGHT` to write (0: follow until SIGINT)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 0 || *genesis == "" || *from == 0 {
		fs.Usage()
		return 2
	}
	if *to != 0 && *to < *from {
		fmt.Fprintf(stderr, "cairn export: --to %d is below --from %d\n", *to, *from)
		return 2
	}
	g, err := types.LoadGenesis(*genesis)
	if err != nil {
		fmt.Fprintf(stderr, "cairn export: %v\n", err)
		return 1
	}
	if *subject == "" {
		*subject = streamconsumer.Subject(g.ChainID)
	}
	c, err := streamconsumer.Dial(ctx, *urls, "cairn export", *stream, *subject, g, *from)
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		fmt.Fprintf(stderr, "cairn export: %v\n", err)
		return 1
	}
	defer c.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			c.Stop()
		case <-done:
		}
	}()
	// Each line is flushed as soon as it is written, so that a reader of a
	// follow sees a block when it is verified.
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	for {
		sb, err := c.Next()
		if err != nil {
			if ctx.Err() != nil {
				return 0
			}
			fmt.Fprintf(stderr, "cairn export: %v\n", err)
			return 1
		}
		if err := enc.Encode(exportLine(sb)); err == nil {
			err = w.Flush()
		}
		if err != nil {
			fmt.Fprintf(stderr, "cairn export: writing block %d: %v\n", sb.Block.Header.Height, err)
			return 1
		}
		if *to != 0 && sb.Block.Header.Height >= *to {
			return 0
		}
	}
}
