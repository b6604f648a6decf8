// Package client is the Go SDK for a Cairn node's REST API: read status,
// blocks, transactions, keys and accounts; build, sign and submit
// transactions; follow committed blocks as they happen; and verify what a
// node returns (certificates, state proofs, tx inclusion, whole blocks) with
// nothing but the chain id and the validator set.
//
// The JSON types in wire.go are the API's: the server encodes the very same
// Go types. Every method takes a context; errors from the node are *Error
// values carrying the HTTP status and the API error code.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-db/cairn/crypto"
	cairnv1 "github.com/cairn-db/cairn/proto/cairn/v1"
	"github.com/cairn-db/cairn/types"
)

// Error is an error answer from the node.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is the API error code ("not_found", "bad_nonce", ...).
	Code string
	// Message is the node's human-readable explanation.
	Message string
	// ID names a 500 answer in the node's log (quote it when reporting
	// one); empty otherwise.
	ID string
	// Ask, with Code "wrong_node" (HTTP 421), are the API URLs of nodes
	// that do serve the request (validators for writes sent to a
	// follower, followers for a search sent to a validator that does not
	// index).
	Ask []string
}

func (e *Error) Error() string {
	if e.ID != "" {
		return fmt.Sprintf("node answered %d %s: %s (error id %s)", e.Status, e.Code, e.Message, e.ID)
	}
	return fmt.Sprintf("node answered %d %s: %s", e.Status, e.Code, e.Message)
}

// WrongNode returns the URLs a wrong_node answer names (nil when err is not
// one): the nodes to ask instead.
func WrongNode(err error) []string {
	var e *Error
	if errors.As(err, &e) && e.Code == "wrong_node" {
		return e.Ask
	}
	return nil
}

// IsNotFound reports whether err is a 404 from the node.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// ErrorCode returns the API error code of err, or "" when err is not an
// answer from the node.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Client talks to one node. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	hc      *http.Client
	maxBody int64
	token   string              // bearer token sent with every request ("" : none)
	tlsConf *tls.Config         // for https: the CA and client certificate (nil: system roots)
	tlsErr  error               // a CA or certificate option that failed
	rpc     cairnv1.CairnClient // set: requests go over gRPC (grpc.go)
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default: one with a 60 s timeout,
// which bounds every call including ?wait=commit, and up to 64 idle
// connections kept; Events streams use no overall timeout).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithToken sends token as a bearer token with every request (the API's
// tokens: `cairn token create`, docs/security.md).
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithCA trusts the PEM certificates in file (and only those) for an
// https node URL: a node with a private CA or a self-signed certificate.
func WithCA(file string) Option {
	return func(c *Client) {
		pem, err := os.ReadFile(file)
		if err != nil {
			c.tlsErr = fmt.Errorf("CA file: %w", err)
			return
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			c.tlsErr = fmt.Errorf("CA file %s holds no PEM certificate", file)
			return
		}
		c.tlsConfig().RootCAs = pool
	}
}

// WithClientCert presents the certificate and key in the PEM files to a
// node that asks for client certificates (mutual TLS).
func WithClientCert(certFile, keyFile string) Option {
	return func(c *Client) {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			c.tlsErr = fmt.Errorf("client certificate: %w", err)
			return
		}
		c.tlsConfig().Certificates = []tls.Certificate{cert}
	}
}

func (c *Client) tlsConfig() *tls.Config {
	if c.tlsConf == nil {
		c.tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return c.tlsConf
}

// TLSConfig returns the TLS settings the options made (nil: defaults), for
// another transport to the same node (the gRPC client).
func (c *Client) TLSConfig() *tls.Config { return c.tlsConf }

// Token returns the bearer token the client sends ("" for none).
func (c *Client) Token() string { return c.token }

// WithMaxResponseBytes bounds how much of a response body is read
// (default 256 MiB).
func WithMaxResponseBytes(n int64) Option { return func(c *Client) { c.maxBody = n } }

// New returns a client for the node at baseURL (e.g. http://127.0.0.1:8080).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("node URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("node URL %q: want http://host:port or https://host:port", baseURL)
	}
	// Keep enough idle connections for a program with many requests in
	// flight to one node (the default keeps 2 and reconnects the rest).
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	c := &Client{base: u, hc: &http.Client{Timeout: 60 * time.Second, Transport: tr}, maxBody: 256 << 20}
	for _, o := range opts {
		o(c)
	}
	if c.tlsErr != nil {
		return nil, c.tlsErr
	}
	if c.tlsConf != nil {
		if t, ok := c.hc.Transport.(*http.Transport); ok {
			t.TLSClientConfig = c.tlsConf
		}
	}
	return c, nil
}

// BaseURL returns the node's URL.
func (c *Client) BaseURL() string { return c.base.String() }

// EscapeKey path-escapes a user key for use as one URL path segment. The
// keys "." and ".." get their dots escaped too, since a literal dot segment
// would be removed by URL path cleaning.
func EscapeKey(key string) string {
	e := url.PathEscape(key)
	if key == "." || key == ".." {
		e = strings.ReplaceAll(e, ".", "%2E")
	}
	return e
}

func (c *Client) url(path string, q url.Values) string {
	u := *c.base
	u.RawPath = c.base.EscapedPath() + path
	p, err := url.PathUnescape(u.RawPath)
	if err == nil {
		u.Path = p
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// authorize adds the bearer token, if any.
func (c *Client) authorize(req *http.Request) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
}

// do sends a request and decodes a 2xx JSON answer into out (when non-nil).
// It returns the status code.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte, out any) (int, error) {
	if c.rpc != nil {
		st, b, err := c.doGRPC(ctx, method, path, q, body)
		if err != nil {
			return st, err
		}
		if int64(len(b)) > c.maxBody {
			return st, fmt.Errorf("%s %s: answer larger than %d bytes", method, path, c.maxBody)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				return st, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
			}
		}
		return st, nil
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), rd)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	c.authorize(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if int64(len(b)) > c.maxBody {
		return resp.StatusCode, fmt.Errorf("%s %s: answer larger than %d bytes", method, path, c.maxBody)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, decodeError(resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func decodeError(status int, b []byte) error {
	var er struct {
		ErrorResponse
		Ask []string `json:"ask"`
	}
	if err := json.Unmarshal(b, &er); err != nil || er.Error.Code == "" {
		msg := strings.TrimSpace(string(b))
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		return &Error{Status: status, Code: "http_" + strconv.Itoa(status), Message: msg}
	}
	return &Error{Status: status, Code: er.Error.Code, Message: er.Error.Message, ID: er.Error.ID, Ask: er.Ask}
}

// Status returns GET /v1/status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	_, err := c.do(ctx, http.MethodGet, "/v1/status", nil, nil, &s)
	return &s, err
}

// Submit sends one signed transaction and returns its hash once the node
// admitted it to its mempool (not yet committed).
func (c *Client) Submit(ctx context.Context, tx *types.Tx) (crypto.Hash, error) {
	body, err := json.Marshal(tx)
	if err != nil {
		return crypto.Hash{}, fmt.Errorf("encode tx: %w", err)
	}
	var r TxResult
	if _, err := c.do(ctx, http.MethodPost, "/v1/txs", nil, body, &r); err != nil {
		return crypto.Hash{}, err
	}
	return r.Hash, nil
}

// SubmitWait sends one signed transaction and waits up to timeout (0: the
// node's default, 10 s) for it to commit. The result's Status is
// "committed", "failed" (in a block, changed nothing; see Receipt), or
// "pending" when the wait timed out.
func (c *Client) SubmitWait(ctx context.Context, tx *types.Tx, timeout time.Duration) (*TxResult, error) {
	body, err := json.Marshal(tx)
	if err != nil {
		return nil, fmt.Errorf("encode tx: %w", err)
	}
	var r TxResult
	if _, err := c.do(ctx, http.MethodPost, "/v1/txs", waitQuery(timeout), body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func waitQuery(timeout time.Duration) url.Values {
	q := url.Values{"wait": {"commit"}}
	if timeout > 0 {
		q.Set("timeout", timeout.String())
	}
	return q
}

// SubmitBatch sends txs as one request (at most the node's batch limit,
// 10,000 by default). Per-tx outcomes are in the result; the error is set
// only when the request as a whole failed (including when no tx was
// accepted: then it is the first tx's error).
func (c *Client) SubmitBatch(ctx context.Context, txs []*types.Tx) (*BatchResult, error) {
	return c.submitBatch(ctx, txs, nil)
}

// SubmitBatchWait is SubmitBatch with ?wait=commit: Results tells each
// accepted tx's outcome (status "pending" for those not committed within
// timeout).
func (c *Client) SubmitBatchWait(ctx context.Context, txs []*types.Tx, timeout time.Duration) (*BatchResult, error) {
	return c.submitBatch(ctx, txs, waitQuery(timeout))
}

// EncodedBatch is a batch of transactions in the form SubmitBatch sends
// them, made once by EncodeBatch so that a caller who prepares batches
// ahead (a load generator) does not pay for the encoding while sending.
type EncodedBatch struct{ body []byte }

// EncodeBatch encodes txs for SubmitEncodedBatch.
func EncodeBatch(txs []*types.Tx) (EncodedBatch, error) {
	body, err := json.Marshal(txs)
	if err != nil {
		return EncodedBatch{}, fmt.Errorf("encode txs: %w", err)
	}
	return EncodedBatch{body: body}, nil
}

// SubmitEncodedBatch is SubmitBatch of the transactions b was encoded from.
func (c *Client) SubmitEncodedBatch(ctx context.Context, b EncodedBatch) (*BatchResult, error) {
	if b.body == nil {
		return nil, errors.New("submit batch: empty encoded batch (use EncodeBatch)")
	}
	return c.postBatch(ctx, b.body, nil)
}

func (c *Client) submitBatch(ctx context.Context, txs []*types.Tx, q url.Values) (*BatchResult, error) {
	b, err := EncodeBatch(txs)
	if err != nil {
		return nil, err
	}
	return c.postBatch(ctx, b.body, q)
}

func (c *Client) postBatch(ctx context.Context, body []byte, q url.Values) (*BatchResult, error) {
	var r BatchResult
	if _, err := c.do(ctx, http.MethodPost, "/v1/txs", q, body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Tx returns a transaction's status. An unknown hash is not an error: the
// result has Status "unknown".
func (c *Client) Tx(ctx context.Context, h crypto.Hash) (*TxStatus, error) {
	var s TxStatus
	_, err := c.do(ctx, http.MethodGet, "/v1/txs/"+h.String(), nil, nil, &s)
	if IsNotFound(err) {
		return &TxStatus{Hash: h, Status: StatusUnknown}, nil
	}
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// Block returns the block at height with its certificate and receipts.
func (c *Client) Block(ctx context.Context, height uint64) (*Block, error) {
	return c.block(ctx, strconv.FormatUint(height, 10))
}

// LatestBlock returns the last committed block.
func (c *Client) LatestBlock(ctx context.Context) (*Block, error) { return c.block(ctx, "latest") }

func (c *Client) block(ctx context.Context, which string) (*Block, error) {
	var b Block
	if _, err := c.do(ctx, http.MethodGet, "/v1/blocks/"+which, url.Values{"decode": {"true"}}, nil, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

func heightQuery(height uint64) url.Values {
	if height == 0 {
		return url.Values{}
	}
	return url.Values{"height": {strconv.FormatUint(height, 10)}}
}

// KV returns the live value of key at height (0: latest). A key that does
// not exist or was deleted is an *Error with status 404 (see IsNotFound).
func (c *Client) KV(ctx context.Context, key string, height uint64) (*KVValue, error) {
	var v KVValue
	if _, err := c.do(ctx, http.MethodGet, "/v1/kv/"+EscapeKey(key), heightQuery(height), nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// KVProof returns key's state entry at height (0: latest) or its absence,
// with a proof. Call Verify on the result before trusting it.
func (c *Client) KVProof(ctx context.Context, key string, height uint64) (*KVProof, error) {
	q := heightQuery(height)
	q.Set("prove", "true")
	var p KVProof
	if _, err := c.do(ctx, http.MethodGet, "/v1/kv/"+EscapeKey(key), q, nil, &p); err != nil {
		return nil, err
	}
	// Verify checks the proof is for p.Key at p.Height; that must be what
	// was asked.
	if p.Key != key || (height != 0 && p.Height != height) {
		return nil, verifyErr("asked for %q at height %d, the node answered for %q at %d", key, height, p.Key, p.Height)
	}
	return &p, nil
}

// History returns up to limit versions of key (0: the node's default),
// oldest first, starting at cursor ("" for the first page; pass the
// previous page's NextCursor for the next).
func (c *Client) History(ctx context.Context, key string, cursor string, limit int) (*KVHistory, error) {
	var h KVHistory
	if _, err := c.do(ctx, http.MethodGet, "/v1/kv/"+EscapeKey(key)+"/history", pageQuery(cursor, limit), nil, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

func pageQuery(cursor string, limit int) url.Values {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}

// Account returns an account's committed balance and nonce (zero for an
// address never seen).
func (c *Client) Account(ctx context.Context, a crypto.Address) (*Account, error) {
	var acc Account
	if _, err := c.do(ctx, http.MethodGet, "/v1/accounts/"+a.String(), nil, nil, &acc); err != nil {
		return nil, err
	}
	return &acc, nil
}

// AccountAt returns an account's balance and nonce as of the end of
// height (0: latest).
func (c *Client) AccountAt(ctx context.Context, a crypto.Address, height uint64) (*Account, error) {
	var acc Account
	if _, err := c.do(ctx, http.MethodGet, "/v1/accounts/"+a.String(), heightQuery(height), nil, &acc); err != nil {
		return nil, err
	}
	return &acc, nil
}

// AccountTxs returns committed transactions involving a (as sender or
// transfer recipient), newest first, paged like History.
func (c *Client) AccountTxs(ctx context.Context, a crypto.Address, cursor string, limit int) (*AccountTxs, error) {
	var out AccountTxs
	if _, err := c.do(ctx, http.MethodGet, "/v1/accounts/"+a.String()+"/txs", pageQuery(cursor, limit), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Search runs one query (GET /v1/search) and returns one page of hits;
// pass the page's NextCursor in the next request, with the same Query and
// Sort, for the next page. A bad query is an *Error with status 400 and
// code bad_query; a node without a search index answers 503. With
// req.Prove, every hit carries proof material: check it with
// SearchResult.Verify.
func (c *Client) Search(ctx context.Context, req SearchRequest) (*SearchResult, error) {
	q := url.Values{"q": {req.Query}}
	if req.Sort != "" {
		q.Set("sort", req.Sort)
	}
	if req.Limit != 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	if req.Cursor != "" {
		q.Set("cursor", req.Cursor)
	}
	if req.Prove {
		q.Set("prove", "true")
	}
	var r SearchResult
	if _, err := c.do(ctx, http.MethodGet, "/v1/search", q, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Ready returns nil when GET /readyz says the node is serving, else an
// *Error with status 503 and the reason.
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "/readyz", nil, nil, nil)
	return err
}

// Evidence returns the double-sign evidence the node has recorded, oldest
// first.
func (c *Client) Evidence(ctx context.Context) (*EvidenceList, error) {
	var out EvidenceList
	if _, err := c.do(ctx, http.MethodGet, "/v1/evidence", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
