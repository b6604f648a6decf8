package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/events"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

func blockEvent(b *types.Block, rs []*types.Receipt, withTxs bool) *client.BlockEvent {
	ev := &client.BlockEvent{
		Height: b.Header.Height, Hash: b.Hash(), Time: b.Header.Time, Round: b.Header.Round, Proposer: b.Header.Proposer,
		TxCount: len(b.Txs), TxRoot: b.Header.TxRoot, StateRoot: b.Header.StateRoot,
	}
	if withTxs {
		ev.Txs = make([]client.TxSummary, 0, len(b.Txs))
	}
	for i, tx := range b.Txs {
		var rc *types.Receipt
		if i < len(rs) {
			rc = rs[i]
		} else {
			rc = &types.Receipt{TxHash: tx.Hash()}
		}
		if !rc.OK {
			ev.FailedCount++
		}
		if withTxs {
			ev.Txs = append(ev.Txs, txSummary(tx, b.Header.Height, uint32(i), rc))
		}
	}
	return ev
}

// sseWriter writes events, each under a fresh write deadline.
type sseWriter struct {
	w       *bufio.Writer
	flush   func() error
	rc      *http.ResponseController
	timeout time.Duration
}

func (s *sseWriter) send(id, event string, data []byte) error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	if id != "" {
		fmt.Fprintf(s.w, "id: %s\n", id)
	}
	if event != "" {
		fmt.Fprintf(s.w, "event: %s\n", event)
	}
	// encoding/json never emits a raw newline, so the data is one line.
	s.w.WriteString("data: ")
	s.w.Write(data)
	s.w.WriteString("\n\n")
	if err := s.w.Flush(); err != nil {
		return err
	}
	return s.flush()
}

func (s *sseWriter) comment(text string) error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	s.w.WriteString(": " + text + "\n\n")
	if err := s.w.Flush(); err != nil {
		return err
	}
	return s.flush()
}

// events is GET /v1/events: every committed block, in height order,
// without gaps, as server-sent events. With ?from=H (or a Last-Event-ID
// header, resuming after it) earlier blocks are read from the ledger
// first. A reader that falls more than EventBuffer blocks behind the live
// stream is not dropped: it leaves the hub and catches up from the ledger.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Events == nil {
		return errf(http.StatusServiceUnavailable, "unavailable", "this node does not publish events")
	}
	withTxs := true
	if v := r.URL.Query().Get("txs"); v != "" {
		b, err := boolParam(r, "txs")
		if err != nil {
			return err
		}
		withTxs = b
	}
	from, fromSet, err := uintParam(r, "from")
	if err != nil {
		return err
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" && !fromSet {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return badRequest("Last-Event-ID must be a block height, got %q", id)
		}
		from, fromSet = n+1, true
	}
	if head := s.cfg.Backend.Ledger().Head().Height; fromSet && from <= head && head-max(from, 1)+1 > uint64(s.cfg.MaxReplayBlocks) {
		return badRequest("a stream may start at most %d blocks behind the head (%d); read older blocks with GET /v1/blocks/{height}", s.cfg.MaxReplayBlocks, head)
	}
	rc := http.NewResponseController(w)
	// The stream is long-lived: no read deadline, and a write deadline
	// per event instead of one for the whole response.
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))

	l := s.cfg.Backend.Ledger()
	sub := s.cfg.Events.Subscribe(s.cfg.EventBuffer)
	defer func() { closeSub(sub) }()
	next := l.Head().Height + 1
	if fromSet {
		next = max(from, 1)
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	out := &sseWriter{w: bufio.NewWriterSize(w, 32<<10), flush: rc.Flush, rc: rc, timeout: s.cfg.WriteTimeout}
	if err := out.comment("cairn events: committed blocks"); err != nil {
		return nil
	}
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()

	send := func(ev *client.BlockEvent) error {
		data, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		return out.send(strconv.FormatUint(ev.Height, 10), "block", data)
	}
	// catchUp sends blocks next.. head from the ledger.
	catchUp := func() error {
		for next <= l.Head().Height {
			select {
			case <-r.Context().Done():
				return r.Context().Err()
			case <-s.closing:
				return errClosing
			default:
			}
			b, _, rs, err := l.Block(next)
			if err != nil {
				return err
			}
			if err := send(blockEvent(b, rs, withTxs)); err != nil {
				return err
			}
			next++
		}
		return nil
	}
	end := func(why string) error {
		d, _ := json.Marshal(why)
		_ = out.send("", "end", d)
		return nil
	}

	hb := time.NewTicker(s.cfg.Heartbeat)
	defer hb.Stop()
	for {
		if err := catchUp(); err != nil {
			if errors.Is(err, errClosing) {
				return end("server shutting down")
			}
			if errors.Is(err, ledger.ErrNotFound) {
				s.log.Error("api: event stream: block missing from ledger", "height", next, "err", err)
				return end(err.Error())
			}
			return nil // client gone or write failed
		}
		select {
		case ev, ok := <-sub.C():
			if !ok {
				if errors.Is(sub.Err(), events.ErrSlow) {
					// Fell behind: resubscribe and catch up from the ledger.
					s.metrics.resyncs.Inc()
					sub = s.cfg.Events.Subscribe(s.cfg.EventBuffer)
					continue
				}
				return end("server shutting down")
			}
			if ev.Height() < next || ev.Block == nil {
				continue // already sent from the ledger
			}
			if ev.Height() > next {
				continue // a gap: catchUp reads it from the ledger
			}
			if err := send(blockEvent(ev.Block, ev.Receipts, withTxs)); err != nil {
				return nil
			}
			next++
		case <-hb.C:
			if err := out.comment("ping"); err != nil {
				return nil
			}
		case <-r.Context().Done():
			return nil
		case <-s.closing:
			return end("server shutting down")
		}
	}
}

var errClosing = errors.New("api closing")
