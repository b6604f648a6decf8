//go:build wasip1

package contract

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unsafe"
)

//go:wasmimport cairn input
func hostInput() int32

//go:wasmimport cairn read_ret
func hostReadRet(ptr unsafe.Pointer)

//go:wasmimport cairn set_result
func hostSetResult(ptr unsafe.Pointer, n uint32)

//go:wasmimport cairn fail
func hostFail(ptr unsafe.Pointer, n uint32)

//go:wasmimport cairn get_state
func hostGetState(kp unsafe.Pointer, kl uint32) int32

//go:wasmimport cairn put_state
func hostPutState(kp unsafe.Pointer, kl uint32, vp unsafe.Pointer, vl uint32)

//go:wasmimport cairn del_state
func hostDelState(kp unsafe.Pointer, kl uint32)

//go:wasmimport cairn get_range
func hostGetRange(sp unsafe.Pointer, sl uint32, ep unsafe.Pointer, el uint32, limit uint32) int32

//go:wasmimport cairn get_history
func hostGetHistory(kp unsafe.Pointer, kl uint32, limit uint32) int32

//go:wasmimport cairn env
func hostEnv(field uint32) int32

//go:wasmimport cairn emit
func hostEmit(np unsafe.Pointer, nl uint32, dp unsafe.Pointer, dl uint32)

//go:wasmimport cairn balance
func hostBalance(ap unsafe.Pointer, al uint32) uint64

//go:wasmimport cairn transfer
func hostTransfer(ap unsafe.Pointer, al uint32, amount uint64) int32

//go:wasmimport cairn call
func hostCall(cp unsafe.Pointer, cl uint32, fp unsafe.Pointer, fl uint32, ap unsafe.Pointer, al uint32, gas uint64) int32

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// ret reads the host's last result of n bytes.
func ret(n int32) []byte {
	if n <= 0 {
		return []byte{}
	}
	b := make([]byte, n)
	hostReadRet(unsafe.Pointer(&b[0]))
	return b
}

var (
	initHandler Handler
	handlers    = map[string]Handler{}
)

// Init registers the function run once, when the contract is instantiated.
func Init(h Handler) { initHandler = h }

// Register registers a function callers invoke by name.
func Register(name string, h Handler) { handlers[name] = h }

//go:wasmexport cairn_invoke
func invoke() {
	in := ret(hostInput())
	if len(in) < 3 {
		abort("malformed call input")
	}
	kind := in[0]
	n := int(binary.BigEndian.Uint16(in[1:3]))
	if len(in) < 3+n {
		abort("malformed call input")
	}
	fn, args := string(in[3:3+n]), in[3+n:]
	var h Handler
	if kind == 0 {
		h = initHandler
		if h == nil {
			return
		}
	} else if h = handlers[fn]; h == nil {
		abort(fmt.Sprintf("no_such_function: %q", fn))
	}
	out, err := run(h, args)
	if err != nil {
		abort(err.Error())
	}
	if len(out) > 0 {
		hostSetResult(ptr(out), uint32(len(out)))
	}
}

func run(h Handler, args []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return h(args)
}

func abort(msg string) {
	b := []byte(msg)
	hostFail(ptr(b), uint32(len(b)))
}

// GetState returns the value of key in the contract's state.
func GetState(key []byte) ([]byte, bool) {
	n := hostGetState(ptr(key), uint32(len(key)))
	if n < 0 {
		return nil, false
	}
	return ret(n), true
}

// PutState writes key = value. Keys are 1..1024 bytes, values at most
// 64 KiB (the network's limits; beyond them the transaction fails).
func PutState(key, value []byte) {
	hostPutState(ptr(key), uint32(len(key)), ptr(value), uint32(len(value)))
}

// DelState deletes key.
func DelState(key []byte) { hostDelState(ptr(key), uint32(len(key))) }

// GetStateByRange returns up to limit entries (at most 100) with
// start <= key < end (end nil: no upper bound) in key order, and whether
// more follow: continue from the last key + "\x00".
func GetStateByRange(start, end []byte, limit int) ([]KV, bool) {
	if len(start) == 0 {
		start = []byte{0}
	}
	b := ret(hostGetRange(ptr(start), uint32(len(start)), ptr(end), uint32(len(end)), uint32(limit)))
	n := int(binary.BigEndian.Uint32(b))
	b = b[4:]
	out := make([]KV, 0, n)
	for i := 0; i < n; i++ {
		kl := binary.BigEndian.Uint32(b)
		k := b[4 : 4+kl]
		b = b[4+kl:]
		vl := binary.BigEndian.Uint32(b)
		v := b[4 : 4+vl]
		b = b[4+vl:]
		out = append(out, KV{Key: k, Value: v})
	}
	return out, len(b) > 0 && b[0] == 1
}

// GetHistoryForKey returns up to limit committed versions of key (at most
// 100), newest first.
func GetHistoryForKey(key []byte, limit int) []Version {
	b := ret(hostGetHistory(ptr(key), uint32(len(key)), uint32(limit)))
	n := int(binary.BigEndian.Uint32(b))
	b = b[4:]
	out := make([]Version, 0, n)
	for i := 0; i < n; i++ {
		v := Version{Height: binary.BigEndian.Uint64(b), Deleted: b[8] == 1}
		vl := binary.BigEndian.Uint32(b[9:])
		v.Value = b[13 : 13+vl]
		b = b[13+vl:]
		out = append(out, v)
	}
	return out
}

func env(field uint32) []byte { return ret(hostEnv(field)) }

func addr(b []byte) (a Address) {
	copy(a[:], b)
	return a
}

// Name is the contract's instance name.
func Name() string { return string(env(0)) }

// Caller is the address that called: the transaction's sender, or the
// calling contract's address.
func Caller() Address { return addr(env(1)) }

// TxHash is the hash of the transaction being executed.
func TxHash() [32]byte {
	var h [32]byte
	copy(h[:], env(2))
	return h
}

// Height is the height of the block being executed.
func Height() uint64 { return binary.BigEndian.Uint64(env(3)) }

// Time is the block's time (also what time.Now returns).
func Time() time.Time { return time.Unix(0, int64(binary.BigEndian.Uint64(env(4)))).UTC() }

// Self is the contract's own account address.
func Self() Address { return addr(env(5)) }

// Emit records an event in the transaction's receipt; data is JSON by
// convention. At most 64 events of 8 KiB (name and data) per call.
func Emit(name string, data []byte) {
	n := []byte(name)
	hostEmit(ptr(n), uint32(len(n)), ptr(data), uint32(len(data)))
}

// Balance is the native-token balance of an account.
func Balance(a Address) uint64 { return hostBalance(unsafe.Pointer(&a[0]), uint32(len(a))) }

// Transfer moves amount of the contract's own tokens to an account.
func Transfer(to Address, amount uint64) error {
	if n := hostTransfer(unsafe.Pointer(&to[0]), uint32(len(to)), amount); n < 0 {
		return errors.New(string(ret(-n - 1)))
	}
	return nil
}

// Call invokes function fn of another contract with args and up to gas
// units of gas (0: all that is left). Its failure is returned as an error
// (its code and reason) and discards only its own effects. Calls nest at most 8 deep.
func Call(contractName, fn string, args []byte, gas uint64) ([]byte, error) {
	c, f := []byte(contractName), []byte(fn)
	n := hostCall(ptr(c), uint32(len(c)), ptr(f), uint32(len(f)), ptr(args), uint32(len(args)), gas)
	if n < 0 {
		return nil, errors.New("call " + contractName + "." + fn + ": " + string(ret(-n-1)))
	}
	return ret(n), nil
}
