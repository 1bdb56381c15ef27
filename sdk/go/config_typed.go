package canopy

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// ConfigInt returns the config value of key as an int (decimal, or with a
// 0x, 0o or 0b prefix), def if it is not set, or an error naming the key
// if it is set but is not an integer:
//
//	window, err := canopy.ConfigInt("window", 10)
//	if err != nil {
//		panic(err) // in init: the start fails and the log says why
//	}
func ConfigInt(key string, def int) (int, error) {
	return configParse(key, def, "an integer", func(s string) (int, error) {
		v, err := strconv.ParseInt(s, 0, strconv.IntSize)
		return int(v), err
	})
}

// ConfigFloat returns the config value of key as a float64, def if it is
// not set, or an error naming the key if it is not a finite number.
func ConfigFloat(key string, def float64) (float64, error) {
	return configParse(key, def, "a finite number", func(s string) (float64, error) {
		v, err := strconv.ParseFloat(s, 64)
		if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
			err = strconv.ErrSyntax
		}
		return v, err
	})
}

// ConfigBool returns the config value of key as a bool (1, t, true, 0, f,
// false, in any case strconv.ParseBool accepts), def if it is not set, or
// an error naming the key.
func ConfigBool(key string, def bool) (bool, error) {
	return configParse(key, def, "true or false", strconv.ParseBool)
}

// ConfigDuration returns the config value of key as a time.Duration
// ("250ms", "1m30s"), def if it is not set, or an error naming the key.
func ConfigDuration(key string, def time.Duration) (time.Duration, error) {
	return configParse(key, def, "a duration such as 250ms", time.ParseDuration)
}

// configParse reads key with Config and parses it with parse.
func configParse[T any](key string, def T, want string, parse func(string) (T, error)) (T, error) {
	s, ok := Config(key)
	return parseConfigValue(key, s, ok, def, want, parse)
}

// parseConfigValue is configParse after the host call: def when !ok,
// parse(s) or an error naming key otherwise.
func parseConfigValue[T any](key, s string, ok bool, def T, want string, parse func(string) (T, error)) (T, error) {
	if !ok {
		return def, nil
	}
	v, err := parse(s)
	if err != nil {
		return def, fmt.Errorf("config %s: %q is not %s", key, s, want)
	}
	return v, nil
}
