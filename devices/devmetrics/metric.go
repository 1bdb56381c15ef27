package devmetrics

import "github.com/prometheus/client_golang/prometheus"

// metric is one described metric with its type.
type metric struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
}

func counter(name, help string, labels ...string) metric {
	return metric{prometheus.NewDesc(name, help, labels, nil), prometheus.CounterValue}
}

func gauge(name, help string, labels ...string) metric {
	return metric{prometheus.NewDesc(name, help, labels, nil), prometheus.GaugeValue}
}

// emit sends one sample of m. A label value the exposition cannot carry
// (not UTF-8: outbox destinations may be any bytes) makes that sample an
// error of the scrape; the collector's other samples are still sent.
func (m metric) emit(ch chan<- prometheus.Metric, v float64, labels ...string) {
	s, err := prometheus.NewConstMetric(m.desc, m.typ, v, labels...)
	if err != nil {
		s = prometheus.NewInvalidMetric(m.desc, err)
	}
	ch <- s
}

// describe sends the descriptions of ms.
func describe(ch chan<- *prometheus.Desc, ms ...metric) {
	for _, m := range ms {
		ch <- m.desc
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
