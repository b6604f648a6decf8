package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// EventStream reads GET /v1/events, the server-sent events of committed
// blocks. Close it when done.
type EventStream struct {
	body   io.ReadCloser
	r      *bufio.Reader
	cancel context.CancelFunc
	// LastID is the id of the last event read (its block height).
	LastID uint64
}

// EventOptions select what Events streams.
type EventOptions struct {
	// From is the first height to send; earlier blocks come from the ledger
	// before live ones. 0 starts with the next block committed.
	From uint64
	// NoTxs omits the per-transaction list from each block event.
	NoTxs bool
}

// maxEventBytes bounds one event (a block of 10,000 txs is about 3 MB).
const maxEventBytes = 64 << 20

// Events opens the stream of committed blocks. The stream ends when ctx is
// canceled, the node shuts down, or Close is called.
func (c *Client) Events(ctx context.Context, opt EventOptions) (*EventStream, error) {
	q := make(map[string][]string)
	if opt.From > 0 {
		q["from"] = []string{strconv.FormatUint(opt.From, 10)}
	}
	if opt.NoTxs {
		q["txs"] = []string{"false"}
	}
	if c.rpc != nil {
		return c.eventsGRPC(ctx, q)
	}
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/v1/events", q), nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("events: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	c.authorize(req)
	// The stream is long-lived: the client's overall timeout must not apply.
	hc := *c.hc
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("events: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		cancel()
		return nil, decodeError(resp.StatusCode, b)
	}
	return newEventStream(resp.Body, cancel), nil
}

// ErrStreamEnded is returned by Next when the server ended the stream
// (shutdown) or said why it stopped; the message follows the colon.
var ErrStreamEnded = errors.New("event stream ended")

// Next returns the next block. It skips heartbeats. At the end of the
// stream it returns io.EOF (connection closed) or an error wrapping
// ErrStreamEnded (the server sent an "end" event with a reason).
func (s *EventStream) Next() (*BlockEvent, error) {
	var event, id string
	var data strings.Builder
	total := 0
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("events: %w", err)
		}
		total += len(line)
		if total > maxEventBytes {
			return nil, fmt.Errorf("events: event larger than %d bytes", maxEventBytes)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if data.Len() == 0 && event == "" {
				continue // heartbeat or stray blank line
			}
			switch event {
			case "", "block":
				var ev BlockEvent
				if err := json.Unmarshal([]byte(data.String()), &ev); err != nil {
					return nil, fmt.Errorf("events: decode block event: %w", err)
				}
				if n, err := strconv.ParseUint(id, 10, 64); err == nil {
					s.LastID = n
				}
				return &ev, nil
			case "end":
				return nil, fmt.Errorf("%w: %s", ErrStreamEnded, data.String())
			}
			// Unknown event types are skipped, for forward compatibility.
			event, id = "", ""
			data.Reset()
			total = 0
		case strings.HasPrefix(line, ":"):
			// comment (heartbeat)
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				event = value
			case "id":
				id = value
			case "data":
				if data.Len() > 0 {
					data.WriteByte('\n')
				}
				data.WriteString(value)
			}
		}
	}
}

// Close ends the stream.
func (s *EventStream) Close() error {
	s.cancel()
	return s.body.Close()
}

func newEventStream(body io.ReadCloser, cancel context.CancelFunc) *EventStream {
	return &EventStream{body: body, r: bufio.NewReaderSize(body, 64<<10), cancel: cancel}
}
