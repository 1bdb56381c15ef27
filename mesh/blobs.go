package mesh

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/canopy-fleet/canopy/mesh/backoff"
	"github.com/canopy-fleet/canopy/mesh/blobstore"
	"github.com/canopy-fleet/canopy/mesh/frame"
	"github.com/canopy-fleet/canopy/mesh/link"
)

// blobChunk is the size of the copy buffer when streaming blobs.
const blobChunk = 256 << 10

// blobBufs keeps the copy buffers of blob transfers between uses.
var blobBufs = sync.Pool{New: func() any { b := make([]byte, blobChunk); return &b }}

// errStalled is why a blob serve is cut: the child stopped reading.
var errStalled = errors.New("child stopped reading")

// CodeBusy refuses a blob download because the link has
// MaxBlobServesPerLink running; the fetcher retries.
const CodeBusy = "busy"

// ErrNoBlobs is returned when the node has no blob store configured.
var ErrNoBlobs = errors.New("mesh: no blob store configured")

// blobState makes concurrent fetches of one digest share one download.
type blobState struct {
	mu       sync.Mutex
	inflight map[string]*blobCall
}

type blobCall struct {
	done chan struct{}
	err  error
}

func (b *blobState) init() { b.inflight = map[string]*blobCall{} }

// Blobs is the node's blob store (nil when none is configured); the root
// puts uploaded modules here.
func (n *Node) Blobs() *blobstore.Store { return n.cfg.Blobs }

// FetchBlob makes the blob available locally and returns its path. It asks
// the parent, which serves it from its cache or fetches it from its own
// parent first, so each gateway downloads a blob once for its subtree.
// Downloads resume where an interrupted one stopped and are verified
// against the digest before use.
func (n *Node) FetchBlob(ctx context.Context, digest string) (string, error) {
	st := n.cfg.Blobs
	if st == nil {
		return "", ErrNoBlobs
	}
	if _, err := blobstore.ParseDigest(digest); err != nil {
		return "", err
	}
	if st.Has(digest) {
		return st.Path(digest)
	}
	n.blobs.mu.Lock()
	c := n.blobs.inflight[digest]
	if c == nil && st.Has(digest) { // a download finished since the check above
		n.blobs.mu.Unlock()
		return st.Path(digest)
	}
	if c == nil {
		c = &blobCall{done: make(chan struct{})}
		n.blobs.inflight[digest] = c
		n.blobs.mu.Unlock()
		c.err = n.download(ctx, digest)
		n.blobs.mu.Lock()
		delete(n.blobs.inflight, digest)
		close(c.done)
	}
	n.blobs.mu.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if c.err != nil {
		return "", c.err
	}
	return st.Path(digest)
}

// download fetches a blob from the parent, resuming after interruptions
// (a lost link, a failover) from the bytes already kept, up to
// blobAttempts times or until ctx is done.
func (n *Node) download(ctx context.Context, digest string) error {
	bo := backoff.Backoff{Min: n.cfg.ReconnectMin, Max: n.cfg.ReconnectMax, Clock: n.cfg.Clock}
	if n.IsRoot() {
		return &RemoteError{Code: CodeNotFound, Msg: fmt.Sprintf("%s: not in the root's store", digest)}
	}
	ctx, cancel := context.WithCancel(ctx) // stops when the node closes too
	defer cancel()
	if n.ctx != nil {
		defer context.AfterFunc(n.ctx, cancel)()
	}
	var err error
	for attempt := 0; attempt < blobAttempts; attempt++ {
		if err = n.WaitParent(ctx); err != nil {
			return fmt.Errorf("fetch %s: %w", digest, err)
		}
		err = n.downloadOnce(ctx, digest)
		var re *RemoteError
		if err == nil || (errors.As(err, &re) && re.Code != CodeBusy) || ctx.Err() != nil {
			return err // done, or the tree says no: retrying will not help
		}
		n.log.Info("blob fetch interrupted, resuming", "digest", digest, "err", err)
		if bo.Wait(ctx) != nil {
			break
		}
	}
	return err
}

const blobAttempts = 5

func (n *Node) downloadOnce(ctx context.Context, digest string) error {
	n.mu.Lock()
	p := n.parent
	n.mu.Unlock()
	if p == nil {
		return fmt.Errorf("fetch %s: %w", digest, ErrNoParent)
	}
	f, off, err := n.cfg.Blobs.Partial(digest)
	if err != nil {
		return err
	}
	defer f.Close()
	// Hash while receiving; a resumed download hashes what it kept first.
	sum := sha256.New()
	if off > 0 {
		if _, err := io.Copy(sum, io.NewSectionReader(f, 0, off)); err != nil {
			return fmt.Errorf("fetch %s: rehash partial: %w", digest, err)
		}
	}
	n.counter.BlobFetches.Add(1)
	s, stop, err := p.open(ctx, tBlobGet, blobGet{Digest: digest, Offset: off})
	if err != nil {
		return fmt.Errorf("fetch %s: %w", digest, err)
	}
	defer stop()
	_, b, err := n.readReply(s)
	if err != nil {
		s.Abort()
		return fmt.Errorf("fetch %s: %w", digest, err)
	}
	var info blobInfo
	if err := frame.Unmarshal(b, &info); err != nil {
		s.Abort()
		return fmt.Errorf("fetch %s: %w", digest, err)
	}
	want := info.Size - off
	buf := blobBufs.Get().(*[]byte)
	got, err := io.CopyBuffer(io.MultiWriter(f, sum), io.LimitReader(s, want), *buf)
	blobBufs.Put(buf)
	n.counter.BlobBytesFetched.Add(got)
	if err != nil || got != want {
		s.Abort()
		return fmt.Errorf("fetch %s: got %d of %d bytes (kept for resume): %v", digest, off+got, info.Size, err)
	}
	if err := expectEOF(s); err != nil {
		s.Abort()
		return fmt.Errorf("fetch %s: %w", digest, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return n.cfg.Blobs.CommitHashed(digest, sum.Sum(nil))
}

// onBlobGet serves a blob from this node's store, fetching it from the
// parent first when it is not cached here. A link has at most
// MaxBlobServesPerLink served at once; a download beyond them waits up to
// RequestTimeout for a slot and is then refused as busy. A serve whose
// child stops reading for BlobStallTimeout is cut.
func (n *Node) onBlobGet(l *peerLink, p []byte, s link.Stream, guard *time.Timer) {
	var g blobGet
	if !n.decode(l, s, p, &g) {
		return
	}
	if n.cfg.Blobs == nil {
		replyError(s, CodeNotFound, "%s: no blob store here", g.Digest)
		return
	}
	if _, err := blobstore.ParseDigest(g.Digest); err != nil {
		replyError(s, CodeBadRequest, "%v", err)
		return
	}
	// A blob takes as long as it takes: from here the wait for a slot, the
	// fetch from the parent and every write are bounded on their own, and
	// node shutdown aborts the stream.
	guard.Stop()
	stop := context.AfterFunc(n.ctx, s.Abort)
	defer stop()
	release, ok := l.blobSlot(n.cfg.RequestTimeout)
	if !ok {
		n.counter.BlobServesBusy.Add(1)
		s.SetDeadline(time.Now().Add(n.cfg.RequestTimeout))
		replyError(s, CodeBusy, "%d blob downloads already being served on this link (MaxBlobServesPerLink); retry later", n.cfg.MaxBlobServesPerLink)
		return
	}
	defer release()
	n.counter.BlobServesActive.Add(1)
	defer n.counter.BlobServesActive.Add(-1)
	if !n.cfg.Blobs.Has(g.Digest) {
		ctx, cancel := context.WithTimeout(n.ctx, 10*n.cfg.RequestTimeout)
		_, err := n.FetchBlob(ctx, g.Digest)
		cancel()
		if err != nil {
			s.SetDeadline(time.Now().Add(n.cfg.RequestTimeout))
			replyError(s, CodeNotFound, "%s: %v", g.Digest, err)
			return
		}
	}
	f, size, err := n.cfg.Blobs.Open(g.Digest)
	if err != nil {
		s.SetDeadline(time.Now().Add(n.cfg.RequestTimeout))
		replyError(s, CodeNotFound, "%v", err)
		return
	}
	defer f.Close()
	if g.Offset < 0 || g.Offset > size {
		s.SetDeadline(time.Now().Add(n.cfg.RequestTimeout))
		replyError(s, CodeBadRequest, "offset %d outside blob of %d bytes", g.Offset, size)
		return
	}
	n.counter.BlobServes.Add(1)
	if _, err := f.Seek(g.Offset, io.SeekStart); err != nil {
		s.Abort()
		return
	}
	w := movingWriter{s: s, stall: n.cfg.BlobStallTimeout}
	err = frame.WriteMsg(w, tBlobInfo, blobInfo{Size: size})
	var sent int64
	if err == nil {
		buf := blobBufs.Get().(*[]byte)
		sent, err = copyBlob(w, f, *buf)
		blobBufs.Put(buf)
	}
	n.counter.BlobBytesServed.Add(sent)
	if err != nil {
		if errors.Is(err, errStalled) {
			n.counter.BlobServesStalled.Add(1)
			n.log.Warn("blob download cut", "peer", string(l.peer.Name), "digest", g.Digest, "sent", sent, "err", err)
		} else {
			n.log.Debug("blob download failed", "peer", string(l.peer.Name), "digest", g.Digest, "sent", sent, "err", err)
		}
		s.Abort()
		return
	}
	s.CloseWrite()
}

// copyBlob copies f to w to its end through buf and returns the bytes
// written. (io.CopyBuffer would not use buf: *os.File copies through its
// own 32 KiB buffer.)
func copyBlob(w io.Writer, f io.Reader, buf []byte) (int64, error) {
	var total int64
	for {
		k, rerr := f.Read(buf)
		if k > 0 {
			m, err := w.Write(buf[:k])
			total += int64(m)
			if err != nil {
				return total, err
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// movingWriter writes to a stream, giving each write stall to move: a
// reader that takes the data slowly is served to the end, one that takes
// nothing for stall gets errStalled.
type movingWriter struct {
	s     link.Stream
	stall time.Duration
}

func (w movingWriter) Write(p []byte) (int, error) { return writeMoving(w.s, p, w.stall) }

// writeMoving writes p to s, giving each write stall to move: a reader
// that takes the data slowly is served to the end, one that takes
// nothing for stall gets errStalled.
func writeMoving(s link.Stream, p []byte, stall time.Duration) (int, error) {
	done := 0
	for done < len(p) {
		s.SetDeadline(time.Now().Add(stall))
		k, err := s.Write(p[done:])
		done += k
		if err == nil {
			continue
		}
		var te interface{ Timeout() bool }
		if !errors.As(err, &te) || !te.Timeout() {
			return done, err
		}
		if k == 0 {
			return done, fmt.Errorf("%w for %v", errStalled, stall)
		}
	}
	return done, nil
}

// blobSlot takes one of the link's MaxBlobServesPerLink blob serve slots,
// waiting up to wait for one; release gives it back.
func (l *peerLink) blobSlot(wait time.Duration) (release func(), ok bool) {
	l.mu.Lock()
	if l.blobSlots == nil {
		l.blobSlots = make(chan struct{}, l.n.cfg.MaxBlobServesPerLink)
	}
	slots := l.blobSlots
	l.mu.Unlock()
	release = func() { <-slots }
	select {
	case slots <- struct{}{}:
		return release, true
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return release, true
	case <-t.C:
	case <-l.conn.Done():
	case <-l.n.ctx.Done():
	}
	return nil, false
}
