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
		if len(st.Labels) > maxLabels || len(st.Addr) > 300 || !printableWord(st.Addr) || !printableWord(st.Version) {
			t.Fatalf("accepted %+v", st)
		}
		for k, v := range st.Labels {
			if k == "" || len(k) > maxLabelKey || len(v) > maxLabelValue || !validLabel(k, v) {
				t.Fatalf("accepted label %q=%q", k, v)
			}
		}
	})
}

// A status is shown in 'canopy get nodes' as table cells: text that would
// move the terminal's cursor, change its colours or break the table (control
// characters, spaces, label separators, bad UTF-8) is refused.
func TestDecodeStatusRefusesUnprintable(t *testing.T) {
	for name, st := range map[string]nodeStatus{
		"escape in version":     {Version: "1.0\x1b[2J"},
		"newline in version":    {Version: "1.0\nfake-node"},
		"tab in addr":           {Addr: "10.0.0.1:7443\tx"},
		"escape in label value": {Labels: map[string]string{"site": "\x1b]0;owned\x07"}},
		"newline in label key":  {Labels: map[string]string{"a\nb": "x"}},
		"space in label value":  {Labels: map[string]string{"site": "plant 1"}},
		"comma in label value":  {Labels: map[string]string{"site": "a,b=c"}},
		"equals in label key":   {Labels: map[string]string{"a=b": "c"}},
		"bad utf-8 in label":    {Labels: map[string]string{"site": "\xff"}},
		"C1 control in version": {Version: "1.0\u009b2J"},
	} {
		b, err := frame.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeStatus(b); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: decodeStatus = %v, want a one-line error", name, err)
		}
	}
	ok := nodeStatus{Parent: "gw-1", Addr: "[fe80::1%eth0]:7443", Version: "v1.2.3-rc.1+dirty", Labels: map[string]string{"site": "plant-1", "zone": "a=b", "room": "Süd"}}
	b, _ := frame.Marshal(ok)
	if _, err := decodeStatus(b); err != nil {
		t.Fatalf("good status refused: %v", err)
	}
}
