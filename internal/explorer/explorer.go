// Package explorer is the block explorer every node serves at "/" on its
// API listener: plain HTML, CSS and JavaScript modules embedded in the
// binary (no build step), reading the node's own REST API (/v1) from the
// browser, and verifying what it shows there: commit certificates
// (Ed25519 through WebCrypto), header hashes, RFC 6962 inclusion proofs
// and state proofs (SHA-256), against a validator set the user trusts.
//
// Pages (all GET; each answers the same page shell, which names the raw
// JSON behind it for readers without JavaScript):
//
//	/                   chain overview (live over /v1/events)
//	/blocks/{height}    block: header, transactions, receipts, certificate
//	/txs/{hash}         transaction: payload, receipt, block, inclusion proof
//	/accounts/{address} account: balance, nonce, transactions newest first
//	/keys/{key}         key: value, every version, state proof
//	/fields/{id}        payment field: terms, members, status, pending close,
//	                    penalties, payout, state proof (?height=H: as of H)
//	/search             search (docs/search.md query language)
//	/evidence           equivocation evidence
//	/api                the API reference (the OpenAPI document)
//
// and the static files under /ui/.
//
// Invariants:
//   - The explorer holds no state and has no write path: it serves fixed
//     files and a page shell, and the browser talks to the public API.
//   - Every answer carries a Content-Security-Policy that allows scripts,
//     styles and connections to this origin only, and forbids framing, so
//     a lying node's data (search snippets, keys, record documents) is
//     rendered as text and can never run as code.
//   - The verifier (web/verify.js) trusts nothing the node says except
//     what it checks: it takes keys and powers from the trusted validator
//     set (a genesis file the user gives, or the set pinned on first use)
//     and recomputes every hash from bytes.
package explorer

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
)

//go:embed web
var webFS embed.FS

// Patterns are the ServeMux patterns (without method) of the explorer's
// pages and files. The API mounts Handler at each of them for GET.
var Patterns = []string{
	"/{$}",
	"/blocks/{height}",
	"/txs/{hash}",
	"/accounts/{address}",
	"/keys/{key}",
	"/fields/{id}",
	"/search",
	"/evidence",
	"/api",
	"/ui/{file...}",
}

// csp is the Content-Security-Policy of every explorer answer.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Handler serves the explorer's pages and files.
func Handler() http.Handler {
	static, err := fs.Sub(webFS, "web")
	if err != nil {
		panic("explorer: embedded files: " + err.Error()) // a build defect
	}
	files := http.FileServerFS(static)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ui/{file...}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if name == "index.html" || strings.HasSuffix(name, "/") || name == "" {
			http.NotFound(w, r)
			return
		}
		headers(w)
		w.Header().Set("Cache-Control", "no-cache")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		r2.URL.RawPath = ""
		files.ServeHTTP(w, r2)
	})
	page := func(raw func(r *http.Request) string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { servePage(w, r, raw(r)) }
	}
	mux.HandleFunc("GET /{$}", page(func(*http.Request) string { return "/v1/status" }))
	mux.HandleFunc("GET /blocks/{height}", page(func(r *http.Request) string {
		return "/v1/blocks/" + url.PathEscape(r.PathValue("height")) + "?decode=true"
	}))
	mux.HandleFunc("GET /txs/{hash}", page(func(r *http.Request) string { return "/v1/txs/" + url.PathEscape(r.PathValue("hash")) }))
	mux.HandleFunc("GET /accounts/{address}", page(func(r *http.Request) string {
		return "/v1/accounts/" + url.PathEscape(r.PathValue("address")) + "/txs"
	}))
	mux.HandleFunc("GET /keys/{key}", page(func(r *http.Request) string {
		return "/v1/kv/" + url.PathEscape(r.PathValue("key")) + "/history"
	}))
	mux.HandleFunc("GET /fields/{id}", page(func(r *http.Request) string {
		raw := "/v1/fields/" + url.PathEscape(r.PathValue("id"))
		if hgt := r.URL.Query().Get("height"); hgt != "" {
			raw += "?height=" + url.QueryEscape(hgt)
		}
		return raw
	}))
	mux.HandleFunc("GET /search", page(func(r *http.Request) string {
		return "/v1/search?q=" + url.QueryEscape(r.URL.Query().Get("q"))
	}))
	mux.HandleFunc("GET /evidence", page(func(*http.Request) string { return "/v1/evidence" }))
	mux.HandleFunc("GET /api", page(func(*http.Request) string { return "/v1/openapi.json" }))
	return mux
}

// headers sets the security headers of every explorer answer.
func headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

var shell = template.Must(template.ParseFS(webFS, "web/index.html"))

// servePage answers the page shell; raw is the API URL whose JSON the page
// shows, linked for readers without JavaScript.
func servePage(w http.ResponseWriter, r *http.Request, raw string) {
	var b bytes.Buffer
	if err := shell.Execute(&b, struct{ Raw string }{raw}); err != nil {
		http.Error(w, "explorer: page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	headers(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.Bytes())
	}
}
