package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// clientConfig is the file `canopy server` (and `canopy up`) writes so that
// client commands work with no flags: $CANOPY_CONFIG, by default
// ~/.canopy/config.yaml, mode 0600 (it holds a token).
type clientConfig struct {
	// Server is the API's base URL, e.g. https://127.0.0.1:7070.
	Server string `yaml:"server"`
	// Token is an API bearer token.
	Token string `yaml:"token"`
	// CAHash pins the cluster CA ("sha256:HEX", as agents' --ca-hash).
	CAHash string `yaml:"caHash,omitempty"`
	// CACert is the cluster CA certificate (PEM); the API's certificate
	// is issued from it.
	CACert string `yaml:"caCert,omitempty"`
}

// clientConfigPath is $CANOPY_CONFIG, else ~/.canopy/config.yaml.
func clientConfigPath() (string, error) {
	if p := os.Getenv("CANOPY_CONFIG"); p != "" {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("client config: no home directory (set CANOPY_CONFIG): %w", err)
	}
	return filepath.Join(home, ".canopy", "config.yaml"), nil
}

// loadClientConfig reads the file at path; a missing file is an empty
// config.
func loadClientConfig(path string) (*clientConfig, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &clientConfig{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("client config: %w", err)
	}
	var c clientConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("client config %s: %s", path, oneLineErr(err))
	}
	return &c, nil
}

// save writes the config to path with mode 0600.
func (c *clientConfig) save(path string) error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b, 0o600)
}

// clientFlags are the connection flags of every client command.
type clientFlags struct {
	server, token string
}

func (f *clientFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.server, "server", "", "API URL (default: $CANOPY_SERVER, then the client config file)")
	fs.StringVar(&f.token, "token", "", "API token (default: $CANOPY_TOKEN, then the client config file)")
}

// client resolves the server and credentials — flags, then CANOPY_SERVER
// and CANOPY_TOKEN, then the config file — and returns an API client.
func (f *clientFlags) client() (*apiClient, error) {
	path, err := clientConfigPath()
	if err != nil {
		return nil, err
	}
	file, err := loadClientConfig(path)
	if err != nil {
		return nil, err
	}
	pick := func(flag, env, fromFile string) string {
		if flag != "" {
			return flag
		}
		if v := os.Getenv(env); v != "" {
			return v
		}
		return fromFile
	}
	server := pick(f.server, "CANOPY_SERVER", file.Server)
	if server == "" {
		return nil, usageError{fmt.Errorf("no server: pass --server, set CANOPY_SERVER, or run canopy server (it writes %s)", path)}
	}
	// The file's token is for the file's server only: another server
	// (named by flag or environment) must come with a token of its own.
	fileToken := file.Token
	if differentServer(server, file.Server) {
		fileToken = ""
	}
	token := pick(f.token, "CANOPY_TOKEN", fileToken)
	if token == "" {
		if file.Token != "" && fileToken == "" {
			return nil, usageError{fmt.Errorf("no API token for %s: the token in %s is for %s; pass --token or set CANOPY_TOKEN", server, path, file.Server)}
		}
		return nil, usageError{fmt.Errorf("no API token: pass --token, set CANOPY_TOKEN, or run canopy server (it writes %s)", path)}
	}
	server = withScheme(server)
	base, err := url.Parse(server)
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") {
		return nil, usageError{fmt.Errorf("server %q: want a URL like https://HOST:7070", server)}
	}
	if base.Scheme == "http" && !isLoopbackHost(base.Hostname()) {
		return nil, usageError{fmt.Errorf("server %q: http:// would send the API token in clear text; use https:// (the API serves HTTPS)", server)}
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if file.CACert != "" && !roots.AppendCertsFromPEM([]byte(file.CACert)) {
		return nil, fmt.Errorf("client config %s: caCert holds no PEM certificate", path)
	}
	return &apiClient{
		base:  base,
		token: token,
		http: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}},
		},
	}, nil
}

// withScheme adds https:// to a server given as HOST:PORT.
func withScheme(server string) string {
	if !strings.Contains(server, "://") {
		return "https://" + server
	}
	return server
}

// differentServer reports whether the server URLs a and b differ (scheme
// added, trailing slash and case of scheme and host ignored).
func differentServer(a, b string) bool {
	norm := func(s string) string {
		return strings.ToLower(strings.TrimRight(withScheme(s), "/"))
	}
	return norm(a) != norm(b)
}

// isLoopbackHost reports whether host (no port) names this machine only.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// apiClient calls the controller's HTTP API.
type apiClient struct {
	base  *url.URL
	token string
	http  *http.Client
}

// do sends body (JSON, when not nil) and decodes a 2xx answer into out.
// An error answer becomes a one-line error with the server's message.
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := c.base.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return fmt.Errorf("server %s: its certificate is not from a CA this client knows: copy the client config that canopy server wrote (it holds the cluster CA) and point CANOPY_CONFIG at it", c.base.Host)
	}
	if err != nil {
		return fmt.Errorf("server %s: %s", c.base.Host, oneLineErr(unwrapURLError(err)))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("server %s: %w", c.base.Host, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error, Field string }
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			return fmt.Errorf("server %s: %s", c.base.Host, resp.Status)
		}
		if e.Field != "" {
			return fmt.Errorf("server refused: %s: %s", e.Field, e.Error)
		}
		return fmt.Errorf("server refused: %s", e.Error)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("server %s: bad answer: %w", c.base.Host, err)
	}
	return nil
}

// unwrapURLError drops url.Error's "Post \"https://...\":" prefix; the
// caller names the server.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// oneLineErr is err's message up to its first line break.
func oneLineErr(err error) string {
	s := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
