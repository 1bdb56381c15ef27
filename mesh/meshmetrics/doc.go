// Package meshmetrics exposes a mesh node's figures as Prometheus metrics:
// its links (parent up, children, round trip per linked or probed peer),
// the work it counts (requests sent, failed, timed out and served;
// heartbeats sent, missed and received, children timed out; relayed and
// forwarded messages, dropped frames, outbox messages; blobs and blob bytes
// served and fetched), its blob store (blobs and bytes cached) and its link
// events (parent up and lost, which count failovers; children up, ready and
// lost).
//
// Node reads the mesh.Node when scraped, so the mesh pays nothing for it.
// Events counts events as they happen and needs its Record given to
// mesh.Config.OnEvent. Nothing is registered globally:
//
//	ev := meshmetrics.NewEvents()
//	cfg.OnEvent = ev.Record
//	n, _ := mesh.New(cfg)
//	reg.MustRegister(meshmetrics.New(n), ev)
package meshmetrics
