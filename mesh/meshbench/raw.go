package meshbench

import (
	"context"
	"crypto/tls"
	"io"
	"os"

	"github.com/quic-go/quic-go"

	"github.com/canopy-fleet/canopy/mesh/identity"
)

// rawServer is the baseline: plain quic-go streams with no mesh framing,
// encoding, routing or verification. A stream that starts with 'e' is
// echoed; one that starts with 'f' gets the file's bytes.
type rawServer struct {
	ln   *quic.Listener
	file string
}

func startRaw(id *identity.Node, file string) (*rawServer, error) {
	cert := id.TLSCertificate()
	ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"raw"}, MinVersion: tls.VersionTLS13}, &quic.Config{})
	if err != nil {
		return nil, err
	}
	s := &rawServer{ln: ln, file: file}
	go s.serve()
	return s, nil
}

func (s *rawServer) serve() {
	for {
		c, err := s.ln.Accept(context.Background())
		if err != nil {
			return
		}
		go func() {
			for {
				st, err := c.AcceptStream(context.Background())
				if err != nil {
					return
				}
				go s.handle(st)
			}
		}()
	}
}

func (s *rawServer) handle(st *quic.Stream) {
	b, err := io.ReadAll(st)
	if err != nil || len(b) == 0 {
		st.CancelWrite(1)
		return
	}
	switch b[0] {
	case 'e':
		st.Write(b[1:])
	case 'f':
		if f, err := os.Open(s.file); err == nil {
			io.Copy(st, f)
			f.Close()
		}
	}
	st.Close()
}

func (s *rawServer) close() { s.ln.Close() }

func dialRaw(ctx context.Context, addr string) (*quic.Conn, error) {
	return quic.DialAddr(ctx, addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"raw"}, MinVersion: tls.VersionTLS13}, &quic.Config{})
}

// rawCall sends one request on a fresh stream and reads the whole reply.
func rawCall(ctx context.Context, c *quic.Conn, req []byte, w io.Writer) (int64, error) {
	st, err := c.OpenStreamSync(ctx)
	if err != nil {
		return 0, err
	}
	if _, err := st.Write(req); err != nil {
		return 0, err
	}
	st.Close()
	return io.Copy(w, st)
}
