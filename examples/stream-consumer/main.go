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
// The reading and verifying is package client/streamconsumer's; `cairn
// export` does the same with full blocks. An analytics job would replace
// print with its own sink and keep the last height it stored, to start from
// it (--from) after a restart.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/cairn-db/cairn/client/streamconsumer"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

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
	stream := fs.String("stream", streamconsumer.DefaultStream, "stream name")
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
		*subject = streamconsumer.Subject(g.ChainID)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c, err := streamconsumer.Dial(ctx, *urls, "cairn stream-consumer", *stream, *subject, g, *from)
	if err != nil {
		fmt.Fprintf(stderr, "stream-consumer: %v\n", err)
		return 1
	}
	defer c.Close()
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
	return 0
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
