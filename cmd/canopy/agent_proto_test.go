package main

import (
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/mesh/frame"
)

func FuzzDecodeStatus(f *testing.F) {
	for _, st := range []nodeStatus{
		{Parent: "gw-1", Addr: "127.0.0.1:7443", Labels: map[string]string{"site": "a"}, Version: "dev"},
		{},
		{Parent: "Not A Name"},
		{Labels: map[string]string{"": "x"}},
	} {
		b, err := frame.Marshal(st)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeStatus(b)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if len(st.Labels) > maxLabels || len(st.Addr) > 300 {
			t.Fatalf("accepted %+v", st)
		}
		for k, v := range st.Labels {
			if k == "" || len(k) > maxLabelKey || len(v) > maxLabelValue {
				t.Fatalf("accepted label %q=%q", k, v)
			}
		}
	})
}
