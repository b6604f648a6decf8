package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/blockstream"
	"github.com/cairn-db/cairn/internal/natstest"
	"github.com/cairn-db/cairn/types"
)

// TestConsumerVerifiesStream: the example reads a chain's published
// stream, verifying every block, from the start and from a height; a
// message whose certificate was tampered with stops it with an error.
func TestConsumerVerifiesStream(t *testing.T) {
	c := natstest.Start(t, 3)
	chain := apitest.New(t, apitest.Options{Validators: 4})
	for i := 1; i <= 8; i++ {
		chain.CommitBlock(apitest.Tx(chain.Users[0], uint64(i), &types.Record{Document: []byte(`{"n":` + strconv.Itoa(i) + `}`)}))
	}
	gpath := filepath.Join(t.TempDir(), "genesis.json")
	if err := chain.Genesis.Save(gpath); err != nil {
		t.Fatal(err)
	}
	p, err := blockstream.NewPublisher(blockstream.Config{URLs: c.URLs(), Replicas: 3}, blockstream.LedgerSource(chain.Ledger), apitest.ChainID, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	defer func() { cancel(); <-done; p.Close() }()
	for deadline := time.Now().Add(60 * time.Second); p.Published() < 8; {
		if time.Now().After(deadline) {
			t.Fatalf("published %d of 8", p.Published())
		}
		time.Sleep(20 * time.Millisecond)
	}
	urls := strings.Join(c.URLs(), ",")

	for _, from := range []uint64{1, 5} {
		var out, errb bytes.Buffer
		code := run([]string{"--nats", urls, "--genesis", gpath, "--from", strconv.FormatUint(from, 10), "--count", strconv.FormatUint(9-from, 10)}, &out, &errb)
		if code != 0 {
			t.Fatalf("from %d: exit %d: %s", from, code, errb.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if uint64(len(lines)) != 9-from {
			t.Fatalf("from %d: %d lines", from, len(lines))
		}
		for i, l := range lines {
			var got line
			if err := json.Unmarshal([]byte(l), &got); err != nil {
				t.Fatal(err)
			}
			b, _, _, _ := chain.Ledger.Block(from + uint64(i))
			if got.Height != from+uint64(i) || got.Hash != b.Header.Hash() || !got.Verified || got.Txs != 1 {
				t.Fatalf("from %d, line %d: %s", from, i, l)
			}
		}
	}

	// A forged message: block 1 with a signature of its certificate changed.
	nc, err := nats.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	jctx, jcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer jcancel()
	if _, err := js.CreateStream(jctx, jetstream.StreamConfig{Name: "FORGED", Subjects: []string{"forged.blocks"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	b, cert, rs, _ := chain.Ledger.Block(1)
	cert.Sigs[0].Signature[0] ^= 1
	m := nats.NewMsg("forged.blocks")
	m.Header.Set(blockstream.HeaderHeight, "1")
	m.Data = (&client.StreamBlock{Block: b, Certificate: cert, Receipts: rs}).Encode()
	if _, err := js.PublishMsg(jctx, m); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"--nats", urls, "--genesis", gpath, "--stream", "FORGED", "--subject", "forged.blocks", "--count", "1"}, &out, &errb)
	if code != 1 || out.Len() != 0 || !strings.Contains(errb.String(), "signature") {
		t.Fatalf("forged certificate: exit %d, out %q, err %q", code, out.String(), errb.String())
	}
}
