package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/kernel/api"
	"github.com/canopy-fleet/canopy/mesh"
	"github.com/canopy-fleet/canopy/mesh/blobstore"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/ledger"
	"github.com/canopy-fleet/canopy/mesh/meshmetrics"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// serverOptions are `canopy server`'s flags.
type serverOptions struct {
	data, listen, http, name, advertise, logLevel string
	timers                                        linkTimers
}

func newServerCmd() *cobra.Command {
	var o serverOptions
	cmd := &cobra.Command{
		Use:   "server --data DIR [--listen ADDR] [--http ADDR] [--advertise HOST] [--name NAME]",
		Short: "Run a controller: the cluster CA, the root of the mesh and the HTTP API",
		Long: `Run a controller. The first start creates the cluster CA and the controller's
identity in --data; later starts with the same --data keep them, and the
tokens. Devices link to the mesh on --listen (UDP); the HTTP API is served over
HTTPS on --http, with a certificate from the cluster CA. The server writes the
client config ($CANOPY_CONFIG, default ~/.canopy/config.yaml) with the API's
URL, an admin token and the CA, so that 'canopy token create' and the other
client commands work with no flags. Ctrl-C stops it.`,
		Example: `  canopy server --data /var/lib/canopy
  canopy server --data ./ctl --listen :7443 --http 0.0.0.0:7070`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return runServer(cmd.Context(), cmd, &o) },
	}
	fs := cmd.Flags()
	fs.StringVar(&o.data, "data", defaultDataDir(), "directory for the CA, identity, tokens and blobs")
	fs.StringVar(&o.listen, "listen", ":7443", "mesh address (UDP) devices link to")
	fs.StringVar(&o.http, "http", "127.0.0.1:7070", "HTTPS API address (TCP)")
	fs.StringVar(&o.advertise, "advertise", "", "mesh address HOST[:PORT] join commands name (default: the --listen host, else the host clients reach the API by, else this machine's outbound address)")
	fs.StringVar(&o.name, "name", "", "this controller's node name (default: the host name); fixed at the first start")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	o.timers.addFlags(fs)
	return cmd
}

// controller is a running controller's parts.
type controller struct {
	log      *slog.Logger
	dir      string
	ca       *identity.CA
	auth     *identity.Authority
	tokens   *tokenStore
	nodes    *nodeRegistry
	net      *quicnet.Network
	node     *mesh.Node
	ledger   *ledger.Ledger
	identity *identity.Node
	// advertise is --advertise: the mesh address join commands name.
	advertise string
	events    *meshmetrics.Events // link events, for /metrics
}

func runServer(ctx context.Context, cmd *cobra.Command, o *serverOptions) error {
	log, err := newLogger(cmd.ErrOrStderr(), o.logLevel)
	if err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return usageError{fmt.Errorf("--listen %q: want HOST:PORT or :PORT", o.listen)}
	}
	if _, _, err := net.SplitHostPort(o.http); err != nil {
		return usageError{fmt.Errorf("--http %q: want HOST:PORT or :PORT", o.http)}
	}
	if err := validAdvertise(o.advertise); err != nil {
		return usageError{err}
	}
	if err := o.timers.check(); err != nil {
		return usageError{err}
	}
	name, err := nodeName(o.name)
	if err != nil {
		return err
	}
	release, err := claimDataDir(o.data, "controller")
	if err != nil {
		return err
	}
	defer release()
	log.Debug("gc target for a parent", "gogc", mesh.TuneGCForParent())
	c, err := startController(ctx, o, name, log)
	if err != nil {
		return err
	}
	defer c.close()

	metrics, err := serverMetrics(c.node, c.events)
	if err != nil {
		return err
	}
	handler, err := api.New(api.Config{
		Auth: c.tokens, Tokens: c, Nodes: c.nodes, NodeDeleter: c, Metrics: metrics, Logger: log,
		Ready: func(context.Context) error {
			if c.node.Addr() == "" {
				return errors.New("mesh not listening")
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	ln, err := listenAPI("tcp", o.http)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	certs := &apiCerts{ca: c.ca, caDir: filepath.Join(o.data, "ca"), listen: ln.Addr(), nodeName: string(c.identity.Name), now: time.Now}
	if _, err := certs.get(nil); err != nil { // fail at start, not at the first client
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         &tls.Config{GetCertificate: certs.get, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()

	url := "https://" + apiHostPort(ln.Addr())
	next := "next, 'canopy token create --role agent'"
	cfgPath, err := c.writeClientConfig(url)
	if err != nil {
		// A controller without a home directory (a system service) still
		// runs; its operator makes tokens with --server and --token.
		log.Warn("client config not written", "err", err)
		cfgPath, next = "not written", err.Error()
	} else if def, _ := clientConfigPath(); cfgPath != def {
		next = "next, 'CANOPY_CONFIG=" + cfgPath + " canopy token create --role agent' (the default config is another cluster's)"
	}
	log.Info("controller running", "node", string(c.identity.Name), "mesh", c.node.Addr(), "api", url,
		"ca_hash", c.ca.Hash(), "client_config", cfgPath)
	fmt.Fprintf(cmd.OutOrStdout(), "controller %s: mesh %s, API %s\nCA hash %s\nclient config %s: %s\n",
		c.identity.Name, c.node.Addr(), url, c.ca.Hash(), cfgPath, next)

	// The renewal loop ends with the command, whichever way it ends (an
	// API that stopped serving too, not only ctx).
	renewCtx, stopRenew := context.WithCancel(ctx)
	renewDone := make(chan struct{})
	go func() { defer close(renewDone); c.renewSelfLoop(renewCtx) }()
	defer func() { stopRenew(); <-renewDone }()
	select {
	case <-ctx.Done():
		log.Info("controller stopping")
		return nil
	case err := <-served:
		return fmt.Errorf("api: %w", err)
	}
}

// listenAPI binds the API's address; tests replace it.
var listenAPI = net.Listen

// startController opens the CA, identity, tokens and node list under
// o.data and starts the root of the mesh.
func startController(ctx context.Context, o *serverOptions, name kernel.NodeName, log *slog.Logger) (_ *controller, err error) {
	c := &controller{log: log, dir: o.data, advertise: o.advertise, events: meshmetrics.NewEvents()}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	if c.ca, err = identity.LoadOrCreateCA(filepath.Join(o.data, "ca"), nil); err != nil {
		return nil, err
	}
	if c.tokens, err = openTokenStore(filepath.Join(o.data, "tokens.json"), nil); err != nil {
		return nil, err
	}
	// Admit's and OnJoin's c.nodes is opened below, before the network
	// takes joins.
	c.auth = &identity.Authority{CA: c.ca, Tokens: c.tokens, Admit: c.admit, OnJoin: c.joined,
		OnIssue: func(cert *x509.Certificate) error { return c.nodes.issued(cert) }}
	if c.identity, err = c.auth.Bootstrap(filepath.Join(o.data, "identity"), name); err != nil {
		return nil, fmt.Errorf("controller identity: %w", err)
	}
	if o.name != "" && c.identity.Name != name {
		return nil, fmt.Errorf("data dir %s holds controller %q, not %q (the name is fixed at the first start)", o.data, c.identity.Name, name)
	}
	if c.identity.NeedsRenewal(time.Now()) {
		if err := c.renewSelf(); err != nil {
			return nil, err
		}
	}
	if c.nodes, err = openNodeRegistry(filepath.Join(o.data, "nodes.json"), c.identity.Name); err != nil {
		return nil, err
	}
	c.nodes.log = log.With("component", "nodes")
	if c.ledger, err = ledger.Open(filepath.Join(o.data, "outbox-ledger")); err != nil {
		return nil, err
	}
	blobs, err := blobstore.Open(filepath.Join(o.data, "blobs"))
	if err != nil {
		return nil, err
	}
	qc := quicnet.Config{Identity: c.identity, Revoked: c.ca.IsRevoked, Logger: log.With("component", "quicnet"), Join: c.join}
	cfg := mesh.Config{
		Name: c.identity.Name, Role: kernel.RoleController, Listen: o.listen,
		Blobs: blobs, OutboxLedger: c.ledger, Logger: log, OnEvent: c.events.Record,
	}
	o.timers.applyMesh(&cfg)
	o.timers.applyTransport(&qc)
	if c.net, err = quicnet.New(qc); err != nil {
		return nil, err
	}
	cfg.Network = c.net
	if c.node, err = mesh.New(cfg); err != nil {
		return nil, err
	}
	c.nodes.mesh = c.node
	c.node.ServeIdentity(c.auth) // joins relayed by gateways, renewals and the revocation list
	c.node.Handle(kindStatus, c.nodes.onStatus)
	if err := c.node.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *controller) close() {
	if c.node != nil {
		c.node.Close()
	}
	if c.nodes != nil {
		c.nodes.close() // after the mesh: no status arrives any more
	}
	if c.ledger != nil {
		c.ledger.Close()
	}
}

// join answers a join made directly to the controller (its quicnet
// Join); gateways relay theirs to the same authority through the mesh.
func (c *controller) join(_ context.Context, token string, csr []byte) ([]byte, []byte, error) {
	return c.auth.Join(token, csr)
}

// admit refuses a join for a name that is the controller's or another
// device's (a different key): one name, one device.
func (c *controller) admit(name kernel.NodeName, key string) error {
	return c.nodes.admit(name, key)
}

// joined records a node the authority issued a certificate to.
func (c *controller) joined(name kernel.NodeName, role kernel.Role, key string) {
	if err := c.nodes.joined(name, role, key); err != nil {
		c.log.Warn("node list not saved", "err", err)
	}
	c.log.Info("node joined", "node", string(name), "role", string(role))
}

// CreateToken issues a join or API token (api.TokenIssuer).
func (c *controller) CreateToken(_ context.Context, req api.TokenRequest) (api.Token, error) {
	tok, exp, err := c.tokens.create(req.Role, req.TTL)
	if err != nil {
		return api.Token{}, err
	}
	out := api.Token{Token: tok, Role: req.Role, Expires: exp}
	if req.IsJoin() {
		out.Join = &api.JoinInfo{Addr: advertiseAddr(c.advertise, c.node.Addr(), req.Host), CAHash: c.ca.Hash()}
	}
	c.log.Info("token created", "role", req.Role, "expires", exp)
	return out, nil
}

// renewSelf issues the controller a new certificate from its own CA for
// the same key, saves it and hands it to the network.
func (c *controller) renewSelf() error {
	csr, err := identity.NewCSR(c.identity.Key, c.identity.Name)
	if err != nil {
		return err
	}
	cert, err := c.ca.Sign(csr, kernel.RoleController, c.auth.CertTTL)
	if err != nil {
		return fmt.Errorf("renew controller certificate: %w", err)
	}
	id, err := identity.NewNode(c.identity.Key, cert, c.ca.Cert.Raw)
	if err != nil {
		return err
	}
	if err := id.Save(filepath.Join(c.dir, "identity")); err != nil {
		return err
	}
	c.identity = id
	if c.net != nil {
		c.net.SetIdentity(id)
	}
	return nil
}

// renewSelfLoop renews the controller's certificate when it is due.
func (c *controller) renewSelfLoop(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c.identity.NeedsRenewal(time.Now()) {
			if err := c.renewSelf(); err != nil {
				c.log.Warn("controller certificate not renewed; will retry", "err", err)
			} else {
				c.log.Info("controller certificate renewed", "expires", c.identity.Cert.NotAfter)
			}
		}
	}
}

// apiHostPort is how a local client reaches the API: the bound address,
// with loopback in place of an unspecified host.
func apiHostPort(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host := ta.IP.String()
	if ta.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, fmt.Sprint(ta.Port))
}
