package mesh

import (
	"fmt"

	"github.com/canopy-fleet/canopy/kernel"
	"github.com/canopy-fleet/canopy/mesh/frame"
)

// ProtocolVersion is exchanged in the hello; peers with another version are
// refused with a version error. Version 2: the outbox ack holds Next (the
// next ID expected, was Upto) and outbox batches carry the outbox's epoch.
// Version 3: route claims carry placement proofs (routes_proof.go): the
// hello has Proof and Proofs, routes has Proofs; a node that renews its
// certificate sends its parent a fresh proof (tRouteProof).
// Version 4: on a link with transport liveness (liveness.go) a child sends
// a heartbeat message every AppHeartbeatInterval, not every
// HeartbeatInterval (a version-3 parent would lose it), and a hello may
// ask for its siblings in the ack (SiblingsInAck). The version is read
// before the rest of a hello or ack, so peers of other versions get a
// version error even where their messages have fields this one lacks.
const ProtocolVersion = 4

// peekVersion reads the Version field of a hello or hello ack, ignoring
// the fields of other versions.
func peekVersion(p []byte) (uint16, error) {
	var v struct{ Version uint16 }
	if err := frame.UnmarshalLoose(p, &v); err != nil {
		return 0, err
	}
	return v.Version, nil
}

// Frame types of the mesh protocol. The first frame on a stream says what
// the stream is for.
const (
	tError     frame.Type = 1  // reply: errorMsg
	tOK        frame.Type = 2  // reply: empty payload
	tHello     frame.Type = 3  // child→parent at connect: hello; reply helloAck
	tHelloAck  frame.Type = 4  //
	tHeartbeat frame.Type = 5  // child→parent: heartbeat; reply tOK
	tRequest   frame.Type = 6  // envelope; reply tResponse or tError
	tResponse  frame.Type = 7  // raw body
	tOneWay    frame.Type = 8  // envelope; no reply
	tRoutes    frame.Type = 9  // child→parent: routes; reply tOK
	tInterest  frame.Type = 10 // either way: interest; reply tOK
	tPublish   frame.Type = 11 // either way: publication; reply tOK when QoS 1
	tBlobGet   frame.Type = 12 // child→parent: blobGet; reply tBlobInfo then raw bytes
	tBlobInfo  frame.Type = 13 //
	tSiblings  frame.Type = 14 // parent→listening child: siblingsMsg; reply tOK
	// tRouteProof is child→parent: routeProof, the child's own placement
	// signed again after it renewed its certificate; reply tOK or tError.
	tRouteProof frame.Type = 15
	maxHops                = 32
)

// Error codes sent in errorMsg.
const (
	CodeUnknownType = "unknown-type"
	CodeBadRequest  = "bad-request"
	CodeVersion     = "version"
	CodeNoRoute     = "no-route"
	CodeNoHandler   = "no-handler"
	CodeHandler     = "handler"
	CodeNotFound    = "not-found"
	CodeTimeout     = "timeout" // a deadline passed on the way or in the handler
)

// Hot-path messages are CBOR arrays (toarray): no field names to match,
// and a duplicate or unknown field cannot be expressed.

type errorMsg struct {
	_    struct{} `cbor:",toarray"`
	Code string
	Msg  string
}

// RemoteError is an error a peer replied with.
type RemoteError struct {
	Code string
	Msg  string
}

// Error says which code the peer replied with and its message.
func (e *RemoteError) Error() string { return fmt.Sprintf("remote %s: %s", e.Code, e.Msg) }

type hello struct {
	Version  uint16
	Routes   []kernel.NodeName // the child's subtree, without the child
	Interest []string
	// Listen is the address the child listens on, for its siblings to
	// probe; empty when it does not listen (leaves).
	Listen string `cbor:",omitempty"`
	// Proof is the child's own placement under this parent; nil when it
	// has no identity.
	Proof *routeProof `cbor:",omitempty"`
	// Proofs holds the proof the child keeps for each of Routes, in the
	// same order (nil entries where it holds none); empty when none.
	Proofs []*routeProof `cbor:",omitempty"`
	// SiblingsInAck asks a parent to put this node's siblings and
	// alternates in its hello ack rather than a message after it (one
	// stream less per link-up); a parent that does not know it sends the
	// message, and a child that does not send it gets the message.
	SiblingsInAck bool `cbor:",omitempty"`
	// Beat, when not 0, is how often (milliseconds) the child sends a
	// heartbeat message at least, the link's transport keep-alives
	// showing it alive in between (liveness.go); 0: every heartbeat
	// interval, judged by those messages.
	Beat uint32 `cbor:",omitempty"`
}

type helloAck struct {
	Version  uint16
	Interest []string
	// Siblings is the siblings message for a child that asked for it in
	// its hello (SiblingsInAck); nil when the message follows instead.
	Siblings *siblingsMsg `cbor:",omitempty"`
	// Beat is the heartbeat interval (milliseconds) the parent judges the
	// child by, from the one the child declared (hello.Beat), within the
	// parent's bounds; 0: it did not accept one, and the child sends a
	// heartbeat message every heartbeat interval.
	Beat uint32 `cbor:",omitempty"`
}

type heartbeat struct {
	_   struct{} `cbor:",toarray"`
	Seq uint64
}

type envelope struct {
	_         struct{} `cbor:",toarray"`
	Src, Dst  kernel.NodeName
	Kind      string
	Body      []byte
	TimeoutMs int64
	Hops      uint8
}

type routes struct {
	Add, Del []kernel.NodeName
	// Proofs holds the sender's proof for each of Add, in the same order
	// (nil entries where it holds none); empty when none.
	Proofs []*routeProof `cbor:",omitempty"`
}

type interest struct {
	Filters []string
}

// Message is a publication on a fleet-wide topic.
type Message struct {
	_     struct{} `cbor:",toarray"`
	ID    string
	Src   kernel.NodeName
	Topic string
	Data  []byte
	QoS   uint8
}

type blobGet struct {
	Digest string
	Offset int64
}

type blobInfo struct {
	Size int64
}
