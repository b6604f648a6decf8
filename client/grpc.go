package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	cairnv1 "github.com/cairn-db/cairn/proto/cairn/v1"
	"github.com/cairn-db/cairn/types"
)

// The SDK over gRPC (proto/cairn/v1): WithGRPC makes every call of the
// Client travel as the gRPC call that names the same REST operation. The
// answers are the same JSON documents, decoded and verified by the same
// code; refusals come back as the same *Error (code, HTTP status, message),
// carried in the call's trailers.

// WithGRPC sends the client's requests over the gRPC connection conn
// instead of HTTP (DialGRPC makes one). The token of WithToken goes in
// each call's "authorization" metadata.
func WithGRPC(conn grpc.ClientConnInterface) Option {
	return func(c *Client) { c.rpc = cairnv1.NewCairnClient(conn) }
}

// DialGRPC connects to a node's gRPC listener at addr (host:port) with the
// client's TLS settings (WithCA, WithClientCert; plain text when useTLS is
// false, for a loopback node without TLS).
func DialGRPC(addr string, useTLS bool, opts ...Option) (*grpc.ClientConn, error) {
	c := &Client{}
	for _, o := range opts {
		o(c)
	}
	if c.tlsErr != nil {
		return nil, c.tlsErr
	}
	creds := insecure.NewCredentials()
	if useTLS {
		conf := c.tlsConf
		if conf == nil {
			conf = c.tlsConfig()
		}
		creds = credentials.NewTLS(conf.Clone())
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20), grpc.MaxCallSendMsgSize(256<<20)))
	if err != nil {
		return nil, fmt.Errorf("grpc %s: %w", addr, err)
	}
	return conn, nil
}

// errNoGRPC answers the REST endpoints the gRPC service does not carry.
func errNoGRPC(method, path string) error {
	return &Error{Status: http.StatusNotImplemented, Code: "not_implemented", Message: method + " " + path + " is not part of the gRPC API; use HTTP"}
}

func params(q url.Values) map[string]string {
	if len(q) == 0 {
		return nil
	}
	m := make(map[string]string, len(q))
	for k, v := range q {
		if len(v) > 0 {
			m[k] = v[0]
		}
	}
	return m
}

// doGRPC is do over gRPC: it maps the REST request to its call and returns
// the answer's JSON.
func (c *Client) doGRPC(ctx context.Context, method, path string, q url.Values, body []byte) (int, []byte, error) {
	if c.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
	}
	var trailer metadata.MD
	opt := grpc.Trailer(&trailer)
	p := params(q)
	seg := func(prefix, suffix string) (string, bool) {
		rest, ok := strings.CutPrefix(path, prefix)
		if !ok {
			return "", false
		}
		rest, ok = strings.CutSuffix(rest, suffix)
		if !ok || strings.Contains(rest, "/") {
			return "", false
		}
		s, err := url.PathUnescape(rest)
		return s, err == nil
	}
	var doc *cairnv1.Document
	var err error
	switch {
	case method == http.MethodPost && path == "/v1/txs":
		req, perr := submitRequest(body)
		if perr != nil {
			return 0, nil, perr
		}
		req.Params = p
		doc, err = c.rpc.Submit(ctx, req, opt)
	case method != http.MethodGet:
		return 0, nil, errNoGRPC(method, path)
	case path == "/v1/status":
		doc, err = c.rpc.Status(ctx, &cairnv1.StatusRequest{}, opt)
	case path == "/v1/search":
		doc, err = c.rpc.Search(ctx, &cairnv1.SearchRequest{Params: p}, opt)
	default:
		if h, ok := seg("/v1/txs/", ""); ok {
			doc, err = c.rpc.GetTx(ctx, &cairnv1.TxRequest{Hash: h, Params: p}, opt)
		} else if h, ok := seg("/v1/blocks/", ""); ok {
			doc, err = c.rpc.GetBlock(ctx, &cairnv1.BlockRequest{Height: h, Params: p}, opt)
		} else if k, ok := seg("/v1/kv/", "/history"); ok {
			doc, err = c.rpc.KVHistory(ctx, &cairnv1.KVHistoryRequest{Key: k, Params: p}, opt)
		} else if k, ok := seg("/v1/kv/", ""); ok {
			doc, err = c.rpc.GetKV(ctx, &cairnv1.KVRequest{Key: k, Params: p}, opt)
		} else if a, ok := seg("/v1/accounts/", "/txs"); ok {
			doc, err = c.rpc.AccountTxs(ctx, &cairnv1.AccountTxsRequest{Address: a, Params: p}, opt)
		} else if a, ok := seg("/v1/accounts/", ""); ok {
			doc, err = c.rpc.GetAccount(ctx, &cairnv1.AccountRequest{Address: a, Params: p}, opt)
		} else {
			return 0, nil, errNoGRPC(method, path)
		}
	}
	if err != nil {
		return grpcError(err, trailer)
	}
	return http.StatusOK, doc.Json, nil
}

// submitRequest turns the REST body (one transaction's JSON or an array)
// into the binary transactions gRPC carries.
func submitRequest(body []byte) (*cairnv1.SubmitRequest, error) {
	req := &cairnv1.SubmitRequest{}
	var txs []*types.Tx
	if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '[' {
		req.Batch = true
		if err := json.Unmarshal(b, &txs); err != nil {
			return nil, fmt.Errorf("grpc submit: %w", err)
		}
	} else {
		var tx types.Tx
		if err := json.Unmarshal(b, &tx); err != nil {
			return nil, fmt.Errorf("grpc submit: %w", err)
		}
		txs = []*types.Tx{&tx}
	}
	for _, tx := range txs {
		req.Txs = append(req.Txs, tx.Bytes())
	}
	return req, nil
}

// grpcError rebuilds the node's *Error from a refused call: the trailers
// hold the REST body and status; without them (a transport failure, or a
// proxy in between) the gRPC status is reported as it is.
func grpcError(err error, trailer metadata.MD) (int, []byte, error) {
	st, ok := status.FromError(err)
	if !ok {
		return 0, nil, err
	}
	if b, hs := trailer.Get("cairn-error"), trailer.Get("cairn-http-status"); len(b) > 0 && len(hs) > 0 {
		if code, err := strconv.Atoi(hs[0]); err == nil {
			return code, nil, decodeError(code, []byte(b[0]))
		}
	}
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return 0, nil, fmt.Errorf("grpc: %w", err)
	}
	code, msg, found := strings.Cut(st.Message(), ": ")
	if !found || strings.Contains(code, " ") {
		code, msg = strings.ToLower(st.Code().String()), st.Message()
	}
	return 0, nil, &Error{Status: 0, Code: code, Message: msg}
}

// eventsGRPC opens the block stream over gRPC and presents it to the SSE
// reader of EventStream, so Next behaves alike on both transports.
func (c *Client) eventsGRPC(ctx context.Context, q url.Values) (*EventStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	if c.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
	}
	stream, err := c.rpc.Blocks(ctx, &cairnv1.BlocksRequest{Params: params(q)})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("events: %w", err)
	}
	// The node sends the headers once the stream is accepted; a refused
	// stream ends without them, and is an error here, as over HTTP.
	if _, herr := stream.Header(); herr != nil || len(stream.Trailer()) > 0 {
		_, rerr := stream.Recv()
		cancel()
		if rerr == nil {
			rerr = herr
		}
		_, _, e := grpcError(rerr, stream.Trailer())
		return nil, fmt.Errorf("events: %w", e)
	}
	pr, pw := io.Pipe()
	go func() {
		var err error
		for {
			var msg *cairnv1.Document
			if msg, err = stream.Recv(); err != nil {
				break
			}
			if _, werr := fmt.Fprintf(pw, "id: %d\ndata: %s\n\n", msg.Id, msg.Json); werr != nil {
				return
			}
		}
		if st, ok := status.FromError(err); ok && st.Code() == codes.Unavailable {
			fmt.Fprintf(pw, "event: end\ndata: %s\n\n", strings.ReplaceAll(st.Message(), "\n", " "))
		}
		pw.Close()
	}()
	body := struct {
		io.Reader
		io.Closer
	}{pr, pr}
	return newEventStream(body, cancel), nil
}
