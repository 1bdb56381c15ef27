package broker_test

import (
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/devices/broker"
	"github.com/canopy-fleet/canopy/kernel"
)

// FuzzFilterCovers checks FilterCovers against MatchTopic: if outer covers
// sub, every concrete topic sub matches is matched by outer.
func FuzzFilterCovers(f *testing.F) {
	for _, s := range [][3]string{
		{"a/#", "a/+/c", "a/b/c"},
		{"a/+", "a/b", "a/b"},
		{"#", "x/#", "x/y/z"},
		{"devices/p/#", "devices/p", "devices/p"},
		{"a/+/c", "a/+/c", "a//c"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, outer, sub, name string) {
		if kernel.ValidateTopicFilter(outer) != nil || kernel.ValidateTopicFilter(sub) != nil || kernel.ValidateTopicName(name) != nil {
			return
		}
		if strings.HasPrefix(name, "$") {
			return
		}
		if broker.FilterCovers(outer, sub) && kernel.MatchTopic(sub, name) && !kernel.MatchTopic(outer, name) {
			t.Fatalf("FilterCovers(%q, %q) but %q matches only the inner filter", outer, sub, name)
		}
		if sub == name && broker.FilterCovers(outer, sub) != kernel.MatchTopic(outer, name) {
			t.Fatalf("for a plain topic FilterCovers(%q, %q) != MatchTopic", outer, sub)
		}
	})
}
