// Package mesh is Canopy's nervous system: the tree of authenticated links
// between controllers, gateways and leaves. A Node links to one parent (and
// fails over to alternates), accepts children when it has a listen address,
// and carries over those links:
//
//   - routed request/response and one-way messages (kernel.Transport),
//     relayed by gateways in both directions;
//   - heartbeats, with which a parent declares a child lost and a child
//     declares its parent lost and fails over;
//   - latency measurements, reported up to the root to build the latency
//     graph (Node.Latency): every link's RTT (the transport's, or the
//     heartbeat round trip), and probes every ProbeInterval to alternate
//     parents and to listening siblings. A node that listens (a gateway)
//     advertises its address in its hello; its parent tells each listening
//     child the others' addresses, so gateways under one parent measure
//     each other directly. Leaves do not listen and are told no siblings:
//     a path between two leaves is their two links, already in the graph,
//     and a leaf's useful alternatives are its alternate parents, which it
//     probes. A listen address on an unspecified host (0.0.0.0) is not
//     advertised unless Config.Advertise names one;
//   - alternates handed out by the tree: every child is told where it may
//     fail over (its gateway's listening siblings and the gateway's
//     parent), keeps and probes them, and after losing its parent waits a
//     random fraction of ReconnectMin before dialing them (alternates.go);
//   - content-addressed blobs, fetched from the nearest cache up the tree;
//   - fleet-wide topics with interest propagated along the tree, so a
//     publication travels only toward subtrees with subscribers;
//   - delivery of a node's durable outbox to the root, in order, with
//     dedupe by message ID.
//
// The links themselves come from a link.Network: quicnet (QUIC, mutual TLS)
// in a real fleet, memnet in tests and simulations. Every exchange is one
// stream carrying one frame each way (mesh/frame: type, length, CBOR): the
// request, then the reply; a one-way message's reply is a receipt sent
// before it is handled. A stream is bounded by the transport's limit on
// open streams per link (back-pressure) and by a timeout, and handled on a
// worker goroutine that stays warm for a second between streams (a fresh
// goroutine per stream regrew its stack on every request). The protocol
// version is checked in the hello that opens every link.
//
// Identity (mesh/identity) and joining (quicnet.Join, Node.RelayJoin,
// Node.ServeIdentity) make the links mutual-TLS; mesh/raftlayer carries
// the controllers' Raft traffic over the same kind of links.
package mesh
