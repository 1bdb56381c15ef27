package mesh

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/identity"
	"github.com/canopy-fleet/canopy/mesh/link"
)

// Route proofs. A gateway tells its parent the nodes of its subtree, and
// the parent (up to the root) routes their traffic to it; a gateway could
// otherwise claim any node's name and draw its traffic. So a claim for a
// node X carries X's placement proof: X's certificate and X's signature
// over (X, the parent X linked to, when), made by X itself each time it
// links. A node that checks claims (it has an identity, or serves the
// cluster's authority at the root) installs a route to X only when the
// proof is X's, X linked to the claiming child or to a node that child
// already routes, and, when X is routed through another live link, the
// proof is newer than the one held: a failover moves the route, a replayed
// proof does not.

// routeProof is a node's placement proof.
type routeProof struct {
	_      struct{}        `cbor:",toarray"`
	Cert   []byte          // the node's certificate (DER)
	Parent kernel.NodeName // the node it linked to
	At     int64           // when, Unix nanoseconds on the node's clock
	Sig    []byte          // SignDigest over proofDigest
}

// proofDigest is what a placement proof signs.
func proofDigest(x, parent kernel.NodeName, at int64) []byte {
	h := sha256.New()
	h.Write([]byte("canopy route proof v1\x00"))
	h.Write([]byte(x))
	h.Write([]byte{0})
	h.Write([]byte(parent))
	h.Write([]byte{0})
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(at))
	h.Write(b[:])
	return h.Sum(nil)
}

// newRouteProof signs this node's placement under parent, or returns nil
// when the node has no identity.
func newRouteProof(id *identity.Node, parent kernel.NodeName, now time.Time) *routeProof {
	if id == nil || id.Cert == nil || id.Key == nil {
		return nil
	}
	at := now.UnixNano()
	sig, err := identity.SignDigest(id.Key, proofDigest(id.Name, parent, at))
	if err != nil {
		return nil
	}
	return &routeProof{Cert: id.Cert.Raw, Parent: parent, At: at, Sig: sig}
}

// errNoProof refuses a claim that carries no proof.
var errNoProof = errors.New("no route proof")

// checkProof checks that p is x's own signed placement, with a
// certificate from the cluster CA that is valid and not revoked.
func checkProof(v *identity.Verifier, x kernel.NodeName, p *routeProof) error {
	_, err := checkProofCert(v, x, p)
	return err
}

// checkProofCert is checkProof that also returns the proof's
// certificate, parsed.
func checkProofCert(v *identity.Verifier, x kernel.NodeName, p *routeProof) (*x509.Certificate, error) {
	if p == nil {
		return nil, errNoProof
	}
	cert, err := x509.ParseCertificate(p.Cert)
	if err != nil {
		return nil, fmt.Errorf("route proof for %s: %w", x, err)
	}
	if _, err := v.VerifyCert(cert, x); err != nil {
		return nil, fmt.Errorf("route proof for %s: %w", x, err)
	}
	if !identity.VerifyDigest(cert.PublicKey, proofDigest(x, p.Parent, p.At), p.Sig) {
		return nil, fmt.Errorf("route proof for %s: signature does not check", x)
	}
	return cert, nil
}

// claimVerifierLocked is the verifier route claims are checked with, or
// nil when this node checks none (no identity and no authority: memnet
// tests and simulations). n.mu is held.
func (n *Node) claimVerifierLocked() *identity.Verifier {
	if n.claims.verifier != nil {
		return n.claims.verifier
	}
	switch {
	case n.claims.auth != nil:
		n.claims.verifier = &identity.Verifier{CA: n.claims.auth.CA.Cert, Revoked: n.claims.auth.CA.IsRevoked, Now: n.cfg.Clock.Now}
	case n.cfg.Identity != nil && n.cfg.Identity.CA != nil:
		v := &identity.Verifier{CA: n.cfg.Identity.CA, Now: n.cfg.Clock.Now}
		if n.cfg.Revocations != nil {
			v.Revoked = n.cfg.Revocations.IsRevoked
		}
		n.claims.verifier = v
	}
	return n.claims.verifier
}

// claimState is what a node keeps to check route claims, guarded by n.mu.
type claimState struct {
	auth     *identity.Authority // set at the root by ServeIdentity
	verifier *identity.Verifier  // made on first use
	// proofs holds the placement proof of each routed node (children
	// included) that came with one; it is sent up with the route.
	proofs map[kernel.NodeName]*routeProof
	// standby holds, per node, the latest claim with a valid proof that was
	// refused only for not being newer than the route's through another
	// live link (a node whose clock was set back, such as a device without
	// a real-time clock after a reboot, that failed over): it takes the
	// route when that route goes (promoteLocked).
	standby map[kernel.NodeName]standbyClaim
	// upCert is the certificate of the proof this node last sent up (in
	// the hello of its parent link, or after a renewal).
	upCert []byte
}

// standbyClaim is a claim kept in claimState.standby. Its proof was
// checked when it was kept; taking the route it checks only what may
// have changed since, cheaply, under n.mu: expiry and revocation.
type standbyClaim struct {
	l       *peerLink
	proof   *routeProof
	expires time.Time // the proof's certificate's NotAfter
	serial  *big.Int  // and serial number
}

// setClaimAuthority makes the root check route claims against a's CA and
// revocation list (ServeIdentity).
func (n *Node) setClaimAuthority(a *identity.Authority) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.claims.auth = a
	n.claims.verifier = nil
}

// claim is one route claim from a child: node X and the proof sent for it.
type claim struct {
	x       kernel.NodeName
	proof   *routeProof
	err     error     // the proof's check, made before n.mu is taken
	expires time.Time // when checked and valid: its certificate's NotAfter
	serial  *big.Int  // and serial number
}

// verifyClaims checks the proofs of claims (the expensive part) without
// n.mu held; v nil checks nothing.
func verifyClaims(v *identity.Verifier, xs []kernel.NodeName, proofs []*routeProof) []claim {
	out := make([]claim, len(xs))
	for i, x := range xs {
		out[i].x = x
		if i < len(proofs) {
			out[i].proof = proofs[i]
		}
		if v != nil {
			cert, err := checkProofCert(v, x, out[i].proof)
			out[i].err = err
			if cert != nil {
				out[i].expires, out[i].serial = cert.NotAfter, cert.SerialNumber
			}
		}
	}
	return out
}

// claimVerifier is claimVerifierLocked for callers without n.mu.
func (n *Node) claimVerifier() *identity.Verifier {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.claimVerifierLocked()
}

// installClaimsLocked installs the routes child link l claims, when it
// may: mayRouteLocked, and when checking (v set) a valid proof placing
// the node under l or a node l routes (a node claimed in the same batch
// counts once its own claim is taken), newer than the proof held when
// the node is routed through another live link. It returns the names
// installed and the refusals. n.mu is held.
func (n *Node) installClaimsLocked(l *peerLink, v *identity.Verifier, cs []claim, now time.Time) (added []kernel.NodeName, refused []string) {
	if n.claims.proofs == nil {
		n.claims.proofs = map[kernel.NodeName]*routeProof{}
	}
	done := make([]bool, len(cs))
	why := make([]string, len(cs))
	for progress := true; progress; {
		progress = false
		for i, c := range cs {
			if done[i] {
				continue
			}
			if !n.mayRouteLocked(l, c.x) {
				done[i], why[i] = true, "not routable through this child"
				if v != nil && c.err == nil && n.movedBelowLocked(l, c.x, c.proof) {
					why[i] = "linked here on another link (kept in case that link goes)"
					n.keepStandbyLocked(l, c)
				}
				continue
			}
			if v != nil {
				if c.err != nil {
					done[i], why[i] = true, c.err.Error()
					continue
				}
				if c.proof.Parent != l.peer.Name && n.routes[c.proof.Parent] != l {
					why[i] = fmt.Sprintf("proof places it under %s, not routed through this child", c.proof.Parent)
					continue // its parent may be taken later in this batch
				}
				if via := n.routes[c.x]; via != nil && via != l && n.liveLocked(via, now) {
					if held := n.claims.proofs[c.x]; held != nil && c.proof.At <= held.At {
						done[i], why[i] = true, fmt.Sprintf("proof not newer than the one held for its route through %s (kept in case that route goes)", via.peer.Name)
						n.keepStandbyLocked(l, c)
						continue
					}
				}
			}
			done[i], why[i], progress = true, "", true
			n.routes[c.x] = l
			if sb, ok := n.claims.standby[c.x]; ok && sb.l == l {
				delete(n.claims.standby, c.x)
			}
			if c.proof != nil {
				n.claims.proofs[c.x] = c.proof
			} else {
				delete(n.claims.proofs, c.x)
			}
			added = append(added, c.x)
		}
	}
	// A claim placed under a node whose own claim through l was kept as a
	// standby (a nested gateway relinking: its subtree's proofs are the
	// ones held through its old gateway) is kept too, to follow it.
	for progress := v != nil; progress; {
		progress = false
		for i, c := range cs {
			if done[i] {
				continue
			}
			if sb, ok := n.claims.standby[c.proof.Parent]; !ok || sb.l != l {
				continue
			}
			done[i], progress = true, true
			n.keepStandbyLocked(l, c)
		}
	}
	for i, c := range cs {
		if why[i] != "" {
			refused = append(refused, string(c.x)+": "+why[i])
		}
	}
	return added, refused
}

// movedBelowLocked reports whether proof, valid, shows x, a child linked
// here on a link other than l, placed under l or a node l routes: x
// failed over to a node below this one (a sibling it was told of) before
// its old link here was declared lost. The claim is kept and takes the
// route when that link goes, as any standby claim, newer or not (a
// device whose clock was set back): once the link is gone, a claim would
// be taken anyway. n.mu is held.
func (n *Node) movedBelowLocked(l *peerLink, x kernel.NodeName, proof *routeProof) bool {
	if l.peer.Role != kernel.RoleGateway && l.peer.Role != kernel.RoleController {
		return false
	}
	if c := n.children[x]; c == nil || c == l {
		return false
	}
	return proof.Parent == l.peer.Name || n.routes[proof.Parent] == l
}

// keepStandbyLocked keeps c, a claim through l with a valid proof that
// was refused, as its node's standby claim, unless another link's newer
// one is kept. n.mu is held.
func (n *Node) keepStandbyLocked(l *peerLink, c claim) {
	if sb, ok := n.claims.standby[c.x]; ok && sb.l != l && c.proof.At <= sb.proof.At {
		return
	}
	if n.claims.standby == nil {
		n.claims.standby = map[kernel.NodeName]standbyClaim{}
	}
	n.claims.standby[c.x] = standbyClaim{l: l, proof: c.proof, expires: c.expires, serial: c.serial}
}

// proofsForLocked lists the proofs held for xs, nil where none is held.
// When none is held for any, it returns nil (nothing to send). n.mu is
// held.
func (n *Node) proofsForLocked(xs []kernel.NodeName) []*routeProof {
	var out []*routeProof
	for i, x := range xs {
		p := n.claims.proofs[x]
		if p == nil {
			continue
		}
		if out == nil {
			out = make([]*routeProof, len(xs))
		}
		out[i] = p
	}
	return out
}

// forgetRouteLocked deletes the route to x and its proof. n.mu is held.
func (n *Node) forgetRouteLocked(x kernel.NodeName) {
	delete(n.routes, x)
	delete(n.claims.proofs, x)
}

// dropStandbyLocked forgets the standby claims made through l, for the
// nodes xs (l took them back) or for all when xs is nil (l is gone). n.mu
// is held.
func (n *Node) dropStandbyLocked(l *peerLink, xs []kernel.NodeName) {
	if len(n.claims.standby) == 0 {
		return
	}
	if xs == nil {
		for x, sb := range n.claims.standby {
			if sb.l == l {
				delete(n.claims.standby, x)
			}
		}
		return
	}
	for _, x := range xs {
		if sb, ok := n.claims.standby[x]; ok && sb.l == l {
			delete(n.claims.standby, x)
		}
	}
}

// promoteLocked gives the nodes of gone (their routes just deleted) to
// their standby claims, when the standby's link is still a live child
// link and its proof still checks and places the node under it. It
// returns the nodes routed again, and gone without them. n.mu is held.
func (n *Node) promoteLocked(gone []kernel.NodeName, now time.Time) (back, still []kernel.NodeName) {
	if len(n.claims.standby) == 0 {
		return nil, gone
	}
	v := n.claimVerifierLocked()
	// Several passes: a nested node's standby places it under another
	// node of gone, promoted first.
	for progress := true; progress; {
		progress = false
		still = still[:0]
		for _, x := range gone {
			sb, ok := n.claims.standby[x]
			if !ok {
				still = append(still, x)
				continue
			}
			l := sb.l
			if n.routes[x] != nil || n.children[l.peer.Name] != l || !n.liveLocked(l, now) || !n.mayRouteLocked(l, x) {
				delete(n.claims.standby, x)
				still = append(still, x)
				continue
			}
			if sb.proof.Parent != l.peer.Name && n.routes[sb.proof.Parent] != l {
				still = append(still, x) // its parent may be promoted in this pass
				continue
			}
			if v != nil && (!now.Before(sb.expires) || sb.serial == nil || (v.Revoked != nil && v.Revoked(sb.serial))) {
				delete(n.claims.standby, x)
				still = append(still, x)
				continue
			}
			delete(n.claims.standby, x)
			n.routes[x] = l
			n.claims.proofs[x] = sb.proof
			back = append(back, x)
			progress = true
		}
		gone = slices.Clone(still)
	}
	for _, x := range still {
		delete(n.claims.standby, x)
	}
	if len(back) > 0 {
		n.log.Info("routes taken by the claims kept for them", "names", back)
	}
	return back, still
}

// maxRoutesPerMsg bounds the route claims in one hello or routes message:
// with a certificate each, a large subtree is sent in several messages
// that each stay well under MaxFrame.
const maxRoutesPerMsg = 256

// claimOrderLocked orders xs (routed nodes) so that a node whose proof
// places it under another node of xs comes after that node, keeping the
// order of xs otherwise: a parent split into several messages takes each
// claim with its proof's parent already routed. n.mu is held.
func (n *Node) claimOrderLocked(xs []kernel.NodeName) []kernel.NodeName {
	depth := make(map[kernel.NodeName]int, len(xs))
	var walk func(x kernel.NodeName, hops int) int
	walk = func(x kernel.NodeName, hops int) int {
		if d, ok := depth[x]; ok {
			return d
		}
		d := 0
		if p := n.claims.proofs[x]; p != nil && hops < maxHops && n.routes[p.Parent] != nil {
			d = walk(p.Parent, hops+1) + 1
		}
		depth[x] = d
		return d
	}
	for _, x := range xs {
		walk(x, 0)
	}
	out := slices.Clone(xs)
	slices.SortStableFunc(out, func(a, b kernel.NodeName) int { return depth[a] - depth[b] })
	return out
}

// refreshProofLocked sends the parent link (or the one saying hello) a
// placement proof made with Config.Identity, when the proof last sent up
// had another certificate: after a renewal, the proof held above for this
// node would otherwise keep the old certificate, and once that expires a
// gateway above that relinks would re-send a proof every level refuses.
// n.mu is held.
func (n *Node) refreshProofLocked() {
	p := n.parent
	if p == nil {
		p = n.pending
	}
	id := n.cfg.Identity
	if p == nil || id == nil || id.Cert == nil || bytes.Equal(n.claims.upCert, id.Cert.Raw) {
		return // the next hello carries a proof with this certificate
	}
	proof := newRouteProof(id, p.peer.Name, n.cfg.Clock.Now())
	if proof == nil {
		return
	}
	n.claims.upCert = proof.Cert
	p.enqueue(tRouteProof, proof)
}

// onRouteProof takes a child's fresh placement proof (it renewed its
// certificate): checked as the hello's proof is (the child's own, under
// this node) and newer than the one held, it replaces the held proof and
// goes up as a route claim, so each level above replaces its own.
func (n *Node) onRouteProof(l *peerLink, b []byte, s link.Stream) {
	if l.isParent {
		replyError(s, CodeBadRequest, "route proofs go from child to parent")
		return
	}
	var p routeProof
	if !n.decode(l, s, b, &p) {
		return
	}
	name := l.peer.Name
	var err error
	if v := n.claimVerifier(); v != nil { // without n.mu: a certificate check
		err = checkProof(v, name, &p)
	}
	if err == nil && p.Parent != n.cfg.Name {
		err = fmt.Errorf("route proof for %s places it under %s, not here", name, p.Parent)
	}
	n.mu.Lock()
	if n.children[name] != l || n.routes[name] != l {
		n.mu.Unlock()
		replyOK(s) // the link was replaced: its hello brought a proof
		return
	}
	if held := n.claims.proofs[name]; err == nil && held != nil && p.At <= held.At {
		err = fmt.Errorf("route proof for %s is not newer than the one held", name)
	}
	if err == nil {
		if n.claims.proofs == nil {
			n.claims.proofs = map[kernel.NodeName]*routeProof{}
		}
		n.claims.proofs[name] = &p
	}
	n.mu.Unlock()
	if err != nil {
		n.claimsRefused(l, []string{string(name) + ": " + err.Error()})
		replyError(s, CodeBadRequest, "%v", err)
		return
	}
	replyOK(s)
	n.sendRoutesUp([]kernel.NodeName{name}, nil)
}
