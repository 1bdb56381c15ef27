package probe

import (
	"bufio"
	"strconv"
	"strings"
)

// cpuinfo holds the /proc/cpuinfo fields the probe uses.
type cpuinfo struct {
	model    string // "model name" or "Model"/"Hardware"
	armArch  int    // "CPU architecture" (ARM), 0 if absent
	flags    map[string]bool
	features map[string]bool // ARM "Features"
}

func parseCPUInfo(s string) cpuinfo {
	ci := cpuinfo{flags: map[string]bool{}, features: map[string]bool{}}
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "model name":
			if ci.model == "" {
				ci.model = v
			}
		case "Model", "Hardware":
			if ci.model == "" && v != "" {
				ci.model = v
			}
		case "CPU architecture":
			if ci.armArch == 0 {
				ci.armArch, _ = strconv.Atoi(strings.TrimPrefix(v, "AArch"))
			}
		case "flags":
			if len(ci.flags) == 0 {
				for _, f := range strings.Fields(v) {
					ci.flags[f] = true
				}
			}
		case "Features":
			if len(ci.features) == 0 {
				for _, f := range strings.Fields(v) {
					ci.features[f] = true
				}
			}
		}
	}
	return ci
}

// archVariant names the instruction-set level: armv6/armv7/arm64 on ARM
// (a 32-bit userland on an ARMv8 core reports armv7, since that is what it
// can run), x86-64-v1..v4 on amd64, else goarch.
func archVariant(goarch string, ci cpuinfo) string {
	switch goarch {
	case "arm64":
		return "arm64"
	case "arm":
		switch {
		case strings.Contains(ci.model, "ARMv6"):
			// The ARM1176 of a Pi 1 / Zero reports "CPU architecture: 7".
			return "armv6"
		case ci.armArch >= 7:
			return "armv7"
		case ci.armArch == 6 || ci.features["vfp"] && !ci.features["neon"]:
			return "armv6"
		case ci.armArch > 0:
			return "armv" + strconv.Itoa(ci.armArch)
		}
		return "arm"
	case "amd64":
		f := ci.flags
		switch {
		case f["avx512f"] && f["avx512bw"] && f["avx512cd"] && f["avx512dq"] && f["avx512vl"]:
			return "x86-64-v4"
		case f["avx2"] && f["bmi1"] && f["bmi2"] && f["fma"] && f["movbe"]:
			return "x86-64-v3"
		case f["sse4_2"] && f["popcnt"] && f["ssse3"]:
			return "x86-64-v2"
		}
		return "x86-64-v1"
	}
	return goarch
}
