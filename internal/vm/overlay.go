package vm

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/cairn-db/cairn/crypto"
)

// KV is one contract state entry.
type KV struct{ Key, Value []byte }

// Version is one committed version of a contract key.
type Version struct {
	Height  uint64
	Deleted bool
	Value   []byte
}

// State is the committed state calls read, per contract namespace.
type State interface {
	Get(contract string, key []byte) (value []byte, found bool, err error)
	// Range returns up to limit live entries with start <= key < end (no
	// upper bound when end is nil), in ascending key order.
	Range(contract string, start, end []byte, limit int) ([]KV, error)
	// History returns up to limit committed versions of key, newest first.
	History(contract string, key []byte, limit int) ([]Version, error)
	Balance(a crypto.Address) (uint64, error)
}

// Write is one buffered state write.
type Write struct {
	Contract string
	Key      []byte
	Value    []byte // nil for a delete
	Delete   bool
}

// Transfer is one buffered movement of native tokens.
type Transfer struct {
	From, To crypto.Address
	Amount   uint64
}

// Event is one event a contract emitted.
type Event struct {
	Contract string
	Name     string
	Data     []byte
}

// Overlay buffers the effects of calls over a State: reads see earlier
// buffered writes; a failed call's effects are rolled back to a savepoint.
// Its lists are in execution order, so applying them is deterministic.
type Overlay struct {
	base      State
	Writes    []Write
	Transfers []Transfer
	Events    []Event
	// latest: contract -> key -> index in Writes of the key's last write;
	// prev[i]: the index Writes[i] replaced there (-1: none), so a rollback
	// costs only the writes it undoes.
	latest map[string]map[string]int
	prev   []int
}

// NewOverlay starts an empty overlay over base.
func NewOverlay(base State) *Overlay {
	return &Overlay{base: base, latest: map[string]map[string]int{}}
}

type savepoint struct{ writes, transfers, events int }

func (o *Overlay) save() savepoint {
	return savepoint{len(o.Writes), len(o.Transfers), len(o.Events)}
}

func (o *Overlay) rollback(sp savepoint) {
	for i := len(o.Writes) - 1; i >= sp.writes; i-- {
		w := o.Writes[i]
		if o.prev[i] < 0 {
			delete(o.latest[w.Contract], string(w.Key))
		} else {
			o.latest[w.Contract][string(w.Key)] = o.prev[i]
		}
	}
	o.Writes, o.prev = o.Writes[:sp.writes], o.prev[:sp.writes]
	o.Transfers = o.Transfers[:sp.transfers]
	o.Events = o.Events[:sp.events]
}

func (o *Overlay) get(contract string, key []byte) ([]byte, bool, error) {
	if i, ok := o.latest[contract][string(key)]; ok {
		w := o.Writes[i]
		return w.Value, !w.Delete, nil
	}
	return o.base.Get(contract, key)
}

func (o *Overlay) put(contract string, key, value []byte) {
	o.record(Write{Contract: contract, Key: bytes.Clone(key), Value: bytes.Clone(value)})
}

func (o *Overlay) del(contract string, key []byte) {
	o.record(Write{Contract: contract, Key: bytes.Clone(key), Delete: true})
}

func (o *Overlay) record(w Write) {
	m := o.latest[w.Contract]
	if m == nil {
		m = map[string]int{}
		o.latest[w.Contract] = m
	}
	prev, ok := m[string(w.Key)]
	if !ok {
		prev = -1
	}
	m[string(w.Key)] = len(o.Writes)
	o.Writes = append(o.Writes, w)
	o.prev = append(o.prev, prev)
}

// pendingKeys is the number of keys the overlay holds for a contract: the
// work a range read over them does, which the host charges for.
func (o *Overlay) pendingKeys(contract string) int { return len(o.latest[contract]) }

// rangePage merges buffered writes into a committed page; more reports
// entries beyond limit.
func (o *Overlay) rangePage(contract string, start, end []byte, limit int) ([]KV, bool, error) {
	var pending []Write
	for _, i := range o.latest[contract] {
		w := o.Writes[i]
		if bytes.Compare(w.Key, start) >= 0 && (end == nil || bytes.Compare(w.Key, end) < 0) {
			pending = append(pending, w)
		}
	}
	base, err := o.base.Range(contract, start, end, limit+1+len(pending))
	if err != nil {
		return nil, false, fmt.Errorf("range %s: %w", contract, err)
	}
	merged := make(map[string][]byte, len(base)+len(pending))
	for _, kv := range base {
		merged[string(kv.Key)] = kv.Value
	}
	for _, w := range pending {
		if w.Delete {
			delete(merged, string(w.Key))
		} else {
			merged[string(w.Key)] = w.Value
		}
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Entries the committed page did not reach may not be complete past its
	// last key: cut there when the committed page was full.
	if len(base) == limit+1+len(pending) {
		last := string(base[len(base)-1].Key)
		i := sort.SearchStrings(keys, last)
		keys = keys[:min(i+1, len(keys))]
	}
	more := len(keys) > limit
	if more {
		keys = keys[:limit]
	}
	out := make([]KV, len(keys))
	for i, k := range keys {
		out[i] = KV{Key: []byte(k), Value: merged[k]}
	}
	return out, more, nil
}

func (o *Overlay) balance(a crypto.Address) (uint64, error) {
	b, err := o.base.Balance(a)
	if err != nil {
		return 0, fmt.Errorf("balance %s: %w", a, err)
	}
	for _, t := range o.Transfers {
		if t.To == a {
			b += t.Amount
		}
		if t.From == a {
			b -= t.Amount
		}
	}
	return b, nil
}
