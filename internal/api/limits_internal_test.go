package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// countingBody counts how much of a request body the server reads.
type countingBody struct {
	r io.Reader
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
func (c *countingBody) Close() error { return nil }

// post serves one POST /v1/txs with a body of head followed by tail
// bytes of padding, and returns the answer and how much of the body the
// server read.
func postCounted(t *testing.T, s *Server, head string, tail int) (*httptest.ResponseRecorder, int64) {
	t.Helper()
	body := &countingBody{r: io.MultiReader(strings.NewReader(head), bytes.NewReader(bytes.Repeat([]byte(" "), tail)))}
	req := httptest.NewRequest("POST", "/v1/txs", nil)
	req.Body = body
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w, body.n
}

func errCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var er struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &er); err != nil {
		t.Fatalf("%d %s: %v", w.Code, w.Body, err)
	}
	return er.Error.Code
}

// A single-transaction body is refused once it passes its own limit, not
// after the batch limit has been read.
func TestSingleTxBodyRefusedAtItsLimit(t *testing.T) {
	s := New(Config{Backend: failingSubmit{}, MaxBodyBytes: 4 << 10, MaxBatchBodyBytes: 64 << 20})
	w, read := postCounted(t, s, `{"chain_id":"c",`, 32<<20)
	if w.Code != http.StatusRequestEntityTooLarge || errCode(t, w) != "too_large" {
		t.Fatalf("oversized single tx: %d %s", w.Code, w.Body)
	}
	if read > 1<<20 {
		t.Fatalf("read %d bytes of a single-transaction body limited to 4 KiB", read)
	}
}

// A batch is decoded as it arrives: one over MaxBatchTxs is refused
// without reading the rest of the body.
func TestBatchBodyStreamed(t *testing.T) {
	s := New(Config{Backend: failingSubmit{}, MaxBatchTxs: 10})
	w, read := postCounted(t, s, "["+strings.Repeat(`{"a":1},`, 11), 32<<20)
	if w.Code != http.StatusRequestEntityTooLarge || errCode(t, w) != "too_large" {
		t.Fatalf("batch over the limit: %d %s", w.Code, w.Body)
	}
	if read > 1<<20 {
		t.Fatalf("read %d bytes of a batch already over its count", read)
	}
	// Malformed arrays and trailing data are still malformed.
	for _, body := range []string{`[{"a":1}`, `[{"a":1}] x`, `[{"a":1},]`, `[]`, `[1 2]`} {
		w, _ := postCounted(t, s, body, 0)
		if w.Code != http.StatusBadRequest || errCode(t, w) != "malformed" {
			t.Errorf("%s: %d %s, want 400 malformed", body, w.Code, w.Body)
		}
	}
}
