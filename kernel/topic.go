package kernel

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// MaxTopicLen is the longest topic name or filter accepted, as in MQTT.
const MaxTopicLen = 65535

// ValidateTopicName checks a topic a message is published on: non-empty,
// valid UTF-8, no NUL, and no wildcards.
func ValidateTopicName(t string) error {
	if err := validateTopic(t); err != nil {
		return err
	}
	if strings.ContainsAny(t, "+#") {
		return errors.New("wildcards (+, #) are not allowed in a topic name")
	}
	return nil
}

// ValidateTopicFilter checks a subscription filter: like a name, but "+"
// may stand for one whole level and "#" for the remaining levels at the end.
func ValidateTopicFilter(f string) error {
	if err := validateTopic(f); err != nil {
		return err
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case l == "#":
			if i != len(levels)-1 {
				return errors.New("'#' must be the last level")
			}
		case l == "+":
		case strings.ContainsAny(l, "+#"):
			return errors.New("a wildcard must fill a whole level")
		}
	}
	return nil
}

func validateTopic(t string) error {
	switch {
	case t == "":
		return errors.New("empty topic")
	case len(t) > MaxTopicLen:
		return errors.New("topic longer than 65535 bytes")
	case !utf8.ValidString(t):
		return errors.New("topic is not valid UTF-8")
	case strings.IndexByte(t, 0) >= 0:
		return errors.New("topic contains NUL")
	}
	return nil
}

// MatchTopic reports whether the topic name matches the filter, with MQTT's
// rules: "+" matches one level, a trailing "#" matches the parent level and
// everything below it, and filters starting with a wildcard do not match
// names starting with "$".
func MatchTopic(filter, name string) bool {
	if len(name) > 0 && name[0] == '$' && len(filter) > 0 && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		nl, nrest, nmore := strings.Cut(name, "/")
		if fl != "+" && fl != nl {
			return false
		}
		if !fmore || !nmore {
			if !fmore && !nmore {
				return true
			}
			// "a/#" matches "a": the filter has exactly "#" left.
			return !nmore && fmore && frest == "#"
		}
		filter, name = frest, nrest
	}
}
