package explorer_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/internal/api/apitest"
)

// TestPagesServed: every page answers the page shell with the security
// headers and a link to its raw JSON for readers without JavaScript; the
// files answer with their types; the API's own routes and errors are
// unchanged around them.
func TestPagesServed(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	get := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, c.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	pages := map[string]string{
		"/":                                     `href="/v1/status"`,
		"/blocks/3":                             `href="/v1/blocks/3?decode=true"`,
		"/blocks/latest":                        `href="/v1/blocks/latest?decode=true"`,
		"/txs/" + strings.Repeat("ab", 32):      `href="/v1/txs/` + strings.Repeat("ab", 32) + `"`,
		"/accounts/" + strings.Repeat("cd", 20): `/txs"`,
		"/keys/a%2Fb":                           `href="/v1/kv/a%2Fb/history"`,
		"/fields/" + strings.Repeat("ef", 32):   `href="/v1/fields/` + strings.Repeat("ef", 32) + `"`,
		"/fields/" + strings.Repeat("ef", 32) + "?height=2": `href="/v1/fields/` + strings.Repeat("ef", 32) + `?height=2"`,
		"/search?q=a%3Cb": `href="/v1/search?q=a%3Cb"`,
		"/evidence":       `href="/v1/evidence"`,
		"/api":            `href="/v1/openapi.json"`,
	}
	for path, raw := range pages {
		res, body := get("GET", path)
		if res.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, res.StatusCode)
			continue
		}
		if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
		if !strings.Contains(body, "<noscript>") || !strings.Contains(body, raw) {
			t.Errorf("GET %s: page lacks the noscript link %s", path, raw)
		}
		if !strings.Contains(body, `<script type="module" src="/ui/app.js">`) {
			t.Errorf("GET %s: page does not load the app module", path)
		}
	}
	for path, ct := range map[string]string{
		"/ui/app.js": "text/javascript", "/ui/verify.js": "text/javascript", "/ui/codec.js": "text/javascript",
		"/ui/api.js": "text/javascript", "/ui/dom.js": "text/javascript", "/ui/style.css": "text/css",
	} {
		res, body := get("GET", path)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), ct) || len(body) == 0 {
			t.Errorf("GET %s: %d %q (%d bytes)", path, res.StatusCode, res.Header.Get("Content-Type"), len(body))
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", path)
		}
	}
	// Not pages: JSON errors as everywhere else in the API.
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/ui/index.html", 404}, {"GET", "/ui/", 404}, {"GET", "/ui/nothing.js", 404},
		{"GET", "/blocks", 404}, {"POST", "/", 405}, {"POST", "/search", 405},
		{"GET", "/v1/status", 200}, {"GET", "/healthz", 200}, {"GET", "/metrics", 200},
	} {
		res, _ := get(tc.method, tc.path)
		if res.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, res.StatusCode, tc.status)
		}
	}
	res, body := get("HEAD", "/")
	if res.StatusCode != 200 || body != "" {
		t.Errorf("HEAD /: %d, %d bytes", res.StatusCode, len(body))
	}
}
