package api_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/api"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/events"
	"github.com/cairn-db/cairn/types"
)

func nextEvent(t *testing.T, s *client.EventStream) *client.BlockEvent {
	t.Helper()
	type res struct {
		ev  *client.BlockEvent
		err error
	}
	ch := make(chan res, 1)
	go func() {
		ev, err := s.Next()
		ch <- res{ev, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("event stream: %v", r.err)
		}
		return r.ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return nil
}

func TestEventsLiveAndReplay(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	ctx := context.Background()
	live, err := cl.Events(ctx, client.EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	var hashes []string
	for i := 1; i <= 3; i++ {
		tx := apitest.Tx(c.Users[0], uint64(i), &types.KVPut{Key: "k", Value: fmt.Sprint(i)})
		if r, err := cl.SubmitWait(ctx, tx, 5*time.Second); err != nil || r.Status != client.StatusCommitted {
			t.Fatalf("submit %d: %+v %v", i, r, err)
		}
		hashes = append(hashes, tx.Hash().String())
	}
	for i := 1; i <= 3; i++ {
		ev := nextEvent(t, live)
		if ev.Height != uint64(i) || ev.TxCount != 1 || len(ev.Txs) != 1 || ev.Txs[0].Hash.String() != hashes[i-1] || !ev.Txs[0].OK || ev.Txs[0].Type != "kv.put" {
			t.Fatalf("live event %d = %+v", i, ev)
		}
		if live.LastID != uint64(i) {
			t.Fatalf("LastID = %d", live.LastID)
		}
	}
	// Replay from the ledger, without txs.
	old, err := cl.Events(ctx, client.EventOptions{From: 2, NoTxs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	for i := 2; i <= 3; i++ {
		ev := nextEvent(t, old)
		if ev.Height != uint64(i) || ev.Txs != nil || ev.TxCount != 1 {
			t.Fatalf("replayed event = %+v", ev)
		}
		blk, _ := c.Ledger.Store().Header(uint64(i))
		if ev.Hash != blk.Hash() || ev.StateRoot != blk.StateRoot {
			t.Fatalf("event %d does not match the ledger", i)
		}
	}
	// Last-Event-ID resumes after the given height.
	req, _ := http.NewRequest("GET", c.URL+"/v1/events", nil)
	req.Header.Set("Last-Event-ID", "2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "id: ") {
			if line != "id: 3\n" {
				t.Fatalf("resumed at %q, want id 3", line)
			}
			break
		}
	}
}

// TestEventsSlowReaderGetsEveryBlock: a stream whose hub buffer overflows
// is dropped from the hub, but it catches up from the ledger, so its reader
// still sees every height once, in order.
func TestEventsSlowReaderGetsEveryBlock(t *testing.T) {
	c := apitest.New(t, apitest.Options{API: api.Config{EventBuffer: 1}})
	c.Pause()
	cl := c.Client()
	s, err := cl.Events(context.Background(), client.EventOptions{NoTxs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Commit first, then publish everything at once: far faster than the
	// stream writes, so its one-block buffer overflows.
	const n = 40
	var evs []events.BlockEvent
	for i := 1; i <= n; i++ {
		evs = append(evs, c.CommitUnpublished(apitest.Tx(c.Users[0], uint64(i), &types.KVPut{Key: "k", Value: fmt.Sprint(i)})))
	}
	for _, ev := range evs {
		c.Hub.Publish(ev)
	}
	for i := 1; i <= n; i++ {
		if ev := nextEvent(t, s); ev.Height != uint64(i) {
			t.Fatalf("event %d has height %d", i, ev.Height)
		}
	}
	_, m := do(t, "GET", c.URL+"/metrics", nil)
	for _, line := range strings.Split(string(m), "\n") {
		if strings.HasPrefix(line, "cairn_api_event_stream_resyncs_total") {
			t.Log(line) // how often the catch-up path ran (timing-dependent)
		}
	}
}

func TestEventsEndOnShutdownAndDisconnect(t *testing.T) {
	c := apitest.New(t, apitest.Options{API: api.Config{Heartbeat: 10 * time.Millisecond}})
	cl := c.Client()
	a, err := cl.Events(context.Background(), client.EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := cl.Events(context.Background(), client.EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitSubscribers(t, c, 2)
	// A client that goes away frees its subscription.
	b.Close()
	waitSubscribers(t, c, 1)
	// Server shutdown ends the stream with an end event, after heartbeats
	// kept it open.
	time.Sleep(30 * time.Millisecond)
	c.API.Close()
	done := make(chan error, 1)
	go func() {
		_, err := a.Next()
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, client.ErrStreamEnded) && !errors.Is(err, io.EOF) {
			t.Fatalf("stream ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream did not end on Close")
	}
	a.Close()
}

func waitSubscribers(t *testing.T, c *apitest.Chain, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.Hub.Subscribers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("hub has %d subscribers, want %d", c.Hub.Subscribers(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestMetricsAndHealth(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	if st, b := do(t, "GET", c.URL+"/v1/status", nil); st != 200 {
		t.Fatalf("status: %d %s", st, b)
	}
	st, b := do(t, "GET", c.URL+"/metrics", nil)
	if st != 200 || !strings.Contains(string(b), `cairn_api_requests_total{code="200",route="/v1/status"} 1`) {
		t.Fatalf("metrics: %d %s", st, b)
	}
	if st, b := do(t, "GET", c.URL+"/healthz", nil); st != 200 || !strings.Contains(string(b), `"ok"`) {
		t.Fatalf("healthz: %d %s", st, b)
	}
	if st, b := do(t, "GET", c.URL+"/readyz", nil); st != 200 {
		t.Fatalf("readyz: %d %s", st, b)
	}
	if st, b := do(t, "GET", c.URL+"/v1/openapi.json", nil); st != 200 || !strings.Contains(string(b), `"openapi"`) {
		t.Fatalf("openapi: %d", st)
	}
}
