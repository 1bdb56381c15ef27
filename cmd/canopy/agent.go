package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/canopy-fleet/canopy/devices/devmetrics"
	"github.com/canopy-fleet/canopy/devices/outbox"
	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh"
	"github.com/canopy-fleet/canopy/mesh/blobstore"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/meshmetrics"
	"github.com/canopy-fleet/canopy/mesh/quicnet"
)

// agentOptions are `canopy agent`'s flags.
type agentOptions struct {
	join, token, caHash, listen, name, data, labels, logLevel, metrics, advertise, blobCache string
	blobLimit                                                                                int64    // --blob-cache in bytes; 0 for no bound
	joins, alternates                                                                        []string // --join as given; the alternates after the primary
	gateway                                                                                  bool
	joinTimeout                                                                              time.Duration
	timers                                                                                   linkTimers
}

func newAgentCmd() *cobra.Command {
	var o agentOptions
	cmd := &cobra.Command{
		Use:   "agent --join ADDR[,ALT...] --token TOKEN --ca-hash sha256:HEX [--gateway [--advertise HOST[:PORT]]] [--labels k=v,...] --data DIR",
		Short: "Run a device: join the fleet once, then stay linked to its parent",
		Long: `Run a device. The first start makes the node's key in --data (it never leaves
the device), checks the server's CA against --ca-hash, proves the join token,
sends a certificate request and saves the certificate. Later starts with the
same --data reuse that identity: no token is needed, and --join defaults to
the address of the first start. More --join addresses (repeated or
comma-separated) are alternate parents, dialed when the first is lost;
the tree also tells each node alternates (its gateway's sibling gateways
and the gateway's parent), which are saved in --data. With --gateway the
node also accepts children on --listen (the token must be a gateway
token) and gives its parent --advertise (default: the bound address, or
on an unspecified host the address of the interface toward its parent)
for other nodes to fail over to. 'canopy token create' prints the
command to run.`,
		Example: `  canopy agent --join 10.0.0.5:7443 --token abcdef.0123456789abcdef --ca-hash sha256:... --data /var/lib/canopy
  canopy agent --gateway --listen :7443 --join 10.0.0.5:7443 --token ... --ca-hash sha256:... --labels site=plant-1
  canopy agent --join 10.0.1.1:7443,10.0.1.2:7443 --token ... --ca-hash sha256:...`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return runAgent(cmd.Context(), cmd, &o) },
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&o.joins, "join", nil, "parent's mesh address HOST:PORT (a controller or gateway), then any alternate parents (repeat, or separate with commas); saved")
	fs.StringVar(&o.token, "token", "", "join token from 'canopy token create' (first start only)")
	fs.StringVar(&o.caHash, "ca-hash", "", "sha256:HEX pin of the cluster CA (required at the first start)")
	fs.BoolVar(&o.gateway, "gateway", false, "also accept children (needs a gateway token)")
	fs.StringVar(&o.listen, "listen", ":7443", "with --gateway: the mesh address (UDP) children link to")
	fs.StringVar(&o.advertise, "advertise", "", "with --gateway: HOST[:PORT] other nodes dial to fail over here (default: the --listen address, or with no host there the address toward the parent)")
	fs.StringVar(&o.labels, "labels", "", "node labels k=v,... reported to the controller")
	fs.StringVar(&o.name, "name", "", "node name (default: the host name); fixed at the first start")
	fs.StringVar(&o.data, "data", defaultDataDir(), "directory for the node's key, certificate, outbox and blobs")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9464 (default: none)")
	fs.StringVar(&o.blobCache, "blob-cache", "1GiB", "most disk the module cache in --data/blobs may take (least recently used modules go first; 0 for no bound)")
	fs.DurationVar(&o.joinTimeout, "join-timeout", 30*time.Second, "how long the first join may take")
	o.timers.addFlags(fs)
	return cmd
}

// agentState is what an agent keeps besides its identity (agent.json).
type agentState struct {
	Join       string        `json:"join"`                 // the primary parent
	Alternates []string      `json:"alternates,omitempty"` // alternate parents given by hand (--join)
	Learned    []agentParent `json:"learned,omitempty"`    // alternate parents the tree told (agent_parents.go)
}

func runAgent(ctx context.Context, cmd *cobra.Command, o *agentOptions) error {
	log, err := newLogger(cmd.ErrOrStderr(), o.logLevel)
	if err != nil {
		return err
	}
	labels, err := parseLabels(o.labels)
	if err != nil {
		return err
	}
	if err := o.timers.check(); err != nil {
		return usageError{err}
	}
	joins, err := parseJoins(o.joins)
	if err != nil {
		return err
	}
	if len(joins) > 0 {
		o.join, o.alternates = joins[0], joins[1:]
	}
	if o.caHash != "" {
		if err := identity.ValidateCAHash(o.caHash); err != nil {
			return usageError{fmt.Errorf("--ca-hash: %w", err)}
		}
		// Hex in either case is the same pin; CAHash writes lower case.
		o.caHash = strings.ToLower(o.caHash)
	}
	if o.gateway {
		if _, _, err := net.SplitHostPort(o.listen); err != nil {
			return usageError{fmt.Errorf("--listen %q: want HOST:PORT or :PORT", o.listen)}
		}
		if err := validAdvertise(o.advertise); err != nil {
			return usageError{err}
		}
	} else if o.advertise != "" {
		return usageError{errors.New("--advertise is for gateways: add --gateway")}
	}
	if o.joinTimeout <= 0 {
		return usageError{errors.New("--join-timeout must be positive")}
	}
	limit, err := kernel.ParseBytes(o.blobCache)
	if err != nil || limit < 0 {
		return usageError{fmt.Errorf("--blob-cache %q: want a size like 512MiB, 2GiB or 0 for no bound", o.blobCache)}
	}
	o.blobLimit = int64(limit)
	release, err := claimDataDir(o.data, "agent")
	if err != nil {
		return err
	}
	defer release()
	statePath := filepath.Join(o.data, "agent.json")
	state, err := loadAgentState(statePath)
	if err != nil {
		return err
	}
	if o.join == "" {
		o.join, o.alternates = state.Join, state.Alternates
	}
	id, err := agentIdentity(ctx, o, log)
	if err != nil {
		return err
	}
	if o.gateway && id.Role != kernel.RoleGateway {
		return fmt.Errorf("node %s holds a %s certificate: --gateway needs a node that joined with a gateway token (canopy token create --role gateway); run it without --gateway, or join again with a new --data", id.Name, id.Role)
	}
	if !o.gateway && id.Role == kernel.RoleGateway {
		return usageError{fmt.Errorf("node %s is a gateway: start it with --gateway", id.Name)}
	}
	if state.Join != o.join || !slices.Equal(state.Alternates, o.alternates) {
		if state.Join != o.join {
			state.Learned = nil // another place in the tree: another parent tells
		}
		state.Join, state.Alternates = o.join, o.alternates
		if err := writeAgentState(statePath, state); err != nil {
			return err
		}
	}
	saver := &stateSaver{path: statePath, st: state, log: log}
	return runLinkedAgent(ctx, cmd, o, id, labels, saver, log)
}

// agentIdentity returns the identity saved in --data, or joins the fleet
// with the token and the CA pin and saves the result.
func agentIdentity(ctx context.Context, o *agentOptions, log *slog.Logger) (*identity.Node, error) {
	dir := filepath.Join(o.data, "identity")
	id, err := identity.LoadNode(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		// Saved but unreadable (a key open to others, a damaged file):
		// joining again would not help, and the flags of a first start
		// are not what is missing.
		return nil, fmt.Errorf("node identity in %s: %s", dir, oneLineErr(err))
	}
	if err == nil {
		if o.name != "" && string(id.Name) != o.name {
			return nil, fmt.Errorf("data dir %s holds node %q, not %q (the name is fixed at the first start)", o.data, id.Name, o.name)
		}
		if o.caHash != "" && identity.CAHash(id.CA) != o.caHash {
			return nil, fmt.Errorf("node %s belongs to the cluster with CA %s, not --ca-hash %s", id.Name, identity.CAHash(id.CA), o.caHash)
		}
		if o.join == "" {
			return nil, usageError{errors.New("--join is required: no parent address is saved in --data")}
		}
		if time.Now().After(id.Cert.NotAfter) {
			return rejoin(ctx, o, id, dir, log)
		}
		return id, nil
	}
	switch {
	case o.join == "":
		return nil, usageError{errors.New("--join is required at the first start (the parent's mesh address, HOST:7443)")}
	case o.token == "":
		return nil, usageError{errors.New("--token is required at the first start (canopy token create --role agent)")}
	case o.caHash == "":
		return nil, usageError{errors.New("--ca-hash is required at the first start: it pins the cluster CA (canopy token create prints it)")}
	}
	name, err := nodeName(o.name)
	if err != nil {
		return nil, err
	}
	jctx, cancel := context.WithTimeout(ctx, o.joinTimeout)
	defer cancel()
	id, err = quicnet.LoadOrJoin(jctx, dir, quicnet.JoinRequest{Addr: o.join, CAHash: o.caHash, Token: o.token, Name: name, Logger: log})
	if err != nil {
		return nil, joinError(o, err)
	}
	log.Info("joined", "node", string(id.Name), "role", string(id.Role), "via", o.join, "expires", id.Cert.NotAfter)
	return id, nil
}

// rejoin gets a new certificate for a node whose saved one expired (it was
// offline past its renewal): with a new token, same key and name, the CA
// pinned by the one it saved.
func rejoin(ctx context.Context, o *agentOptions, id *identity.Node, dir string, log *slog.Logger) (*identity.Node, error) {
	if o.token == "" {
		return nil, fmt.Errorf("node %s: its certificate expired at %s; start it once with --token (canopy token create --role %s) to join again",
			id.Name, id.Cert.NotAfter.Format(time.RFC3339), tokenRoleOf(id.Role))
	}
	jctx, cancel := context.WithTimeout(ctx, o.joinTimeout)
	defer cancel()
	pin := identity.CAHash(id.CA)
	n, err := quicnet.Join(jctx, quicnet.JoinRequest{Addr: o.join, CAHash: pin, Token: o.token, Name: id.Name, Key: id.Key, Logger: log})
	if err != nil {
		o.caHash = pin
		return nil, joinError(o, err)
	}
	if err := n.Save(dir); err != nil {
		return nil, err
	}
	log.Info("joined again", "node", string(n.Name), "role", string(n.Role), "via", o.join, "expires", n.Cert.NotAfter)
	return n, nil
}

// tokenRoleOf is the token role that gives a node role.
func tokenRoleOf(r kernel.Role) string {
	if r == kernel.RoleGateway {
		return "gateway"
	}
	return "agent"
}

// joinError says in one line why the first join failed.
func joinError(o *agentOptions, err error) error {
	msg := oneLineErr(err)
	switch {
	case errors.Is(err, identity.ErrPinMismatch) || strings.Contains(msg, identity.ErrPinMismatch.Error()):
		return fmt.Errorf("join %s: the server's CA does not match --ca-hash %s (check the hash printed by canopy token create)", o.join, o.caHash)
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "timeout") || strings.Contains(msg, "no recent network activity"):
		return fmt.Errorf("join %s: no answer from the server (is it running, and is UDP %s reachable?)", o.join, o.join)
	}
	return fmt.Errorf("%s", msg)
}

// runLinkedAgent links the node to its parent and runs until ctx ends.
func runLinkedAgent(ctx context.Context, cmd *cobra.Command, o *agentOptions, id *identity.Node, labels map[string]string, saver *stateSaver, log *slog.Logger) error {
	idDir := filepath.Join(o.data, "identity")
	// Kept on disk: restarted while its parent is out of reach, a gateway
	// still refuses the nodes deleted before.
	rev, err := identity.OpenRevocations(filepath.Join(idDir, "revoked"))
	if err != nil {
		return err
	}
	var node *mesh.Node
	qc := quicnet.Config{Identity: id, Revoked: rev.IsRevoked, Logger: log.With("component", "quicnet")}
	o.timers.applyTransport(&qc)
	if o.gateway {
		qc.Join = func(ctx context.Context, token string, csr []byte) ([]byte, []byte, error) {
			return node.RelayJoin(ctx, token, csr)
		}
	}
	nw, err := quicnet.New(qc)
	if err != nil {
		return err
	}
	ob, err := outbox.Open(outbox.Config{Dir: filepath.Join(o.data, "outbox"), Logger: log})
	if err != nil {
		return err
	}
	defer ob.Close()
	blobs, err := blobstore.Open(filepath.Join(o.data, "blobs"))
	if err != nil {
		return err
	}
	blobs.SetLimit(o.blobLimit)
	up := make(chan struct{}, 1)
	events := meshmetrics.NewEvents()
	parents, learned := meshParents(o.join, o.alternates, saver.st)
	cfg := mesh.Config{
		Name: id.Name, Role: id.Role, Network: nw,
		Parents: parents, Alternates: learned, OnAlternates: saver.learned,
		Blobs: blobs, Outbox: ob.Kernel(), Logger: log,
		Identity: id, Revocations: rev,
		OnRenewed: func(n *identity.Node) {
			if err := n.Save(idDir); err != nil {
				log.Error("renewed certificate not saved", "err", err)
			}
			nw.SetIdentity(n)
		},
		OnEvent: func(e mesh.Event) {
			events.Record(e)
			if e.Kind == mesh.EventParentUp {
				select {
				case up <- struct{}{}:
				default:
				}
			}
		},
	}
	o.timers.applyMesh(&cfg)
	if o.gateway {
		cfg.Listen = o.listen
		cfg.Advertise = gatewayAdvertise(o.advertise, o.listen, o.join)
		log.Debug("gc target for a parent", "gogc", mesh.TuneGCForParent())
	}
	if node, err = mesh.New(cfg); err != nil {
		return err
	}
	if o.metrics != "" {
		reg, err := newMetricsRegistry(meshmetrics.New(node), events, devmetrics.NewOutbox(ob))
		if err != nil {
			return err
		}
		srv, err := listenMetrics(o.metrics, reg, log)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	if err := node.Start(ctx); err != nil {
		return err
	}
	defer node.Close()
	addr := node.Advertised()
	if addr == "" {
		addr = node.Addr()
	}
	log.Info("agent running", "node", string(id.Name), "role", string(id.Role), "parent", o.join, "alternates", o.alternates, "listen", node.Addr(), "advertise", node.Advertised())
	fmt.Fprintf(cmd.OutOrStdout(), "agent %s (%s): linking to %s", id.Name, id.Role, o.join)
	if a := node.Addr(); a != "" {
		fmt.Fprintf(cmd.OutOrStdout(), ", children link to %s", addr)
	}
	fmt.Fprintln(cmd.OutOrStdout())
	reportStatus(ctx, node, nodeStatus{Addr: addr, Labels: labels, Version: version}, up, log)
	log.Info("agent stopping")
	return nil
}

// parseLabels reads --labels k=v,k2=v2.
func parseLabels(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || len(k) > maxLabelKey || len(v) > maxLabelValue || !validLabel(k, v) {
			return nil, usageError{fmt.Errorf("--labels %q: want k=v,k2=v2 (no spaces, quotes or control characters)", kv)}
		}
		if _, dup := out[k]; dup {
			return nil, usageError{fmt.Errorf("--labels: %q given twice", k)}
		}
		out[k] = v
	}
	if len(out) > maxLabels {
		return nil, usageError{fmt.Errorf("--labels: %d labels, at most %d", len(out), maxLabels)}
	}
	return out, nil
}

func loadAgentState(path string) (agentState, error) {
	var st agentState
	err := loadJSON(path, "agent state", &st)
	return st, err
}

func writeAgentState(path string, st agentState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b, 0o600)
}
