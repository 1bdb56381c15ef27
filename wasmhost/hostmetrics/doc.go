// Package hostmetrics exposes supervised tasks' figures as Prometheus
// metrics: state, restarts, messages, handler errors, queue overflow and
// depth, memory high-water mark, CPU per message, and failed runs by cause
// (the limit that stopped the task, a trap, an exit or another error).
//
// The collector reads supervise.Status when it is scraped, so the task's
// message path pays nothing for metrics. Nothing is registered globally:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(hostmetrics.New(hostmetrics.Supervisors(sup)))
//
// An agent whose tasks come and go passes a function listing the current
// supervisors' statuses instead.
package hostmetrics
