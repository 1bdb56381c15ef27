package route

import (
	"slices"
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
)

// FuzzTrieMatchesMatchTopic checks the trie against kernel.MatchTopic for
// a set of filters and one topic.
func FuzzTrieMatchesMatchTopic(f *testing.F) {
	f.Add("a/+/c;a/#;#;+/b/+;a/b/c;$SYS/#;+", "a/b/c")
	f.Add("a/#;a;a/+", "a")
	f.Add("+/+;#", "$SYS/x")
	f.Add("a//b;a/+/b;+", "a//b")
	f.Fuzz(func(t *testing.T, filters, topic string) {
		if kernel.ValidateTopicName(topic) != nil {
			return
		}
		var tr trie
		var fs []string
		for _, fl := range strings.Split(filters, ";") {
			if kernel.ValidateTopicFilter(fl) != nil {
				continue
			}
			fs = append(fs, fl)
			tr.insert(fl, &binding{filter: fl})
		}
		var want, got []string
		for _, fl := range fs {
			if kernel.MatchTopic(fl, topic) {
				want = append(want, fl)
			}
		}
		tr.match(topic, func(b *binding) { got = append(got, b.filter) })
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			t.Fatalf("topic %q filters %q: trie %q, MatchTopic %q", topic, fs, got, want)
		}
	})
}
