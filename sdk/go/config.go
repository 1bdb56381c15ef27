package canopy

import "unsafe"

// Config returns the value of key from the config: section of the task's
// manifest (or `canopy run --config key=value`), and whether it is set.
// Config values are strings; parse them with strconv and report a bad one:
//
//	limit := 30.0
//	if s, ok := canopy.Config("threshold"); ok {
//		v, err := strconv.ParseFloat(s, 64)
//		if err != nil {
//			panic("config threshold: " + err.Error())
//		}
//		limit = v
//	}
//
// Each call asks the host and allocates the returned string; read the
// config once, in init, rather than per message. Outside a task Config
// reports nothing set.
func Config(key string) (string, bool) {
	v, err := fetchValue(hostConfigGet, key)
	if err != nil {
		return "", false
	}
	// v is a fresh copy nobody else holds: share its bytes with the string.
	return unsafe.String(unsafe.SliceData(v), len(v)), true
}

// ConfigOr returns the config value of key, or def if it is not set.
func ConfigOr(key, def string) string {
	if v, ok := Config(key); ok {
		return v
	}
	return def
}
