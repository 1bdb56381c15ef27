package probe

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/canopy-fleet/canopy/kernel"
)

// devicePattern maps device nodes under /dev to a kind.
var devicePatterns = []struct {
	glob  string
	kind  kernel.DeviceKind
	model string
}{
	{"gpiochip*", kernel.DeviceGPIO, ""},
	{"i2c-*", kernel.DeviceI2C, ""},
	{"spidev*", kernel.DeviceSPI, ""},
	{"ttyUSB*", kernel.DeviceSerial, ""},
	{"ttyACM*", kernel.DeviceSerial, ""},
	{"ttyAMA*", kernel.DeviceSerial, ""},
	{"video*", kernel.DeviceCamera, ""},
	{"nvidia[0-9]*", kernel.DeviceGPU, "NVIDIA GPU"},
	{"nvhost-gpu", kernel.DeviceGPU, "NVIDIA Tegra GPU"},
	{"dri/renderD*", kernel.DeviceGPU, "DRM render node"},
	{"apex_*", kernel.DeviceNPU, "Coral Edge TPU (PCIe)"},
	{"hailo*", kernel.DeviceNPU, "Hailo NPU"},
	{"rknpu*", kernel.DeviceNPU, "Rockchip NPU"},
	{"accel/accel*", kernel.DeviceNPU, "accelerator"},
}

// usbNPUs are USB accelerators recognised by vendor:product id.
var usbNPUs = map[string]string{
	"1a6e:089a": "Coral Edge TPU (USB, bootloader)",
	"18d1:9302": "Coral Edge TPU (USB)",
	"03e7:2485": "Intel Movidius MyriadX",
}

// attached lists the hardware found under root, sorted by path.
func attached(root string) []kernel.Device {
	var out []kernel.Device
	for _, p := range devicePatterns {
		matches, _ := filepath.Glob(filepath.Join(root, "dev", p.glob))
		for _, m := range matches {
			rel := "/" + strings.TrimPrefix(strings.TrimPrefix(m, root), "/")
			d := kernel.Device{Kind: p.kind, Path: rel, Model: p.model}
			if p.kind == kernel.DeviceCamera {
				if !isCaptureNode(root, filepath.Base(m)) {
					continue
				}
				d.Model = readTrim(filepath.Join(root, "sys/class/video4linux", filepath.Base(m), "name"))
			}
			if p.kind == kernel.DeviceGPIO {
				d.Model = readTrim(filepath.Join(root, "sys/bus/gpio/devices", filepath.Base(m), "label"))
			}
			out = append(out, d)
		}
	}
	out = append(out, usbAccelerators(root)...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// isCaptureNode filters out the metadata nodes a UVC camera also creates:
// when sysfs says the node's index is not 0, it is not the capture node.
func isCaptureNode(root, name string) bool {
	idx := readTrim(filepath.Join(root, "sys/class/video4linux", name, "index"))
	return idx == "" || idx == "0"
}

func usbAccelerators(root string) []kernel.Device {
	var out []kernel.Device
	dirs, _ := filepath.Glob(filepath.Join(root, "sys/bus/usb/devices", "*"))
	for _, d := range dirs {
		id := readTrim(filepath.Join(d, "idVendor")) + ":" + readTrim(filepath.Join(d, "idProduct"))
		if model, ok := usbNPUs[id]; ok {
			out = append(out, kernel.Device{Kind: kernel.DeviceNPU, Path: "usb:" + filepath.Base(d), Model: model})
		}
	}
	return out
}

// readTrim reads a small sysfs/procfs file, trimming whitespace and NULs;
// missing files read as "".
func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimRight(strings.TrimSpace(string(b)), "\x00")
}
