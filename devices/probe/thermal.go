package probe

import (
	"path/filepath"
	"strconv"
	"strings"
)

// thermal is what the thermal zones say.
type thermal struct {
	tempC  float64 // hottest zone
	limitC float64 // lowest passive/hot/critical trip point of that zone
}

func readThermal(root string) thermal {
	var t thermal
	zones, _ := filepath.Glob(filepath.Join(root, "sys/class/thermal/thermal_zone*"))
	for _, z := range zones {
		milli, err := strconv.ParseFloat(readTrim(filepath.Join(z, "temp")), 64)
		if err != nil {
			continue
		}
		c := milli / 1000
		if c <= t.tempC && t.tempC != 0 {
			continue
		}
		t.tempC = c
		t.limitC = 0
		trips, _ := filepath.Glob(filepath.Join(z, "trip_point_*_type"))
		for _, tp := range trips {
			switch readTrim(tp) {
			case "passive", "hot", "critical":
			default:
				continue
			}
			v, err := strconv.ParseFloat(readTrim(strings.TrimSuffix(tp, "_type")+"_temp"), 64)
			if err != nil || v <= 0 {
				continue
			}
			if l := v / 1000; t.limitC == 0 || l < t.limitC {
				t.limitC = l
			}
		}
	}
	return t
}

// throttled reports whether the CPU is being held back right now: the
// Raspberry Pi firmware's flags when present (bit 1 frequency capped, bit 2
// throttled), else a temperature at or over the limit, else cpufreq's
// policy maximum well below the hardware maximum.
func throttled(root string, th thermal) bool {
	if s := readTrim(filepath.Join(root, "sys/devices/platform/soc/soc:firmware/get_throttled")); s != "" {
		if v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 32); err == nil {
			return v&0b110 != 0
		}
	}
	if th.limitC > 0 && th.tempC >= th.limitC {
		return true
	}
	policyMax, err1 := strconv.ParseFloat(readTrim(filepath.Join(root, "sys/devices/system/cpu/cpu0/cpufreq/scaling_max_freq")), 64)
	hwMax, err2 := strconv.ParseFloat(readTrim(filepath.Join(root, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")), 64)
	return err1 == nil && err2 == nil && hwMax > 0 && policyMax < 0.9*hwMax
}
