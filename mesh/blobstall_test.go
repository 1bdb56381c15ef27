package mesh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/link"
)

// A child (over real QUIC) opens more blob downloads than its link may
// have served at once and never reads them. The parent serves at most
// MaxBlobServesPerLink at a time, cuts each stalled one after
// BlobStallTimeout (the stream is reset, its file and buffer released),
// refuses or queues the rest, and meanwhile serves another child's
// download in full. Afterwards the same child downloads normally.
func TestBlobServeStallQUIC(t *testing.T) {
	base := fastTimers
	// The raw child below never beats: keep it linked for the whole test.
	base.HeartbeatInterval, base.LostAfter = 200*time.Millisecond, time.Hour
	base.RequestTimeout = 5 * time.Second
	base.BlobStallTimeout = time.Second
	base.MaxBlobServesPerLink = 4
	ca := newTestCA(t)
	tr := newTree(t, func(n kernel.NodeName, r kernel.Role) link.Network { return ca.network(t, n, r) }, base)
	ctl := tr.start("ctl", kernel.RoleController, "127.0.0.1:0")
	good := tr.start("good", kernel.RoleLeaf, "", "ctl")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := good.WaitParent(ctx); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 4<<20) // far beyond QUIC's initial flow-control windows
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	digest, err := ctl.Blobs().Put(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}

	hog, err := ca.network(t, "hog", kernel.RoleLeaf).Dial(ctx, ctl.Addr(), "ctl")
	if err != nil {
		t.Fatal(err)
	}
	defer hog.Close()
	if typ, _, err := rawCall(t, hog, encode(tHello, hello{Version: ProtocolVersion})); err != nil || typ != tHelloAck {
		t.Fatalf("hello: %d %v", typ, err)
	}
	go answerControl(hog)
	const downloads = 8
	var streams []link.Stream
	for i := 0; i < downloads; i++ {
		s, err := hog.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write(encode(tBlobGet, blobGet{Digest: digest})); err != nil {
			t.Fatal(err)
		}
		s.CloseWrite()
		streams = append(streams, s) // never read
	}
	st := ctl.Stats()
	eventually(t, "stalled serves started", func() bool { return st.BlobServesActive.Load() > 0 })
	if a := st.BlobServesActive.Load(); a > int64(base.MaxBlobServesPerLink) {
		t.Errorf("%d blob serves at once on one link, want at most %d", a, base.MaxBlobServesPerLink)
	}

	// Another child's download is served in full meanwhile.
	p, err := good.FetchBlob(ctx, digest)
	if err != nil {
		t.Fatalf("download beside the stalled ones: %v", err)
	}
	if b, err := readFile(p); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("downloaded copy differs: %v", err)
	}

	defer func() {
		t.Logf("active %d stalled %d busy %d served %d", st.BlobServesActive.Load(), st.BlobServesStalled.Load(), st.BlobServesBusy.Load(), st.BlobBytesServed.Load())
	}()
	eventually(t, "every stalled serve ended and released", func() bool {
		return st.BlobServesActive.Load() == 0 && st.BlobServesStalled.Load()+st.BlobServesBusy.Load() >= downloads
	})
	for i, s := range streams {
		s.SetDeadline(time.Now().Add(10 * time.Second))
		typ, b, err := frame.Read(s, 1<<20)
		if err != nil {
			continue // reset before the first frame was read
		}
		if typ == tError {
			var e errorMsg
			if frame.Unmarshal(b, &e) == nil && e.Code == CodeBusy {
				continue
			}
			t.Errorf("download %d: error reply %q", i, b)
			continue
		}
		got, err := io.Copy(io.Discard, s)
		if err == nil {
			t.Errorf("download %d: stream ended cleanly after %d bytes, want it cut", i, got)
		}
	}

	// The link's slots are free again: a normal download on it works.
	s, err := hog.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.SetDeadline(time.Now().Add(20 * time.Second))
	s.Write(encode(tBlobGet, blobGet{Digest: digest}))
	s.CloseWrite()
	if typ, _, err := frame.Read(s, 1<<20); err != nil || typ != tBlobInfo {
		t.Fatalf("blob info: %d %v", typ, err)
	}
	h := sha256.New()
	if k, err := io.Copy(h, s); err != nil || k != int64(len(data)) || !bytes.Equal(h.Sum(nil), sha256Of(data)) {
		t.Fatalf("normal download after the stall: %d bytes, %v", k, err)
	}
}

func sha256Of(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// answerControl acknowledges every frame the parent sends on c (siblings,
// interest), as a child does, until c ends.
func answerControl(c link.Conn) {
	for {
		s, err := c.AcceptStream(context.Background())
		if err != nil {
			return
		}
		s.SetDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := frame.Read(s, 1<<20); err == nil {
			frame.Write(s, tOK, nil)
		}
		s.CloseWrite()
	}
}
