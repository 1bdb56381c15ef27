package devbench

import (
	"strconv"

	"github.com/canopy-fleet/canopy/devices/sensorsim"
)

// handle is the task work both pipelines do for one message: parse the
// reading, check it against a threshold and produce the output message
// ("<seq> <value> <alert>"); the seq lets the sink find the send time.
func handle(payload []byte, out []byte) ([]byte, bool) {
	r, err := sensorsim.ParseReading(payload)
	if err != nil {
		return out, false
	}
	alert := (r.Kind == sensorsim.Temperature && r.Value > 30) || r.Spike
	out = strconv.AppendUint(out[:0], r.Seq, 10)
	out = append(out, ' ')
	out = strconv.AppendFloat(out, r.Value, 'f', 2, 64)
	if alert {
		out = append(out, " alert"...)
	} else {
		out = append(out, " ok"...)
	}
	return out, true
}

// seqOf reads the seq at the start of an output message.
func seqOf(p []byte) (uint64, bool) {
	var n uint64
	i := 0
	for ; i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
		n = n*10 + uint64(p[i]-'0')
	}
	return n, i > 0
}
