package api

import (
	"fmt"
	"strings"
)

// WrongNodeError says that this node does not serve a request by design,
// not by accident, and names the nodes that do: a transaction submitted to
// a follower (followers take no writes), a search on a node that does not
// index (validators leave that to followers). Answered 421 Misdirected
// Request, code wrong_node, with the URLs under "ask" next to "error", so
// a client can retry there without parsing the message. Never proxied: the
// node would otherwise carry load, and hold connections, for work it was
// set up not to do.
type WrongNodeError struct {
	What string   // what this node does not do, in words
	Ask  []string // API base URLs that do it (may be empty: unknown)
}

func (e *WrongNodeError) Error() string {
	if len(e.Ask) == 0 {
		return e.What
	}
	return fmt.Sprintf("%s; ask %s", e.What, strings.Join(e.Ask, " or "))
}
