package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
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

// TestExportVerifiesStream: `cairn export` writes the blocks a publisher
// put on a 3-server JetStream cluster, one verified JSON object each,
// between --from and --to; it follows the stream until stopped; a message
// whose certificate or receipts were tampered with stops it with exit 1
// before anything of that block is written.
func TestExportVerifiesStream(t *testing.T) {
	c := natstest.Start(t, 3)
	chain := apitest.New(t, apitest.Options{Validators: 4})
	nonce := uint64(0)
	commitN := func(n int) {
		for i := 0; i < n; i++ {
			nonce++
			chain.CommitBlock(apitest.Tx(chain.Users[0], nonce, &types.KVPut{Key: "k/" + strconv.FormatUint(nonce, 10), Value: "v"}))
		}
	}
	commitN(8)
	gpath := filepath.Join(t.TempDir(), "genesis.json")
	if err := chain.Genesis.Save(gpath); err != nil {
		t.Fatal(err)
	}
	p, err := blockstream.NewPublisher(blockstream.Config{URLs: c.URLs(), Replicas: 3}, blockstream.LedgerSource(chain.Ledger), apitest.ChainID, nil)
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithCancel(context.Background())
	pdone := make(chan struct{})
	go func() { defer close(pdone); _ = p.Run(pctx) }()
	defer func() { pcancel(); <-pdone; p.Close() }()
	waitPublished := func(h uint64) {
		for deadline := time.Now().Add(60 * time.Second); p.Published() < h; {
			if time.Now().After(deadline) {
				t.Fatalf("published %d of %d", p.Published(), h)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitPublished(8)
	urls := strings.Join(c.URLs(), ",")

	check := func(l string, h uint64) {
		t.Helper()
		var got exportBlock
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		b, _, rs, err := chain.Ledger.Block(h)
		if err != nil {
			t.Fatal(err)
		}
		if got.Height != h || got.Hash != b.Header.Hash() || got.ParentHash != b.Header.ParentHash || !got.Verified ||
			len(got.Txs) != 1 || got.Txs[0].Hash != b.Txs[0].Hash() || got.Txs[0].Type != "kv.put" ||
			got.Txs[0].Receipt == nil || !got.Txs[0].Receipt.OK || got.Txs[0].Receipt.Version != rs[0].Version {
			t.Fatalf("height %d: %s", h, l)
		}
	}

	// Bounded: --from/--to, from the start and from a height.
	for _, r := range [][2]uint64{{1, 8}, {5, 7}} {
		var out, errb bytes.Buffer
		code := export(context.Background(), []string{"--nats", urls, "--genesis", gpath, "--from", strconv.FormatUint(r[0], 10), "--to", strconv.FormatUint(r[1], 10)}, &out, &errb)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", r, code, errb.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if uint64(len(lines)) != r[1]-r[0]+1 {
			t.Fatalf("%v: %d lines:\n%s", r, len(lines), out.String())
		}
		for i, l := range lines {
			check(l, r[0]+uint64(i))
		}
	}

	// Follow: blocks committed while it runs come out; stopping it (what
	// SIGINT does) ends it with exit 0.
	fctx, fcancel := context.WithCancel(context.Background())
	defer fcancel()
	pr, pw := io.Pipe()
	var ferr bytes.Buffer
	fcode := make(chan int, 1)
	go func() {
		fcode <- export(fctx, []string{"--nats", urls, "--genesis", gpath, "--from", "7"}, pw, &ferr)
		pw.Close()
	}()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(h uint64) {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("follow ended before height %d: %s", h, ferr.String())
			}
			check(l, h)
		case <-time.After(60 * time.Second):
			t.Fatalf("follow: no height %d", h)
		}
	}
	next(7)
	next(8)
	commitN(2)
	waitPublished(10)
	next(9)
	next(10)
	fcancel()
	select {
	case code := <-fcode:
		if code != 0 {
			t.Fatalf("follow stopped: exit %d: %s", code, ferr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("follow did not stop")
	}

	// Tampered messages on a stream of their own: block 1 with a changed
	// certificate signature, and with a changed receipt.
	nc, err := nats.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	jctx, jcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer jcancel()
	for i, tc := range []struct {
		tamper func(*client.StreamBlock)
		want   string
	}{
		{func(sb *client.StreamBlock) { sb.Certificate.Sigs[0].Signature[0] ^= 1 }, "signature"},
		{func(sb *client.StreamBlock) { sb.Receipts[0].Version++ }, "results root"},
	} {
		name := "FORGED" + strconv.Itoa(i)
		subj := "forged.blocks." + strconv.Itoa(i)
		if _, err := js.CreateStream(jctx, jetstream.StreamConfig{Name: name, Subjects: []string{subj}, Replicas: 3}); err != nil {
			t.Fatal(err)
		}
		b, cert, rs, _ := chain.Ledger.Block(1)
		sb := &client.StreamBlock{Block: b, Certificate: cert, Receipts: rs}
		tc.tamper(sb)
		m := nats.NewMsg(subj)
		m.Header.Set(blockstream.HeaderHeight, "1")
		m.Data = sb.Encode()
		if _, err := js.PublishMsg(jctx, m); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		code := export(context.Background(), []string{"--nats", urls, "--genesis", gpath, "--stream", name, "--subject", subj, "--to", "1"}, &out, &errb)
		if code != 1 || out.Len() != 0 || !strings.Contains(errb.String(), tc.want) {
			t.Fatalf("tampered (%s): exit %d, out %q, err %q", tc.want, code, out.String(), errb.String())
		}
	}

	// Bad flags change nothing and say why.
	var out, errb bytes.Buffer
	if code := export(context.Background(), []string{"--nats", urls, "--genesis", gpath, "--from", "5", "--to", "4"}, &out, &errb); code != 2 || out.Len() != 0 || !strings.Contains(errb.String(), "below --from") {
		t.Fatalf("--to below --from: exit %d, err %q", code, errb.String())
	}
}
