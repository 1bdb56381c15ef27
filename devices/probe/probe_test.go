package probe

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

func TestProbeHost(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c, err := p.Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("probe took %s: %+v", time.Since(start), c)
	if c.OS != runtime.GOOS || c.Arch != runtime.GOARCH || c.Cores < 1 || c.Memory == 0 || c.Disk == 0 || c.Live.MemoryFree == 0 || c.Kernel == "" {
		t.Fatalf("implausible host capability: %+v", c)
	}
}

// writeTree creates files under root: path → content.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const pi4CPUInfo = `processor	: 0
BogoMIPS	: 108.00
Features	: fp asimd evtstrm crc32 cpuid
CPU implementer	: 0x41
CPU architecture: 8
CPU part	: 0xd08

Hardware	: BCM2835
Model		: Raspberry Pi 4 Model B Rev 1.4
`

// A Raspberry Pi 4 as the probe sees it through /proc, /sys and /dev.
func pi4Tree(t *testing.T) string {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"proc/cpuinfo":                                         pi4CPUInfo,
		"proc/device-tree/model":                               "Raspberry Pi 4 Model B Rev 1.4\x00",
		"dev/gpiochip0":                                        "",
		"sys/bus/gpio/devices/gpiochip0/label":                 "pinctrl-bcm2711\n",
		"dev/i2c-1":                                            "",
		"dev/spidev0.0":                                        "",
		"dev/ttyUSB0":                                          "",
		"dev/video0":                                           "",
		"sys/class/video4linux/video0/name":                    "unicam\n",
		"sys/class/video4linux/video0/index":                   "0\n",
		"dev/video1":                                           "",
		"sys/class/video4linux/video1/index":                   "1\n",
		"dev/apex_0":                                           "",
		"sys/bus/usb/devices/1-1/idVendor":                     "18d1\n",
		"sys/bus/usb/devices/1-1/idProduct":                    "9302\n",
		"sys/bus/usb/devices/1-2/idVendor":                     "046d\n",
		"sys/bus/usb/devices/1-2/idProduct":                    "c52b\n",
		"sys/class/thermal/thermal_zone0/temp":                 "81500\n",
		"sys/class/thermal/thermal_zone0/trip_point_0_type":    "passive\n",
		"sys/class/thermal/thermal_zone0/trip_point_0_temp":    "80000\n",
		"sys/class/thermal/thermal_zone0/trip_point_1_type":    "critical\n",
		"sys/class/thermal/thermal_zone0/trip_point_1_temp":    "90000\n",
		"sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq": "1800000\n",
		"sys/devices/system/cpu/cpu0/cpufreq/scaling_max_freq": "1800000\n",
	})
	return root
}

func TestProbeTree(t *testing.T) {
	root := pi4Tree(t)
	p, err := New(Config{Root: root, DiskPath: root})
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Board != "Raspberry Pi 4 Model B Rev 1.4" || c.CPUModel != "BCM2835" || c.CPUMHz != 1800 {
		t.Errorf("board %q model %q MHz %v", c.Board, c.CPUModel, c.CPUMHz)
	}
	want := []kernel.Device{
		{Kind: kernel.DeviceCamera, Path: "/dev/video0", Model: "unicam"},
		{Kind: kernel.DeviceGPIO, Path: "/dev/gpiochip0", Model: "pinctrl-bcm2711"},
		{Kind: kernel.DeviceI2C, Path: "/dev/i2c-1"},
		{Kind: kernel.DeviceNPU, Path: "/dev/apex_0", Model: "Coral Edge TPU (PCIe)"},
		{Kind: kernel.DeviceNPU, Path: "usb:1-1", Model: "Coral Edge TPU (USB)"},
		{Kind: kernel.DeviceSerial, Path: "/dev/ttyUSB0"},
		{Kind: kernel.DeviceSPI, Path: "/dev/spidev0.0"},
	}
	if len(c.Devices) != len(want) {
		t.Fatalf("devices %+v", c.Devices)
	}
	for i := range want {
		if c.Devices[i] != want[i] {
			t.Errorf("device %d = %+v, want %+v", i, c.Devices[i], want[i])
		}
	}
	if c.Live.TempC != 81.5 || c.Live.TempLimitC != 80 || !c.Live.Throttled {
		t.Errorf("live %+v: want 81.5 C over an 80 C limit, throttled", c.Live)
	}
}

func TestThrottleSignals(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  bool
	}{
		{"pi firmware throttled", map[string]string{"sys/devices/platform/soc/soc:firmware/get_throttled": "0x50005"}, true},
		{"pi firmware only past events", map[string]string{"sys/devices/platform/soc/soc:firmware/get_throttled": "0x50000"}, false},
		{"cool", map[string]string{
			"sys/class/thermal/thermal_zone0/temp":              "45000",
			"sys/class/thermal/thermal_zone0/trip_point_0_type": "passive",
			"sys/class/thermal/thermal_zone0/trip_point_0_temp": "85000",
		}, false},
		{"frequency capped", map[string]string{
			"sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq": "2400000",
			"sys/devices/system/cpu/cpu0/cpufreq/scaling_max_freq": "1500000",
		}, true},
		{"nothing known", nil, false},
	}
	for _, tc := range cases {
		root := t.TempDir()
		writeTree(t, root, tc.files)
		if got := throttled(root, readThermal(root)); got != tc.want {
			t.Errorf("%s: throttled = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestArchVariant(t *testing.T) {
	cases := []struct {
		goarch, cpuinfo, want string
	}{
		{"arm", "CPU architecture: 7\nFeatures: half thumb fastmult vfp edsp neon vfpv3", "armv7"},
		{"arm", "model name: ARMv6-compatible processor rev 7 (v6l)\nFeatures: half thumb fastmult vfp edsp java tls\nCPU architecture: 7", "armv6"},
		{"arm", "Features: half thumb fastmult vfp edsp java tls", "armv6"},
		{"arm", "CPU architecture: 8", "armv7"},
		{"arm64", "CPU architecture: 8", "arm64"},
		{"amd64", "flags: fpu sse4_2 popcnt ssse3 avx2 bmi1 bmi2 fma movbe", "x86-64-v3"},
		{"amd64", "flags: fpu sse4_2 popcnt ssse3", "x86-64-v2"},
		{"amd64", "flags: fpu", "x86-64-v1"},
		{"riscv64", "", "riscv64"},
	}
	for _, tc := range cases {
		if got := archVariant(tc.goarch, parseCPUInfo(tc.cpuinfo)); got != tc.want {
			t.Errorf("%s %q: %s, want %s", tc.goarch, tc.cpuinfo, got, tc.want)
		}
	}
}

func TestOverridesAndScorer(t *testing.T) {
	root := pi4Tree(t)
	calls := 0
	p, err := New(Config{
		Root: root,
		Override: kernel.Capability{
			Cores: 4, Memory: 4 << 30, Board: "test board", Devices: []kernel.Device{},
			Live: kernel.LiveStats{TempC: 40, Load1: 0.5},
		},
		Scorer: func(context.Context) (int, error) { calls++; return 321, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Cores != 4 || c.Memory != 4<<30 || c.Board != "test board" || len(c.Devices) != 0 || c.Live.TempC != 40 || c.Live.Load1 != 0.5 || c.Score != 321 || calls != 1 {
		t.Fatalf("overrides not applied: %+v (scorer calls %d)", c, calls)
	}
	boom := errors.New("no engine")
	p, _ = New(Config{Root: root, Scorer: func(context.Context) (int, error) { return 0, boom }})
	if _, err := p.Probe(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("scorer error: %v", err)
	}
	if _, err := New(Config{Root: "relative", Interval: -1}); err == nil {
		t.Fatal("bad config accepted")
	}
}

func TestMonitorRefreshes(t *testing.T) {
	p, err := New(Config{Interval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m, err := p.Monitor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	updates := make(chan kernel.LiveStats, 100)
	done := make(chan error)
	go func() { done <- m.Run(ctx, func(l kernel.LiveStats) { updates <- l }) }()
	for range 3 {
		select {
		case l := <-updates:
			if l.MeasuredAt.IsZero() || l.MemoryFree == 0 {
				t.Fatalf("update %+v", l)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no refresh")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if m.Refreshes() < 4 || m.Latest().MeasuredAt.IsZero() {
		t.Fatalf("refreshes %d", m.Refreshes())
	}
}

func FuzzParseCPUInfo(f *testing.F) {
	f.Add(pi4CPUInfo)
	f.Add("flags: a b c\nmodel name: x\n")
	f.Add(":::\n\x00")
	f.Fuzz(func(t *testing.T, s string) {
		ci := parseCPUInfo(s)
		for _, arch := range []string{"arm", "arm64", "amd64"} {
			if archVariant(arch, ci) == "" {
				t.Fatal("empty variant")
			}
		}
	})
}
