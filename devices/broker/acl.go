package broker

import (
	"crypto/subtle"
	"strings"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/canopy-fleet/canopy/kernel"
)

// authHook authenticates clients and checks topic access. With no users it
// allows everything; with users it denies anything not granted.
type authHook struct {
	mqtt.HookBase
	users map[string]grant // nil: anonymous access

	deniedConnects  atomic.Int64
	deniedPublishes atomic.Int64
	deniedSubs      atomic.Int64
}

// grant is what one user may do.
type grant struct {
	password  []byte
	publish   []string
	subscribe []string
}

func newAuthHook(users []User) *authHook {
	h := &authHook{}
	if len(users) == 0 {
		return h
	}
	h.users = make(map[string]grant, len(users))
	for _, u := range users {
		own := OwnTopics(u.Username)
		h.users[u.Username] = grant{
			password:  []byte(u.Password),
			publish:   append([]string{own}, u.Publish...),
			subscribe: append([]string{own}, u.Subscribe...),
		}
	}
	return h
}

func (h *authHook) ID() string { return "canopy-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

// OnConnectAuthenticate checks the username and password in constant time.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if h.users == nil {
		return true
	}
	g, ok := h.users[string(pk.Connect.Username)]
	if !ok || !pk.Connect.PasswordFlag || subtle.ConstantTimeCompare(g.password, pk.Connect.Password) != 1 {
		h.deniedConnects.Add(1)
		return false
	}
	return true
}

// OnACLCheck is called with the topic name for a publish (write) and with
// the filter for a subscribe (read).
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if h.users == nil {
		return true
	}
	g, ok := h.users[string(cl.Properties.Username)]
	if !ok {
		h.count(write)
		return false
	}
	if write {
		for _, f := range g.publish {
			if kernel.MatchTopic(f, topic) {
				return true
			}
		}
		h.count(write)
		return false
	}
	// A shared subscription "$share/group/filter" is checked on its filter.
	filter := topic
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		if _, f, ok := strings.Cut(rest, "/"); ok {
			filter = f
		}
	}
	for _, f := range g.subscribe {
		if FilterCovers(f, filter) {
			return true
		}
	}
	h.count(write)
	return false
}

func (h *authHook) count(write bool) {
	if write {
		h.deniedPublishes.Add(1)
	} else {
		h.deniedSubs.Add(1)
	}
}

// FilterCovers reports whether every topic the filter sub can match is also
// matched by the filter outer, e.g. "a/#" covers "a/+/b" but "a/+" does not
// cover "a/#".
func FilterCovers(outer, sub string) bool {
	for {
		ol, orest, omore := strings.Cut(outer, "/")
		if ol == "#" {
			return true
		}
		sl, srest, smore := strings.Cut(sub, "/")
		switch {
		case sl == "#":
			return false // sub reaches deeper than a non-# level covers
		case ol == "+":
		case ol != sl:
			return false
		}
		if !omore || !smore {
			if !omore && !smore {
				return true
			}
			// "a/#" covers "a".
			return !smore && omore && orest == "#"
		}
		outer, sub = orest, srest
	}
}
