// Package grpcapi serves the Cairn gRPC API (proto/cairn/v1) on top of the
// REST API's handler: each call becomes the REST request it names and runs
// through the same handler, so authentication (the "authorization" metadata
// is the bearer token; a verified TLS client certificate counts as on the
// REST listener), load limits (by the peer's IP), validation, error
// mapping and answers are the REST API's, byte for byte.
//
// Invariants:
//   - nothing is decided here that the REST API decides: a call is refused
//     exactly when its REST request would be, with the same code (in the
//     gRPC status and, whole, in the "cairn-error" trailer);
//   - a stream of blocks ends when the client goes, the node stops, or the
//     REST stream would end, and never blocks the committer (the events
//     hub's rules apply).
package grpcapi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	cairnv1 "github.com/cairn-db/cairn/proto/cairn/v1"
	"github.com/cairn-db/cairn/types"
)

// The trailers of a refusal: the REST error body and its HTTP status.
const (
	ErrorTrailer  = "cairn-error"
	StatusTrailer = "cairn-http-status"
)

// Server implements cairnv1.CairnServer over a REST handler.
type Server struct {
	cairnv1.UnimplementedCairnServer
	rest http.Handler
	// maxBody bounds the answer of one unary call (the REST answer size).
	maxBody int
}

// New returns the gRPC service over rest (the internal/api handler).
func New(rest http.Handler) *Server { return &Server{rest: rest, maxBody: 256 << 20} }

// Register adds the service to g.
func (s *Server) Register(g *grpc.Server) { cairnv1.RegisterCairnServer(g, s) }

// request builds the REST request a call names, with the caller's token,
// address and TLS state.
func request(ctx context.Context, method, path string, params map[string]string, body []byte) (*http.Request, error) {
	q := url.Values{}
	for k, v := range params {
		q.Set(k, v)
	}
	// path is already escaped (escapedPath); the URL keeps it as given.
	target := path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "bad request: %v", err)
	}
	r.RequestURI = target
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
		r.ContentLength = int64(len(body))
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			r.Header.Set("Authorization", v[0])
		}
	}
	if p, ok := peer.FromContext(ctx); ok {
		r.RemoteAddr = p.Addr.String()
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			st := ti.State
			r.TLS = &st
		}
	} else {
		r.RemoteAddr = "0.0.0.0:0"
	}
	return r, nil
}

// escapedPath builds a path with a key or other segment escaped as the
// REST API expects.
func escapedPath(prefix, seg, suffix string) string {
	e := url.PathEscape(seg)
	if seg == "." || seg == ".." {
		e = strings.ReplaceAll(e, ".", "%2E")
	}
	return prefix + e + suffix
}

// recorder is an http.ResponseWriter that keeps the answer in memory.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
	max    int
	over   bool
}

func (w *recorder) Header() http.Header { return w.h }
func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body.Len()+len(b) > w.max {
		w.over = true
		return 0, errors.New("answer too large")
	}
	return w.body.Write(b)
}

// call runs one unary REST request.
func (s *Server) call(ctx context.Context, method, path string, params map[string]string, body []byte) (*cairnv1.Document, error) {
	r, err := request(ctx, method, path, params, body)
	if err != nil {
		return nil, err
	}
	w := &recorder{h: http.Header{}, max: s.maxBody}
	s.rest.ServeHTTP(w, r)
	if w.over {
		return nil, status.Error(codes.ResourceExhausted, "the answer exceeds the gRPC answer limit")
	}
	if w.status < 200 || w.status > 299 {
		return nil, refusal(ctx, w.status, w.body.Bytes())
	}
	return &cairnv1.Document{Json: w.body.Bytes()}, nil
}

// refusal turns a REST error answer into a gRPC status and trailer.
func refusal(ctx context.Context, httpStatus int, body []byte) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		msg = e.Error.Code + ": " + e.Error.Message
		_ = grpc.SetTrailer(ctx, metadata.Pairs(ErrorTrailer, strings.TrimSpace(string(body)), StatusTrailer, strconv.Itoa(httpStatus)))
	}
	return status.Error(Code(httpStatus), msg)
}

// Code maps an HTTP status of the REST API to a gRPC code.
func Code(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusMethodNotAllowed:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusConflict:
		return codes.AlreadyExists
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusUnprocessableEntity:
		return codes.FailedPrecondition
	case http.StatusServiceUnavailable, http.StatusRequestTimeout:
		return codes.Unavailable
	case 499:
		return codes.Canceled
	}
	return codes.Internal
}

// HTTPStatus is Code's inverse for the codes it produces, for a caller
// that sees only the gRPC status (the trailers carry the exact one).
func HTTPStatus(c codes.Code) int {
	switch c {
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists:
		return http.StatusConflict
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.FailedPrecondition:
		return http.StatusUnprocessableEntity
	case codes.Unavailable, codes.DeadlineExceeded:
		return http.StatusServiceUnavailable
	case codes.Canceled:
		return 499
	}
	return http.StatusInternalServerError
}

// Submit implements cairnv1.CairnServer: the binary transactions become the
// REST body (their JSON form).
func (s *Server) Submit(ctx context.Context, req *cairnv1.SubmitRequest) (*cairnv1.Document, error) {
	if len(req.Txs) == 0 {
		return nil, status.Error(codes.InvalidArgument, "malformed: no transactions")
	}
	txs := make([]*types.Tx, len(req.Txs))
	for i, b := range req.Txs {
		tx, err := types.DecodeTx(b)
		if err != nil {
			var te *types.TxError
			code := "malformed"
			if errors.As(err, &te) {
				code = string(te.Code)
			}
			return nil, status.Errorf(codes.InvalidArgument, "%s: tx %d: %v", code, i, err)
		}
		txs[i] = tx
	}
	var body []byte
	var err error
	if len(txs) == 1 && !req.Batch {
		body, err = json.Marshal(txs[0])
	} else {
		body, err = json.Marshal(txs)
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encode transactions: %v", err)
	}
	return s.call(ctx, http.MethodPost, "/v1/txs", req.Params, body)
}

// Status implements cairnv1.CairnServer.
func (s *Server) Status(ctx context.Context, _ *cairnv1.StatusRequest) (*cairnv1.Document, error) {
	return s.call(ctx, http.MethodGet, "/v1/status", nil, nil)
}

// GetBlock implements cairnv1.CairnServer.
func (s *Server) GetBlock(ctx context.Context, req *cairnv1.BlockRequest) (*cairnv1.Document, error) {
	return s.call(ctx, http.MethodGet, escapedPath("/v1/blocks/", req.Height, ""), req.Params, nil)
}

// GetTx implements cairnv1.CairnServer.
func (s *Server) GetTx(ctx context.Context, req *cairnv1.TxRequest) (*cairnv1.Document, error) {
	return s.call(ctx, http.MethodGet, escapedPath("/v1/txs/", req.Hash, ""), req.Params, nil)
}

// GetKV implements cairnv1.CairnServer.
func (s *Server) GetKV(ctx context.Context, req *cairnv1.KVRequest) (*cairnv1.Document, error) {
	return s.call(ctx, http.MethodGet, escapedPath("/v1/kv/", req.Key, ""), req.Params, nil)
}

// KVHistory implements cairnv1.CairnServer.
func (s *Server) KVHistory(ctx context.Context, req *cairnv1.KVHistoryRequest) (*cairnv1.Document, error) {
	return s.call(ctx, http.MethodGet, escapedPath("/v1/kv/", req.Key, "/history"), req.Params, nil)
}

// GetAccount implements cairnv1.CairnServer.
func (s *Server) GetAccount(ctx context.Context, req *cairnv1.AccountRequest) (*cairnv1.Document, error) {
	return s.call(ctx, http.MethodGet, escapedPath("/v1/accounts/", req.Address, ""), req.Params, nil)
}

// AccountTxs implements cairnv1.CairnServer.
func (s *Server) AccountTxs(ctx context.Context, req *cairnv1.AccountTxsRequest) (*cairnv1.Document, error) {
	return s.call(ctx, http.MethodGet, escapedPath("/v1/accounts/", req.Address, "/txs"), req.Params, nil)
}

// Search implements cairnv1.CairnServer.
func (s *Server) Search(ctx context.Context, req *cairnv1.SearchRequest) (*cairnv1.Document, error) {
	return s.call(ctx, http.MethodGet, "/v1/search", req.Params, nil)
}

// Blocks implements cairnv1.CairnServer: the REST event stream, one message
// per event.
func (s *Server) Blocks(req *cairnv1.BlocksRequest, stream cairnv1.Cairn_BlocksServer) error {
	ctx := stream.Context()
	r, err := request(ctx, http.MethodGet, "/v1/events", req.Params, nil)
	if err != nil {
		return err
	}
	r.Header.Set("Accept", "text/event-stream")
	pr, pw := io.Pipe()
	w := &streamWriter{h: http.Header{}, pw: pw, started: make(chan struct{})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.rest.ServeHTTP(w, r)
		w.start()
		pw.Close()
	}()
	defer func() {
		pr.CloseWithError(context.Canceled) // a handler still writing stops
		<-served
	}()
	<-w.started
	if w.status != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(pr, 1<<16))
		return refusal(ctx, w.status, b)
	}
	// Accepted: the headers tell the client so before the first block.
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	return forwardEvents(bufio.NewReaderSize(pr, 64<<10), stream)
}

// maxEventBytes bounds one event read from the REST stream.
const maxEventBytes = 64 << 20

// forwardEvents parses server-sent events and sends each block event; an
// "end" event ends the call with Unavailable and its reason.
func forwardEvents(rd *bufio.Reader, stream cairnv1.Cairn_BlocksServer) error {
	var event, id string
	var data bytes.Buffer
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
				return nil
			}
			return status.Errorf(codes.Unavailable, "events: %v", err)
		}
		if data.Len() > maxEventBytes {
			return status.Errorf(codes.ResourceExhausted, "event larger than %d bytes", maxEventBytes)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			switch {
			case data.Len() == 0 && event == "":
			case event == "end":
				return status.Errorf(codes.Unavailable, "event stream ended: %s", data.String())
			case event == "" || event == "block":
				n, _ := strconv.ParseUint(id, 10, 64)
				if err := stream.Send(&cairnv1.Document{Json: bytes.Clone(data.Bytes()), Id: n}); err != nil {
					return err
				}
			}
			event, id = "", ""
			data.Reset()
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "id:"):
			id = strings.TrimSpace(strings.TrimPrefix(line, "id:"))
		case strings.HasPrefix(line, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
}

// streamWriter is the ResponseWriter of a streamed REST request: headers
// first (started), then the body into a pipe.
type streamWriter struct {
	h       http.Header
	status  int
	pw      *io.PipeWriter
	started chan struct{}
	once    bool
}

func (w *streamWriter) Header() http.Header { return w.h }
func (w *streamWriter) start() {
	if !w.once {
		w.once = true
		if w.status == 0 {
			w.status = http.StatusOK
		}
		close(w.started)
	}
}
func (w *streamWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.start()
}
func (w *streamWriter) Write(b []byte) (int, error) {
	w.start()
	return w.pw.Write(b)
}
func (w *streamWriter) Flush() {}

// Serve runs g on ln until it stops; a listener closed by Stop is not an
// error.
func Serve(g *grpc.Server, ln net.Listener) error {
	if err := g.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("grpc: %w", err)
	}
	return nil
}

// ServerOptions are the options every Cairn gRPC server takes: TLS when
// tlsConf is non-nil, and a message size fit for the largest transaction
// batch (maxMsg; 0: 64 MiB) and answer.
func ServerOptions(tlsConf *tls.Config, maxMsg int) []grpc.ServerOption {
	if maxMsg <= 0 {
		maxMsg = 64 << 20 // the REST API's default batch body limit
	}
	opts := []grpc.ServerOption{grpc.MaxRecvMsgSize(maxMsg), grpc.MaxSendMsgSize(256 << 20)}
	if tlsConf != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConf)))
	}
	return opts
}
