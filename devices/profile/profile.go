// Package profile holds device profiles for simulation: the capability of
// common edge hardware with realistic figures, reported through the same
// kernel types as a real probe, so a simulated node is indistinguishable
// from a measured one to the scheduler.
//
// Scores are on the probe's scale, where the reference machine scores 1000;
// the reference is one core of a current x86-64 server (the x86-server
// profile). Edge figures follow the single-core ratios published for these
// SoCs (e.g. a Cortex-A76 at 2.4 GHz runs about half as fast as a current
// server core, an A53 at 1 GHz about a twelfth).
package profile

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/canopy-fleet/canopy/kernel"
)

// Profile is one kind of device.
type Profile struct {
	Name string
	// Capability holds the static facts; Live holds idle figures.
	Capability kernel.Capability
	// SensorKinds are the sensors such a device typically carries; a
	// simulated node publishes them under sensors/<node>/<kind>.
	SensorKinds []string
}

const (
	mib = kernel.Bytes(1 << 20)
	gib = kernel.Bytes(1 << 30)
)

var profiles = map[string]Profile{
	"pi-zero-2w": {
		Name: "pi-zero-2w",
		Capability: kernel.Capability{
			OS: "linux", Arch: "arm64", ArchVariant: "arm64",
			CPUModel: "Cortex-A53", Cores: 4, CPUMHz: 1000,
			Memory: 512 * mib, Disk: 16 * gib,
			Board: "Raspberry Pi Zero 2 W Rev 1.0", Kernel: "6.6.51+rpt-rpi-v8",
			Devices: []kernel.Device{
				{Kind: kernel.DeviceGPIO, Path: "/dev/gpiochip0", Model: "pinctrl-bcm2835"},
				{Kind: kernel.DeviceI2C, Path: "/dev/i2c-1"},
				{Kind: kernel.DeviceSPI, Path: "/dev/spidev0.0"},
				{Kind: kernel.DeviceSerial, Path: "/dev/ttyAMA0"},
			},
			Score: 85,
			Live:  kernel.LiveStats{CPUPercent: 4, Load1: 0.1, MemoryFree: 330 * mib, DiskFree: 10 * gib, TempC: 42, TempLimitC: 80},
		},
		SensorKinds: []string{"temperature", "humidity"},
	},
	"pi-4": {
		Name: "pi-4",
		Capability: kernel.Capability{
			OS: "linux", Arch: "arm64", ArchVariant: "arm64",
			CPUModel: "Cortex-A72", Cores: 4, CPUMHz: 1800,
			Memory: 4 * gib, Disk: 32 * gib,
			Board: "Raspberry Pi 4 Model B Rev 1.5", Kernel: "6.6.51+rpt-rpi-v8",
			Devices: []kernel.Device{
				{Kind: kernel.DeviceCamera, Path: "/dev/video0", Model: "unicam"},
				{Kind: kernel.DeviceGPIO, Path: "/dev/gpiochip0", Model: "pinctrl-bcm2711"},
				{Kind: kernel.DeviceI2C, Path: "/dev/i2c-1"},
				{Kind: kernel.DeviceSerial, Path: "/dev/ttyUSB0"},
				{Kind: kernel.DeviceSPI, Path: "/dev/spidev0.0"},
			},
			Score: 230,
			Live:  kernel.LiveStats{CPUPercent: 3, Load1: 0.15, MemoryFree: 3 * gib, DiskFree: 22 * gib, TempC: 48, TempLimitC: 80},
		},
		SensorKinds: []string{"temperature", "humidity", "vibration"},
	},
	"pi-5": {
		Name: "pi-5",
		Capability: kernel.Capability{
			OS: "linux", Arch: "arm64", ArchVariant: "arm64",
			CPUModel: "Cortex-A76", Cores: 4, CPUMHz: 2400,
			Memory: 8 * gib, Disk: 64 * gib,
			Board: "Raspberry Pi 5 Model B Rev 1.0", Kernel: "6.6.51+rpt-rpi-2712",
			Devices: []kernel.Device{
				{Kind: kernel.DeviceCamera, Path: "/dev/video0", Model: "rp1-cfe"},
				{Kind: kernel.DeviceGPIO, Path: "/dev/gpiochip4", Model: "pinctrl-rp1"},
				{Kind: kernel.DeviceI2C, Path: "/dev/i2c-1"},
				{Kind: kernel.DeviceNPU, Path: "/dev/hailo0", Model: "Hailo-8L (AI Kit)"},
				{Kind: kernel.DeviceSerial, Path: "/dev/ttyAMA0"},
				{Kind: kernel.DeviceSPI, Path: "/dev/spidev0.0"},
			},
			Score: 520,
			Live:  kernel.LiveStats{CPUPercent: 2, Load1: 0.1, MemoryFree: 7 * gib, DiskFree: 50 * gib, TempC: 52, TempLimitC: 85},
		},
		SensorKinds: []string{"temperature", "humidity", "vibration", "power"},
	},
	"jetson-orin-nano": {
		Name: "jetson-orin-nano",
		Capability: kernel.Capability{
			OS: "linux", Arch: "arm64", ArchVariant: "arm64",
			CPUModel: "Cortex-A78AE", Cores: 6, CPUMHz: 1510,
			Memory: 8 * gib, Disk: 128 * gib,
			Board: "NVIDIA Jetson Orin Nano Developer Kit", Kernel: "5.15.136-tegra",
			Devices: []kernel.Device{
				{Kind: kernel.DeviceCamera, Path: "/dev/video0", Model: "vi-output, imx219"},
				{Kind: kernel.DeviceGPIO, Path: "/dev/gpiochip0", Model: "tegra234-gpio"},
				{Kind: kernel.DeviceGPU, Path: "/dev/nvhost-gpu", Model: "NVIDIA Ampere (1024 CUDA cores)"},
				{Kind: kernel.DeviceI2C, Path: "/dev/i2c-7"},
				{Kind: kernel.DeviceSerial, Path: "/dev/ttyTHS0"},
				{Kind: kernel.DeviceSPI, Path: "/dev/spidev0.0"},
			},
			Score: 440,
			Live:  kernel.LiveStats{CPUPercent: 5, Load1: 0.4, MemoryFree: 6 * gib, DiskFree: 100 * gib, TempC: 50, TempLimitC: 95},
		},
		SensorKinds: []string{"temperature", "vibration", "power"},
	},
	"industrial-gateway": {
		Name: "industrial-gateway",
		Capability: kernel.Capability{
			OS: "linux", Arch: "amd64", ArchVariant: "x86-64-v2",
			CPUModel: "Intel(R) Celeron(R) J6412 @ 2.00GHz", Cores: 4, CPUMHz: 2600,
			Memory: 8 * gib, Disk: 128 * gib,
			Board: "Advantech UNO-2271G V2", Kernel: "6.1.0-25-amd64",
			Devices: []kernel.Device{
				{Kind: kernel.DeviceGPIO, Path: "/dev/gpiochip0", Model: "INTC1055:00"},
				{Kind: kernel.DeviceGPU, Path: "/dev/dri/renderD128", Model: "Intel UHD Graphics (Elkhart Lake)"},
				{Kind: kernel.DeviceSerial, Path: "/dev/ttyS0"},
				{Kind: kernel.DeviceSerial, Path: "/dev/ttyUSB0"},
			},
			Score: 380,
			Live:  kernel.LiveStats{CPUPercent: 6, Load1: 0.3, MemoryFree: 6 * gib, DiskFree: 100 * gib, TempC: 55, TempLimitC: 105},
		},
		SensorKinds: []string{"temperature", "vibration", "power"},
	},
	"x86-server": {
		Name: "x86-server",
		Capability: kernel.Capability{
			OS: "linux", Arch: "amd64", ArchVariant: "x86-64-v4",
			CPUModel: "Intel(R) Xeon(R) Gold 6338N CPU @ 2.20GHz", Cores: 64, CPUMHz: 3500,
			Memory: 256 * gib, Disk: 3840 * gib,
			Board: "Supermicro SYS-110P-WTR", Kernel: "6.8.0-45-generic",
			Devices: []kernel.Device{
				{Kind: kernel.DeviceGPU, Path: "/dev/nvidia0", Model: "NVIDIA L4"},
			},
			Score: 1000,
			Live:  kernel.LiveStats{CPUPercent: 10, Load1: 4, MemoryFree: 200 * gib, DiskFree: 3000 * gib, TempC: 45, TempLimitC: 100},
		},
		SensorKinds: nil,
	},
}

// Names lists the profiles, sorted.
func Names() []string {
	out := make([]string, 0, len(profiles))
	for n := range profiles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Get returns the named profile (a deep copy).
func Get(name string) (Profile, error) {
	p, ok := profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("unknown device profile %q (have: %v)", name, Names())
	}
	p.Capability.Devices = slices.Clone(p.Capability.Devices)
	p.SensorKinds = slices.Clone(p.SensorKinds)
	return p, nil
}

// CapabilityFor is what a node simulating this profile reports: the profile's
// figures, named for the node, with sensor topics sensors/<node>/<kind>, its
// live figures stamped now, and the score scaled by scale (1 when the
// simulated fleet runs at real speed; the host's own score / 1000 to keep
// ratios honest when simulated tasks run on this machine).
func (p Profile) CapabilityFor(node string, now time.Time, scale float64) kernel.Capability {
	c := p.Capability
	c.Devices = slices.Clone(c.Devices)
	c.Profile = p.Name
	c.Hostname = node
	c.Sensors = nil
	for _, k := range p.SensorKinds {
		c.Sensors = append(c.Sensors, "sensors/"+node+"/"+k)
	}
	if scale > 0 {
		c.Score = max(1, int(float64(c.Score)*scale+0.5))
	}
	c.Live.MeasuredAt = now
	c.Live.Uptime = 0
	return c
}
