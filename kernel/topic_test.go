package kernel

import "testing"

func TestMatchTopic(t *testing.T) {
	cases := []struct {
		filter, name string
		want         bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"#", "a/b", true},
		{"#", "$SYS/x", false},
		{"+/b", "$SYS/b", false},
		{"+/+", "a/b", true},
		{"+", "a/b", false},
		{"a/+/c", "a//c", true},
		{"a/b/c", "a/b", false},
		{"a/b", "a/b/c", false},
		{"sensors/+/temperature", "sensors/s1/temperature", true},
	}
	for _, c := range cases {
		if got := MatchTopic(c.filter, c.name); got != c.want {
			t.Errorf("MatchTopic(%q, %q) = %v, want %v", c.filter, c.name, got, c.want)
		}
	}
}

func TestValidateTopic(t *testing.T) {
	for _, f := range []string{"a/#/b", "a/b+", "", "a\x00b"} {
		if ValidateTopicFilter(f) == nil {
			t.Errorf("filter %q accepted", f)
		}
	}
	for _, n := range []string{"a/+", "#", "", "\xff"} {
		if ValidateTopicName(n) == nil {
			t.Errorf("name %q accepted", n)
		}
	}
	if ValidateTopicFilter("a/+/#") != nil || ValidateTopicName("a/b") != nil {
		t.Error("valid topic rejected")
	}
}

func FuzzMatchTopic(f *testing.F) {
	f.Add("a/+/#", "a/b/c")
	f.Fuzz(func(t *testing.T, filter, name string) {
		if ValidateTopicName(name) == nil && MatchTopic(name, name) != true {
			t.Fatalf("%q does not match itself", name)
		}
		_ = MatchTopic(filter, name)
	})
}
