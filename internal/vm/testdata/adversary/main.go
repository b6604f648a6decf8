// Command adversary is a test contract: well-behaved functions, and ones
// that try to escape every limit the runtime sets.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cairn-db/cairn/contract"
)

var hoard [][]byte

// counter lives in the instance's memory only: what a block's calls of one
// instance share, and nothing else may.
var counter uint64

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func recurse(n int) int {
	if n == 0 {
		return 0
	}
	var pad [64]byte
	pad[n%64] = byte(n)
	return recurse(n+1) + int(pad[n%64])
}

func init() {
	contract.Init(func(args []byte) ([]byte, error) {
		contract.PutState([]byte("init"), args)
		return nil, nil
	})
	contract.Register("count", func(args []byte) ([]byte, error) {
		counter++
		return u64(counter), nil
	})
	contract.Register("echo", func(args []byte) ([]byte, error) { return args, nil })
	contract.Register("put", func(args []byte) ([]byte, error) {
		k, v, _ := bytes.Cut(args, []byte("="))
		contract.PutState(k, v)
		return nil, nil
	})
	contract.Register("get", func(args []byte) ([]byte, error) {
		v, ok := contract.GetState(args)
		if !ok {
			return nil, errors.New("not found")
		}
		return v, nil
	})
	contract.Register("del", func(args []byte) ([]byte, error) {
		contract.DelState(args)
		return nil, nil
	})
	contract.Register("range", func(args []byte) ([]byte, error) {
		s, e, _ := bytes.Cut(args, []byte(".."))
		if len(e) == 0 {
			e = nil
		}
		page, more := contract.GetStateByRange(s, e, 3)
		var out []byte
		for _, kv := range page {
			out = fmt.Appendf(out, "%s=%s;", kv.Key, kv.Value)
		}
		if more {
			out = append(out, "+"...)
		}
		return out, nil
	})
	contract.Register("put_then_fail", func(args []byte) ([]byte, error) {
		contract.PutState([]byte("doomed"), args)
		contract.Emit("doomed", []byte(`{}`))
		return nil, errors.New("refused on purpose")
	})
	contract.Register("put_then_loop", func(args []byte) ([]byte, error) {
		contract.PutState([]byte("doomed"), args)
		for i := 0; ; i++ {
			if i < 0 {
				break
			}
		}
		return nil, nil
	})
	contract.Register("panic", func(args []byte) ([]byte, error) {
		var m map[string]int
		m["x"] = 1
		return nil, nil
	})
	contract.Register("loop", func(args []byte) ([]byte, error) {
		n := uint64(0)
		for {
			n += uint64(len(args)) + 1
			if n == 0 {
				return u64(n), nil
			}
		}
	})
	contract.Register("work", func(args []byte) ([]byte, error) {
		n := binary.BigEndian.Uint64(args)
		h := uint64(1469598103934665603)
		for i := uint64(0); i < n; i++ {
			h = (h ^ i) * 1099511628211
		}
		return u64(h), nil
	})
	contract.Register("grow", func(args []byte) ([]byte, error) {
		for {
			hoard = append(hoard, make([]byte, 1<<20))
		}
	})
	contract.Register("recurse", func(args []byte) ([]byte, error) {
		return u64(uint64(recurse(1))), nil
	})
	contract.Register("bigevent", func(args []byte) ([]byte, error) {
		contract.Emit("big", bytes.Repeat([]byte("x"), 9<<10))
		return nil, nil
	})
	contract.Register("emit", func(args []byte) ([]byte, error) {
		contract.Emit("said", args)
		return nil, nil
	})
	contract.Register("bigput", func(args []byte) ([]byte, error) {
		contract.PutState([]byte("big"), bytes.Repeat([]byte("x"), 100<<10))
		return nil, nil
	})
	contract.Register("floats", func(args []byte) ([]byte, error) {
		// Values from the input, so the compiler cannot fold them.
		x := float64(len(args))
		inf := math.Inf(1) * (x + 1)
		nan64 := inf - inf
		zero32 := float32(x) - float32(x)
		nan32 := zero32 / zero32
		sq := math.Sqrt(-1 - x)
		out := u64(math.Float64bits(nan64))
		out = binary.BigEndian.AppendUint32(out, math.Float32bits(nan32))
		out = append(out, u64(math.Float64bits(sq))...)
		out = append(out, u64(math.Float64bits(math.Pi*x/3))...)
		return out, nil
	})
	contract.Register("bigrand", func(args []byte) ([]byte, error) {
		b := make([]byte, 8<<20)
		_, err := rand.Read(b)
		return b[:8], err
	})
	contract.Register("sleep", func(args []byte) ([]byte, error) {
		time.Sleep(time.Second)
		return nil, nil
	})
	contract.Register("env", func(args []byte) ([]byte, error) {
		var r [16]byte
		if _, err := rand.Read(r[:]); err != nil {
			return nil, err
		}
		h := contract.TxHash()
		c := contract.Caller()
		s := contract.Self()
		out := fmt.Appendf(nil, "name=%s height=%d time=%d now=%d caller=%x self=%x tx=%x rand=%x",
			contract.Name(), contract.Height(), contract.Time().UnixNano(), time.Now().UnixNano(), c, s, h[:4], r)
		return out, nil
	})
	contract.Register("history", func(args []byte) ([]byte, error) {
		var out []byte
		for _, v := range contract.GetHistoryForKey(args, 10) {
			out = fmt.Appendf(out, "%d:%v:%s;", v.Height, v.Deleted, v.Value)
		}
		return out, nil
	})
	contract.Register("call", func(args []byte) ([]byte, error) {
		name, rest, _ := bytes.Cut(args, []byte(" "))
		fn, a, _ := bytes.Cut(rest, []byte(" "))
		return contract.Call(string(name), string(fn), a, 0)
	})
	contract.Register("pay", func(args []byte) ([]byte, error) {
		var to contract.Address
		copy(to[:], args[:20])
		return nil, contract.Transfer(to, binary.BigEndian.Uint64(args[20:]))
	})
}

func main() {}
