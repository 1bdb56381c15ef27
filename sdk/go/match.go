package canopy

// Match reports whether the MQTT topic name matches filter, with MQTT's
// rules: + matches exactly one level, a trailing # matches the parent level
// and everything below it, and a filter starting with a wildcard does not
// match a topic starting with '$'. For example
// Match("sensors/+/temperature", "sensors/s1/temperature") is true. It
// allocates nothing.
func Match(filter, topic string) bool {
	if len(topic) > 0 && topic[0] == '$' && len(filter) > 0 && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		fl, frest, fmore := cutLevel(filter)
		if fl == "#" {
			return true
		}
		tl, trest, tmore := cutLevel(topic)
		if fl != "+" && fl != tl {
			return false
		}
		if !fmore || !tmore {
			if !fmore && !tmore {
				return true
			}
			// "a/#" matches "a": the filter has exactly "#" left.
			return !tmore && fmore && frest == "#"
		}
		filter, topic = frest, trest
	}
}

// cutLevel splits s at its first '/'.
func cutLevel(s string) (level, rest string, more bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
