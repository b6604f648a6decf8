package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// cairn health is the image's HEALTHCHECK: 0 only for a 200 from /readyz
// (or /healthz with --live), 1 for any other answer, 2 for no answer.
func TestHealthExitCodes(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/healthz":
			w.Write([]byte(`{"status":"ok"}`))
		case r.URL.Path == "/readyz" && ready:
			w.Write([]byte(`{"status":"ready"}`))
		case r.URL.Path == "/readyz":
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":{"code":"unavailable","message":"not ready: consensus is not running"}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	if code, out, errs := run(t, "health", "--node", srv.URL); code != 0 || !strings.Contains(out, "ready") {
		t.Fatalf("ready node: exit %d, %q %q", code, out, errs)
	}
	ready = false
	code, _, errs := run(t, "health", "--node", strings.TrimPrefix(srv.URL, "http://"))
	if code != 1 || !strings.Contains(errs, "503") || !strings.Contains(errs, "consensus is not running") {
		t.Fatalf("node not ready: exit %d, %q; want 1 naming the status and the reason", code, errs)
	}
	if code, _, errs := run(t, "health", "--live", "--node", srv.URL); code != 0 {
		t.Fatalf("--live on a serving node: exit %d %q", code, errs)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if code, _, errs := run(t, "health", "--node", addr, "--timeout", "2s"); code != 2 || errs == "" {
		t.Fatalf("nothing listening: exit %d %q, want 2", code, errs)
	}
	if code, _, _ := run(t, "health", "extra"); code != 2 {
		t.Fatalf("stray argument: exit %d, want 2", code)
	}
}
