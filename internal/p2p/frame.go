package p2p

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Wire format, after the TLS handshake, in both directions:
//
//	frame   = length:u32be kind:u8 channel:u8 payload[length]
//	kind    = 1 hello | 2 data | 3 ping | 4 start
//
// The first frame each side sends is a hello whose payload is
// version:u8 dial:u64be followed by the network id bytes; a connection is
// registered only after both hellos were exchanged and match. dial is the
// dialler's sequence number for the connection (rising with every dial, also
// across restarts: it starts from the clock), 0 from the acceptor: of two
// connections dialled the same way the one with the larger number is kept,
// which both sides can tell without talking. A side that writes on a
// connection (it registered it as its active one) first sends one start frame
// whose payload is epoch:u64be, larger for every connection it writes on
// after another: the receiver delivers a connection's messages only once no
// connection with a smaller or not yet known epoch is still being read, which
// keeps one peer's messages in order across connection replacements. Data
// frames, after the start frame, carry one message on one channel. Ping frames have an empty payload; each side sends one when
// it has written nothing for a heartbeat interval, so a silent connection is a
// dead one. A length above the receiver's MaxMessageBytes, or an unknown kind,
// is a protocol error and closes the connection.
const (
	frameHeaderSize = 6

	kindHello byte = 1
	kindData  byte = 2
	kindPing  byte = 3
	kindStart byte = 4

	startPayloadSize = 8

	protocolVersion byte = 2

	// maxHelloBytes bounds the hello payload independently of MaxMessageBytes.
	maxHelloBytes = 1 + 8 + maxNetworkIDBytes
)

// errProtocol marks errors caused by a peer breaking the wire format.
var errProtocol = errors.New("p2p protocol violation")

// writeFrame appends one frame to w. It does not flush.
func writeFrame(w *bufio.Writer, kind, channel byte, payload []byte) error {
	var h [frameHeaderSize]byte
	binary.BigEndian.PutUint32(h[:4], uint32(len(payload)))
	h[4] = kind
	h[5] = channel
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	if len(payload) > 0 {
		if _, err := w.Write(payload); err != nil {
			return err
		}
	}
	return nil
}

// readFrame reads one frame. maxLen bounds the payload; a longer frame is
// rejected before any of its payload is read or allocated.
func readFrame(r *bufio.Reader, maxLen int) (kind, channel byte, payload []byte, err error) {
	var h [frameHeaderSize]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return 0, 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[:4])
	kind, channel = h[4], h[5]
	if uint64(n) > uint64(maxLen) {
		return 0, 0, nil, fmt.Errorf("%w: frame of %d bytes exceeds limit %d", errProtocol, n, maxLen)
	}
	switch kind {
	case kindHello, kindData:
	case kindPing:
		if n != 0 {
			return 0, 0, nil, fmt.Errorf("%w: ping frame with %d payload bytes", errProtocol, n)
		}
		return kind, channel, nil, nil
	case kindStart:
		if n != startPayloadSize {
			return 0, 0, nil, fmt.Errorf("%w: start frame with %d payload bytes, want %d", errProtocol, n, startPayloadSize)
		}
	default:
		return 0, 0, nil, fmt.Errorf("%w: unknown frame kind %d", errProtocol, kind)
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return 0, 0, nil, err
	}
	return kind, channel, payload, nil
}

func helloPayload(networkID string, dial uint64) []byte {
	b := make([]byte, 0, 1+8+len(networkID))
	b = append(b, protocolVersion)
	b = binary.BigEndian.AppendUint64(b, dial)
	return append(b, networkID...)
}

// checkHello checks a peer's hello and returns the dial sequence number it
// carries.
func checkHello(payload []byte, networkID string) (dial uint64, err error) {
	if len(payload) < 1 {
		return 0, fmt.Errorf("%w: empty hello", errProtocol)
	}
	if payload[0] != protocolVersion {
		return 0, fmt.Errorf("%w: peer speaks protocol version %d, we speak %d", errProtocol, payload[0], protocolVersion)
	}
	if len(payload) < 1+8 {
		return 0, fmt.Errorf("%w: hello of %d bytes is too short", errProtocol, len(payload))
	}
	if got := string(payload[1+8:]); got != networkID {
		return 0, fmt.Errorf("%w: peer is on network %q, we are on %q", errProtocol, got, networkID)
	}
	return binary.BigEndian.Uint64(payload[1:9]), nil
}
