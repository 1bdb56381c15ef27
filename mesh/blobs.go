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
		if err == nil || errors.As(err, &re) || ctx.Err() != nil {
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
	got, err := io.CopyBuffer(io.MultiWriter(f, sum), io.LimitReader(s, want), make([]byte, blobChunk))
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
// parent first when it is not cached here.
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
	guard.Stop() // a blob takes as long as it takes; node shutdown still aborts it
	if !n.cfg.Blobs.Has(g.Digest) {
		ctx, cancel := context.WithTimeout(n.ctx, 10*n.cfg.RequestTimeout)
		_, err := n.FetchBlob(ctx, g.Digest)
		cancel()
		if err != nil {
			replyError(s, CodeNotFound, "%s: %v", g.Digest, err)
			return
		}
	}
	f, size, err := n.cfg.Blobs.Open(g.Digest)
	if err != nil {
		replyError(s, CodeNotFound, "%v", err)
		return
	}
	defer f.Close()
	if g.Offset < 0 || g.Offset > size {
		replyError(s, CodeBadRequest, "offset %d outside blob of %d bytes", g.Offset, size)
		return
	}
	n.counter.BlobServes.Add(1)
	if err := frame.WriteMsg(s, tBlobInfo, blobInfo{Size: size}); err != nil {
		s.Abort()
		return
	}
	stop := context.AfterFunc(n.ctx, s.Abort)
	defer stop()
	if _, err := f.Seek(g.Offset, io.SeekStart); err != nil {
		s.Abort()
		return
	}
	sent, err := io.CopyBuffer(s, f, make([]byte, blobChunk))
	n.counter.BlobBytesServed.Add(sent)
	if err != nil {
		s.Abort()
		return
	}
	s.CloseWrite()
}
