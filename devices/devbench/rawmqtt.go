package devbench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/mochi-mqtt/server/v2/packets"
)

// rawConn is a bare MQTT 3.1.1 connection for the load generator: mochi's
// packets codec over a buffered TCP connection, no client library, so the
// harness adds no goroutines, queues or per-message copies of its own
// between the socket and the clock. It is used from at most one reading
// and one writing goroutine.
type rawConn struct {
	c   net.Conn
	r   *bufio.Reader
	buf []byte // body of the packet last read; reused
}

// rawProtocol is MQTT 3.1.1.
const rawProtocol = 4

// maxRawPacket bounds a packet the load generator reads (the embedded
// broker's default bound).
const maxRawPacket = 1 << 20

// dialRaw connects to addr (host:port) as clientID with a clean session and
// no keepalive, and waits for the CONNACK.
func dialRaw(ctx context.Context, addr, clientID string) (*rawConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("load generator dial %s: %w", addr, err)
	}
	rc := &rawConn{c: c, r: bufio.NewReaderSize(c, 64<<10)}
	var out bytes.Buffer
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: rawProtocol,
		Connect:         packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, ClientIdentifier: clientID},
	}
	if err := pk.ConnectEncode(&out); err != nil {
		c.Close()
		return nil, fmt.Errorf("load generator connect %s: %w", clientID, err)
	}
	if _, err := c.Write(out.Bytes()); err != nil {
		c.Close()
		return nil, fmt.Errorf("load generator connect %s: %w", clientID, err)
	}
	ack, err := rc.expect(ctx, packets.Connack)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("load generator connect %s: %w", clientID, err)
	}
	if ack.ReasonCode != 0 {
		c.Close()
		return nil, fmt.Errorf("load generator connect %s: refused with code 0x%02x", clientID, ack.ReasonCode)
	}
	return rc, nil
}

// expect reads the next packet, which must be of type t; ctx bounds the
// wait.
func (rc *rawConn) expect(ctx context.Context, t byte) (packets.Packet, error) {
	stop := context.AfterFunc(ctx, func() { rc.c.Close() })
	defer stop()
	pk, err := rc.read()
	if err != nil {
		if ctx.Err() != nil {
			return pk, ctx.Err()
		}
		return pk, err
	}
	if pk.FixedHeader.Type != t {
		return pk, fmt.Errorf("got packet type %d, want %d", pk.FixedHeader.Type, t)
	}
	return pk, nil
}

// subscribe subscribes to filter at qos and waits for the SUBACK; no other
// packet may arrive meanwhile (call it before publishing starts).
func (rc *rawConn) subscribe(ctx context.Context, filter string, qos byte) error {
	var out bytes.Buffer
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Subscribe, Qos: 1},
		ProtocolVersion: rawProtocol,
		PacketID:        1,
		Filters:         packets.Subscriptions{{Filter: filter, Qos: qos}},
	}
	if err := pk.SubscribeEncode(&out); err != nil {
		return fmt.Errorf("load generator subscribe %q: %w", filter, err)
	}
	if _, err := rc.c.Write(out.Bytes()); err != nil {
		return fmt.Errorf("load generator subscribe %q: %w", filter, err)
	}
	ack, err := rc.expect(ctx, packets.Suback)
	if err != nil {
		return fmt.Errorf("load generator subscribe %q: %w", filter, err)
	}
	if len(ack.ReasonCodes) != 1 || ack.ReasonCodes[0] >= 0x80 {
		return fmt.Errorf("load generator subscribe %q: refused (%v)", filter, ack.ReasonCodes)
	}
	return nil
}

// read reads one packet. Its byte fields (a PUBLISH's topic and payload)
// point into the connection's buffer and are valid until the next read.
func (rc *rawConn) read() (packets.Packet, error) {
	pk := packets.Packet{ProtocolVersion: rawProtocol}
	hb, err := rc.r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(hb); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(rc.r)
	if err != nil {
		return pk, err
	}
	if n > maxRawPacket {
		return pk, fmt.Errorf("packet of %d bytes exceeds %d", n, maxRawPacket)
	}
	pk.FixedHeader.Remaining = n
	if cap(rc.buf) < n {
		rc.buf = make([]byte, n)
	}
	b := rc.buf[:n]
	if _, err := io.ReadFull(rc.r, b); err != nil {
		return pk, err
	}
	switch pk.FixedHeader.Type {
	case packets.Publish:
		err = pk.PublishDecode(b)
	case packets.Puback:
		err = pk.PubackDecode(b)
	case packets.Connack:
		err = pk.ConnackDecode(b)
	case packets.Suback:
		err = pk.SubackDecode(b)
	case packets.Pingresp:
	default:
		err = fmt.Errorf("unexpected packet type %d", pk.FixedHeader.Type)
	}
	return pk, err
}

// appendPublish encodes a PUBLISH into out (id is ignored at QoS 0).
func appendPublish(out *bytes.Buffer, topic string, payload []byte, qos byte, id uint16) error {
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Publish, Qos: qos},
		ProtocolVersion: rawProtocol,
		TopicName:       topic,
		Payload:         payload,
	}
	if qos > 0 {
		pk.PacketID = id
	}
	return pk.PublishEncode(out)
}

// appendPuback encodes a PUBACK for id into out.
func appendPuback(out *bytes.Buffer, id uint16) error {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, ProtocolVersion: rawProtocol, PacketID: id}
	return pk.PubackEncode(out)
}

// disconnect sends DISCONNECT (best effort) and closes the connection.
func (rc *rawConn) disconnect() {
	var out bytes.Buffer
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ProtocolVersion: rawProtocol}
	if pk.DisconnectEncode(&out) == nil {
		_, _ = rc.c.Write(out.Bytes())
	}
	rc.c.Close()
}

// isClosed reports whether err means the connection was closed under a
// reader (the end of a run, not a failure).
func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF)
}
