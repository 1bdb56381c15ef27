package devbench

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// FuzzRawRead feeds arbitrary bytes to the load generator's packet reader:
// it returns packets or an error, never panics, and never allocates for a
// length beyond maxRawPacket.
func FuzzRawRead(f *testing.F) {
	var pub bytes.Buffer
	if err := appendPublish(&pub, "processed/s1/temperature", []byte("42 21.50 ok"), 1, 7); err != nil {
		f.Fatal(err)
	}
	f.Add(pub.Bytes())
	f.Add([]byte{0x20, 0x02, 0x00, 0x00})       // CONNACK
	f.Add([]byte{0x90, 0x03, 0x00, 0x01, 0x00}) // SUBACK
	f.Add([]byte{0x40, 0x02, 0x00, 0x07})       // PUBACK
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0x7f}) // huge length
	f.Add([]byte{0x32, 0x03, 0x00, 0x05, 0x61}) // topic longer than the packet
	f.Fuzz(func(t *testing.T, data []byte) {
		rc := &rawConn{r: bufio.NewReader(bytes.NewReader(data))}
		for range 64 {
			pk, err := rc.read()
			if err != nil {
				return
			}
			if pk.FixedHeader.Type == packets.Publish && len(pk.Payload) > maxRawPacket {
				t.Fatalf("payload of %d bytes", len(pk.Payload))
			}
		}
	})
}

// A publish encoded by appendPublish reads back the same.
func TestRawPublishRoundTrip(t *testing.T) {
	var out bytes.Buffer
	if err := appendPublish(&out, "processed/s1/temperature", []byte("42 21.50 ok"), 1, 7); err != nil {
		t.Fatal(err)
	}
	if err := appendPuback(&out, 7); err != nil {
		t.Fatal(err)
	}
	rc := &rawConn{r: bufio.NewReader(&out)}
	pk, err := rc.read()
	if err != nil || pk.TopicName != "processed/s1/temperature" || string(pk.Payload) != "42 21.50 ok" || pk.PacketID != 7 || pk.FixedHeader.Qos != 1 {
		t.Fatalf("%+v %v", pk, err)
	}
	pk, err = rc.read()
	if err != nil || pk.FixedHeader.Type != packets.Puback || pk.PacketID != 7 {
		t.Fatalf("%+v %v", pk, err)
	}
}
