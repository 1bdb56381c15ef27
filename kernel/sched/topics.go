package sched

import "strings"

// topicTrie indexes sensor topics by level so that a filter with wildcards
// visits only the branches it can match, not every topic in the fleet.
type topicTrie struct {
	list  []*topicTrie // the children
	names []string     // their level names, parallel to list
	// children indexes the children by name once there are many; with a
	// few, a linear search is faster and allocates no map.
	children map[string]*topicTrie
	topic    int32 // topic id ending here, or -1
}

// trieMapAt is the number of children from which a node keeps a map.
const trieMapAt = 8

// child returns the child named level, or nil.
func (t *topicTrie) child(level string) *topicTrie {
	if t.children != nil {
		return t.children[level]
	}
	for k, name := range t.names {
		if name == level {
			return t.list[k]
		}
	}
	return nil
}

func newTopicTrie() *topicTrie { return &topicTrie{topic: -1} }

func (t *topicTrie) insert(topic string, id int32) {
	n := t
	for {
		level, rest, more := strings.Cut(topic, "/")
		ch := n.child(level)
		if ch == nil {
			ch = newTopicTrie()
			n.list = append(n.list, ch)
			n.names = append(n.names, level)
			switch {
			case n.children != nil:
				n.children[level] = ch
			case len(n.list) >= trieMapAt:
				n.children = make(map[string]*topicTrie, len(n.list))
				for k, name := range n.names {
					n.children[name] = n.list[k]
				}
			}
		}
		n = ch
		if !more {
			n.topic = id
			return
		}
		topic = rest
	}
}

// match calls fn for every topic id matching the MQTT filter, with
// kernel.MatchTopic's rules: "+" is one level, a trailing "#" the level
// before it and everything below, and wildcards at the first level do not
// match topics starting with "$".
func (t *topicTrie) match(filter string, fn func(int32)) {
	t.walk(filter, true, fn)
}

func (t *topicTrie) walk(filter string, first bool, fn func(int32)) {
	level, rest, more := strings.Cut(filter, "/")
	switch level {
	case "#":
		if t.topic >= 0 && !first {
			fn(t.topic) // "a/#" matches "a"
		}
		for k, ch := range t.list {
			if first && strings.HasPrefix(t.names[k], "$") {
				continue
			}
			ch.all(fn)
		}
	case "+":
		for k, ch := range t.list {
			if first && strings.HasPrefix(t.names[k], "$") {
				continue
			}
			ch.step(rest, more, fn)
		}
	default:
		if ch := t.child(level); ch != nil {
			ch.step(rest, more, fn)
		}
	}
}

func (t *topicTrie) step(rest string, more bool, fn func(int32)) {
	if !more {
		if t.topic >= 0 {
			fn(t.topic)
		}
		return
	}
	t.walk(rest, false, fn)
}

func (t *topicTrie) all(fn func(int32)) {
	if t.topic >= 0 {
		fn(t.topic)
	}
	for _, ch := range t.list {
		ch.all(fn)
	}
}
