package kernel

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// SharePolicy picks which replica of a shared subscription gets a message.
type SharePolicy string

// Share policies.
const (
	ShareRoundRobin  SharePolicy = "round-robin"
	ShareLeastLoaded SharePolicy = "least-loaded"
	ShareHash        SharePolicy = "hash" // hash of a key, for affinity
)

// Subscription is one topic filter a task listens on. In YAML it is either a
// plain topic filter string, or a mapping with the filter and how replicas
// share it:
//
//	subscribe:
//	  - sensors/+/temperature
//	  - {topic: "sensors/+/power", shared: round-robin}
//	  - {topic: "sensors/#", shared: hash, key: topic}
type Subscription struct {
	Topic string `json:"topic" yaml:"topic"`
	// Shared, when set, delivers each message to one replica chosen by this
	// policy instead of to every replica.
	Shared SharePolicy `json:"shared,omitempty" yaml:"shared,omitempty"`
	// Key is what ShareHash hashes: "topic" (default) or "payload".
	Key string `json:"key,omitempty" yaml:"key,omitempty"`
}

// UnmarshalYAML accepts a plain string or a mapping.
func (s *Subscription) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		s.Topic = n.Value
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a topic or {topic, shared, key}", n.Line)
	}
	type plain Subscription
	var p plain
	if err := decodeStrict(n, &p); err != nil {
		return err
	}
	*s = Subscription(p)
	return nil
}

// MarshalYAML writes a plain string when nothing but the topic is set.
func (s Subscription) MarshalYAML() (any, error) {
	if s.Shared == "" && s.Key == "" {
		return s.Topic, nil
	}
	type plain Subscription
	return plain(s), nil
}

// UnmarshalJSON accepts a plain string or an object.
func (s *Subscription) UnmarshalJSON(b []byte) error {
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return err
	}
	if len(n.Content) == 0 {
		return fmt.Errorf("empty subscription")
	}
	return s.UnmarshalYAML(n.Content[0])
}

// decodeStrict decodes n into v, rejecting unknown fields.
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	return decodeYAML(b, v)
}
