package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
)

// How a client command reports a failure (--output):
//
//	text (default)  one line on stderr: "cairn CMD: what happened"
//	json            one JSON object on stderr: {"error": problem}
//
// Results stay JSON on stdout in both modes, so a script reads stdout for
// the answer and, on a non-zero exit, stderr for the machine-readable why.

// problem is the JSON form of a failure.
type problem struct {
	Command string `json:"command"`
	// Code is the API error code (insufficient_balance, not_found, ...),
	// a failed receipt's code, or one of: unreachable, pending, unknown
	// (tx status: never seen), proof_invalid (a proof or block that does
	// not verify here), invalid (bad local input such as a key file),
	// error (anything else).
	Code    string `json:"code"`
	Message string `json:"message"`
	// HTTPStatus is the node's answer status, when the node refused.
	HTTPStatus int `json:"http_status,omitempty"`
	// ErrorID names a 500 answer in the node's log.
	ErrorID string `json:"error_id,omitempty"`
	// Node is the node URL that could not be reached.
	Node string `json:"node,omitempty"`
	// Tx and Height identify a transaction that failed or is pending.
	Tx     *crypto.Hash `json:"tx,omitempty"`
	Height uint64       `json:"height,omitempty"`
}

// jsonErrors marks the stderr of a run with --output json.
type jsonErrors struct{ io.Writer }

// outputJSON reports whether failures go to stderr as JSON.
func outputJSON(stderr io.Writer) bool {
	_, ok := stderr.(jsonErrors)
	return ok
}

// report writes p to stderr in the run's output mode and returns exit
// status 1.
func report(stderr io.Writer, p problem) int {
	if outputJSON(stderr) {
		b, err := json.Marshal(struct {
			Error problem `json:"error"`
		}{p})
		if err == nil {
			fmt.Fprintf(stderr, "%s\n", b)
			return 1
		}
	}
	fmt.Fprintf(stderr, "cairn %s: %s\n", p.Command, p.Message)
	return 1
}

// fail reports err on stderr and returns exit status 1. A refusal names the
// node's code and status; an unreachable node is one line naming its URL
// and what to check.
func fail(stderr io.Writer, cmd string, err error) int {
	var ae *client.Error
	if errors.As(err, &ae) {
		id := ""
		if ae.ID != "" {
			id = ", error id " + ae.ID // what the node logged the detail under
		}
		return report(stderr, problem{Command: cmd, Code: ae.Code, HTTPStatus: ae.Status, ErrorID: ae.ID,
			Message: fmt.Sprintf("the node refused: %s (%d %s%s)", ae.Message, ae.Status, ae.Code, id)})
	}
	if node, why, ok := unreachable(err); ok {
		other := "pass --node URL or set CAIRN_NODE"
		if cmd == "bench" {
			other = "pass --network FILE"
		}
		return report(stderr, problem{Command: cmd, Code: "unreachable", Node: node,
			Message: fmt.Sprintf("cannot reach the node at %s (%s); is the devnet running (cairn devnet)? Otherwise %s", node, why, other)})
	}
	var ke *crypto.KeyFileError
	if errors.As(err, &ke) {
		return report(stderr, problem{Command: cmd, Code: "invalid", Message: err.Error()})
	}
	return report(stderr, problem{Command: cmd, Code: "error", Message: err.Error()})
}

// unreachable recognises a failure to connect (refused, no such host,
// timed out, connection reset) and returns the node's base URL and a short
// reason.
func unreachable(err error) (node, why string, ok bool) {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return "", "", false
	}
	if u, perr := url.Parse(ue.URL); perr == nil {
		node = u.Scheme + "://" + u.Host
	} else {
		node = ue.URL
	}
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		why = "connection refused"
	case errors.As(err, &dns):
		why = "no such host " + dns.Name
	case ue.Timeout():
		why = "timed out"
	case errors.Is(err, syscall.ECONNRESET):
		why = "connection reset"
	case errors.As(err, &op) && op.Op == "dial":
		why = op.Err.Error()
	default:
		return "", "", false
	}
	return node, why, true
}

// nodeURL accepts a node address with or without a scheme: "host:port"
// means http://host:port.
func nodeURL(s string) string {
	s = strings.TrimSpace(s)
	if s != "" && !strings.Contains(s, "://") {
		return "http://" + s
	}
	return s
}

// isTerminal reports whether w is an interactive terminal (a character
// device), as stdout is when a person runs the command without a pipe.
// Tests substitute a writer that says it is one.
func isTerminal(w io.Writer) bool {
	if t, ok := w.(interface{ IsTerminal() bool }); ok {
		return t.IsTerminal()
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
