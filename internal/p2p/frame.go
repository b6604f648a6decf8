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
//	kind    = 1 hello | 2 data | 3 ping
//
// The first frame each side sends is a hello whose payload is
// version:u8 followed by the network id bytes; a connection is registered only
// after both hellos were exchanged and match. Data frames carry one message
// on one channel. Ping frames have an empty payload; each side sends one when
// it has written nothing for a heartbeat interval, so a silent connection is a
// dead one. A length above the receiver's MaxMessageBytes, or an unknown kind,
// is a protocol error and closes the connection.
const (
	frameHeaderSize = 6

	kindHello byte = 1
	kindData  byte = 2
	kindPing  byte = 3

	protocolVersion byte = 1

	// maxHelloBytes bounds the hello payload independently of MaxMessageBytes.
	maxHelloBytes = 1 + maxNetworkIDBytes
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
	default:
		return 0, 0, nil, fmt.Errorf("%w: unknown frame kind %d", errProtocol, kind)
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return 0, 0, nil, err
	}
	return kind, channel, payload, nil
}

func helloPayload(networkID string) []byte {
	b := make([]byte, 0, 1+len(networkID))
	b = append(b, protocolVersion)
	return append(b, networkID...)
}

func checkHello(payload []byte, networkID string) error {
	if len(payload) < 1 {
		return fmt.Errorf("%w: empty hello", errProtocol)
	}
	if payload[0] != protocolVersion {
		return fmt.Errorf("%w: peer speaks protocol version %d, we speak %d", errProtocol, payload[0], protocolVersion)
	}
	if got := string(payload[1:]); got != networkID {
		return fmt.Errorf("%w: peer is on network %q, we are on %q", errProtocol, got, networkID)
	}
	return nil
}
