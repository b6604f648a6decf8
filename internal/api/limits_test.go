package api_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/internal/api"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// get returns the status, the Retry-After header and the error code of a
// GET (the body is closed; streams are cut).
func getStatus(t *testing.T, url string, h http.Header) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	code := ""
	if resp.StatusCode >= 400 {
		b := make([]byte, 4096)
		n, _ := resp.Body.Read(b)
		code = errBody(t, b[:n]).Code
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), code
}

// Each client (by IP) has a token bucket; past it, 429 rate_limited with
// Retry-After. Health and metrics are never limited. Loopback clients are
// limited only when LimitLoopback is set.
func TestClientRateLimit(t *testing.T) {
	c := apitest.New(t, apitest.Options{API: api.Config{ClientRate: 0.001, ClientBurst: 3, LimitLoopback: true}})
	for i := 0; i < 3; i++ {
		if st, _, _ := getStatus(t, c.URL+"/v1/status", nil); st != 200 {
			t.Fatalf("request %d within the burst: %d", i, st)
		}
	}
	st, retry, code := getStatus(t, c.URL+"/v1/status", nil)
	if st != http.StatusTooManyRequests || code != "rate_limited" || retry == "" {
		t.Fatalf("over the burst: %d %q Retry-After %q, want 429 rate_limited with Retry-After", st, code, retry)
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if st, _, _ := getStatus(t, c.URL+p, nil); st != 200 {
			t.Errorf("%s while rate limited: %d", p, st)
		}
	}

	free := apitest.New(t, apitest.Options{API: api.Config{ClientRate: 0.001, ClientBurst: 3}})
	for i := 0; i < 10; i++ {
		if st, _, _ := getStatus(t, free.URL+"/v1/status", nil); st != 200 {
			t.Fatalf("loopback request %d without LimitLoopback: %d", i, st)
		}
	}
}

// holdBody starts a POST whose body never finishes, so that its handler
// stays in flight until the returned func closes the connection.
func holdBody(t *testing.T, url string) func() {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"chain_id\":")
	t.Cleanup(func() { conn.Close() })
	return func() { conn.Close() }
}

// untilStatus repeats a GET until it answers want (at most 5 s).
func untilStatus(t *testing.T, url string, h http.Header, want int) (string, string) {
	t.Helper()
	for i := 0; i < 250; i++ {
		st, retry, code := getStatus(t, url, h)
		if st == want {
			return retry, code
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("GET %s never answered %d", url, want)
	return "", ""
}

// Past MaxInFlight requests at once, the node answers 503 busy with
// Retry-After; health still answers.
func TestInFlightLimit(t *testing.T) {
	c := apitest.New(t, apitest.Options{API: api.Config{MaxInFlight: 1}})
	release := holdBody(t, c.URL)
	retry, code := untilStatus(t, c.URL+"/v1/status", nil, http.StatusServiceUnavailable)
	if code != "busy" || retry == "" {
		t.Fatalf("in-flight limit: code %q Retry-After %q, want busy with Retry-After", code, retry)
	}
	if st, _, _ := getStatus(t, c.URL+"/healthz", nil); st != 200 {
		t.Fatalf("healthz at the in-flight limit: %d", st)
	}
	release()
	untilStatus(t, c.URL+"/v1/status", nil, http.StatusOK)
}

// Past MaxStreams open event streams, a new one is refused with 503 busy.
func TestEventStreamLimit(t *testing.T) {
	c := apitest.New(t, apitest.Options{API: api.Config{MaxStreams: 1}})
	resp, err := http.Get(c.URL + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	st, retry, code := getStatus(t, c.URL+"/v1/events", nil)
	if st != http.StatusServiceUnavailable || code != "busy" || retry == "" {
		t.Fatalf("second stream: %d %q Retry-After %q, want 503 busy", st, code, retry)
	}
	resp.Body.Close()
	untilStatus(t, c.URL+"/v1/events", nil, http.StatusOK)
}

// ?from= (or Last-Event-ID) may reach back at most MaxReplayBlocks.
func TestEventReplayDepth(t *testing.T) {
	c := apitest.New(t, apitest.Options{API: api.Config{MaxReplayBlocks: 3}})
	c.Pause()
	for i := 0; i < 6; i++ {
		c.CommitBlock()
	}
	head := c.Ledger.Head().Height
	if st, _, code := getStatus(t, c.URL+fmt.Sprintf("/v1/events?from=%d", head-3), nil); st != 400 || code != "bad_request" {
		t.Fatalf("from 4 blocks back: %d %q, want 400 bad_request", st, code)
	}
	if st, _, code := getStatus(t, c.URL+"/v1/events", http.Header{"Last-Event-Id": {fmt.Sprint(head - 4)}}); st != 400 || code != "bad_request" {
		t.Fatalf("Last-Event-ID 4 blocks back: %d %q, want 400 bad_request", st, code)
	}
	if st, _, _ := getStatus(t, c.URL+fmt.Sprintf("/v1/events?from=%d", head-2), nil); st != 200 {
		t.Fatalf("from 3 blocks back: %d, want 200", st)
	}
}

// Past MaxWaits requests waiting for commit at once, another ?wait=commit
// is refused with 503 busy before its body is read.
func TestWaitLimit(t *testing.T) {
	c := apitest.New(t, apitest.Options{API: api.Config{MaxWaits: 1}})
	c.Pause()
	alice := c.Users[0]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Client().SubmitWait(ctx, apitest.Tx(alice, 1, &types.KVPut{Key: "w", Value: "1"}), 30*time.Second)
		done <- err
	}()
	for i := 0; ; i++ {
		if _, ok := c.Mempool.Get(apitest.Tx(alice, 1, &types.KVPut{Key: "w", Value: "1"}).Hash()); ok {
			break
		}
		if i == 250 {
			t.Fatal("the first wait never got its tx admitted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, b := do(t, "POST", c.URL+"/v1/txs?wait=commit", mustJSON(t, apitest.Tx(c.Users[1], 1, &types.KVPut{Key: "w", Value: "2"})))
	if st != http.StatusServiceUnavailable || errBody(t, b).Code != "busy" {
		t.Fatalf("second wait: %d %s, want 503 busy", st, b)
	}
	// Without a wait the same request is fine.
	if st, b := do(t, "POST", c.URL+"/v1/txs", mustJSON(t, apitest.Tx(c.Users[1], 1, &types.KVPut{Key: "w", Value: "2"}))); st != http.StatusAccepted {
		t.Fatalf("submit without wait: %d %s", st, b)
	}
	cancel()
	<-done
}
