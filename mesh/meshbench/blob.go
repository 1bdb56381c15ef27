package meshbench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh"
)

// BlobThroughput fetches a blob from the parent (mesh: streamed from disk,
// written to disk, verified by SHA-256) and the same bytes over a raw
// quic-go stream (read from the same file, written to a file), alternating.
func BlobThroughput(ctx context.Context, o Options) ([]Result, error) {
	e, err := newEnv()
	if err != nil {
		return nil, err
	}
	defer e.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	size, reps := 64<<20, 3
	if o.Quick {
		size, reps = 8<<20, 1
	}
	src := filepath.Join(e.dir, "blob.bin")
	f, err := os.Create(src)
	if err != nil {
		return nil, err
	}
	if _, err := io.CopyN(f, rand.Reader, int64(size)); err != nil {
		return nil, err
	}
	f.Close()

	root, err := e.node(ctx, mesh.Config{Name: "ctl", Role: kernel.RoleController, Listen: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	defer root.Close()
	id, _ := e.identity("raw", kernel.RoleController)
	raw, err := startRaw(id, src)
	if err != nil {
		return nil, err
	}
	defer raw.close()
	rc, err := dialRaw(ctx, raw.ln.Addr().String())
	if err != nil {
		return nil, err
	}
	defer rc.CloseWithError(0, "")

	var meshBest, rawBest time.Duration
	for r := 0; r < reps; r++ {
		// A fresh leaf each time so the blob is not cached.
		leaf, err := e.node(ctx, mesh.Config{Name: kernel.NodeName(fmt.Sprintf("leaf-%d", r)), Role: kernel.RoleLeaf, Parents: []mesh.Parent{{Addr: root.Addr()}}})
		if err != nil {
			return nil, err
		}
		if err := leaf.WaitParent(ctx); err != nil {
			return nil, err
		}
		bf, _ := os.Open(src)
		digest, err := rootPut(root, bf)
		bf.Close()
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		if _, err := leaf.FetchBlob(ctx, digest); err != nil {
			leaf.Close()
			return nil, err
		}
		d := time.Since(t0)
		leaf.Close()
		if meshBest == 0 || d < meshBest {
			meshBest = d
		}
		out, err := os.Create(filepath.Join(e.dir, fmt.Sprintf("raw-%d", r)))
		if err != nil {
			return nil, err
		}
		t0 = time.Now()
		n, err := rawCall(ctx, rc, []byte{'f'}, out)
		d = time.Since(t0)
		out.Close()
		if err != nil || n != int64(size) {
			return nil, fmt.Errorf("raw blob: %d bytes, %v", n, err)
		}
		if rawBest == 0 || d < rawBest {
			rawBest = d
		}
	}
	mbps := func(d time.Duration) float64 { return float64(size) / (1 << 20) / d.Seconds() }
	return []Result{{Name: "blob throughput", Value: mbps(meshBest), Unit: "MiB/s", Baseline: mbps(rawBest), Target: ">= 0.8x",
		Note: fmt.Sprintf("%d MiB, best of %d, disk to disk, mesh includes sha256 verify", size>>20, reps)}}, nil
}

// rootPut stores a blob in the root's store (the controller's upload path).
func rootPut(root *mesh.Node, r io.Reader) (string, error) {
	return root.Blobs().Put(r)
}
