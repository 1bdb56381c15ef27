package route

import "strings"

// trie indexes topic filters by level; "+" and "#" levels have their own
// edges so matching a topic visits only the branches that can match.
type trie struct{ root node }

type node struct {
	children map[string]*node
	plus     *node
	hash     []*binding // filters ending in "#" here
	exact    []*binding // filters ending exactly here
}

func (t *trie) insert(filter string, b *binding) {
	n := &t.root
	for level := range strings.SplitSeq(filter, "/") {
		switch level {
		case "#":
			n.hash = append(n.hash, b)
			return
		case "+":
			if n.plus == nil {
				n.plus = &node{}
			}
			n = n.plus
		default:
			if n.children == nil {
				n.children = map[string]*node{}
			}
			c := n.children[level]
			if c == nil {
				c = &node{}
				n.children[level] = c
			}
			n = c
		}
	}
	n.exact = append(n.exact, b)
}

// remove deletes b from filter's place; empty nodes are left (they cost a
// map entry and are reused when the filter comes back).
func (t *trie) remove(filter string, b *binding) {
	n := &t.root
	for level := range strings.SplitSeq(filter, "/") {
		switch level {
		case "#":
			n.hash = without(n.hash, b)
			return
		case "+":
			n = n.plus
		default:
			n = n.children[level]
		}
		if n == nil {
			return
		}
	}
	n.exact = without(n.exact, b)
}

func without(bs []*binding, b *binding) []*binding {
	out := bs[:0]
	for _, x := range bs {
		if x != b {
			out = append(out, x)
		}
	}
	return out
}

// match calls fn for every binding whose filter matches topic, with MQTT's
// rules (see kernel.MatchTopic), including that wildcards at the first level
// do not match topics starting with "$".
func (t *trie) match(topic string, fn func(*binding)) {
	dollar := len(topic) > 0 && topic[0] == '$'
	matchNode(&t.root, topic, true, dollar, fn)
}

func matchNode(n *node, rest string, more, dollar bool, fn func(*binding)) {
	if !dollar {
		for _, b := range n.hash { // "#" matches the parent level too
			fn(b)
		}
	}
	if !more {
		for _, b := range n.exact {
			fn(b)
		}
		return
	}
	level, next, nmore := strings.Cut(rest, "/")
	if c := n.children[level]; c != nil {
		matchNode(c, next, nmore, false, fn)
	}
	if n.plus != nil && !dollar {
		matchNode(n.plus, next, nmore, false, fn)
	}
}
