package fleetgen

import "github.com/canopy-fleet/canopy/kernel"

// Profile is a kind of device found in edge fleets.
type Profile struct {
	Name    string
	Arch    string
	Variant string
	Cores   int
	Memory  kernel.Bytes
	Score   int // wasm benchmark score, 1000 = reference machine
	Devices []kernel.DeviceKind
	// Weight is how common the profile is among leaves.
	Weight int
}

// LeafProfiles are the devices leaves are drawn from.
var LeafProfiles = []Profile{
	{Name: "pi-zero", Arch: "arm", Variant: "armv6", Cores: 1, Memory: 512 * kernel.MiB, Score: 60, Devices: []kernel.DeviceKind{kernel.DeviceGPIO, kernel.DeviceI2C}, Weight: 15},
	{Name: "pi-3", Arch: "arm64", Variant: "arm64", Cores: 4, Memory: 1 * kernel.GiB, Score: 260, Devices: []kernel.DeviceKind{kernel.DeviceGPIO, kernel.DeviceI2C, kernel.DeviceSPI}, Weight: 20},
	{Name: "pi-4", Arch: "arm64", Variant: "arm64", Cores: 4, Memory: 4 * kernel.GiB, Score: 560, Devices: []kernel.DeviceKind{kernel.DeviceGPIO, kernel.DeviceI2C, kernel.DeviceSPI, kernel.DeviceCamera}, Weight: 30},
	{Name: "pi-5", Arch: "arm64", Variant: "arm64", Cores: 4, Memory: 8 * kernel.GiB, Score: 1100, Devices: []kernel.DeviceKind{kernel.DeviceGPIO, kernel.DeviceI2C}, Weight: 15},
	{Name: "jetson-orin-nano", Arch: "arm64", Variant: "arm64", Cores: 6, Memory: 8 * kernel.GiB, Score: 1500, Devices: []kernel.DeviceKind{kernel.DeviceGPU, kernel.DeviceCamera}, Weight: 5},
	{Name: "coral-dev", Arch: "arm64", Variant: "arm64", Cores: 4, Memory: 4 * kernel.GiB, Score: 700, Devices: []kernel.DeviceKind{kernel.DeviceNPU, kernel.DeviceGPIO}, Weight: 5},
	{Name: "x86-nuc", Arch: "amd64", Cores: 8, Memory: 16 * kernel.GiB, Score: 2600, Weight: 7},
	{Name: "riscv-board", Arch: "riscv64", Cores: 4, Memory: 2 * kernel.GiB, Score: 300, Devices: []kernel.DeviceKind{kernel.DeviceGPIO, kernel.DeviceSerial}, Weight: 3},
}

// GatewayProfile is an industrial gateway box.
var GatewayProfile = Profile{Name: "gateway-x86", Arch: "amd64", Cores: 4, Memory: 8 * kernel.GiB, Score: 1800, Devices: []kernel.DeviceKind{kernel.DeviceSerial}}

// ControllerProfile is a server in the control room.
var ControllerProfile = Profile{Name: "server", Arch: "amd64", Cores: 16, Memory: 64 * kernel.GiB, Score: 3500}

// SensorKinds are what leaves' sensors measure; topics are
// sensors/<site>/<node>/<kind>.
var SensorKinds = []string{"temperature", "vibration", "power", "humidity"}
