package kernel

import (
	"strings"
	"testing"
)

const contractExample = `
apiVersion: canopy/v1
kind: Deployment
name: temp-alert
module: ./temp_alert.wasm
type: service
replicas: 3
selector:
  labels: {site: plant-1}
  arch: [arm64, amd64]
requires: {memory: 32MiB, score: 100, devices: [gpio]}
near: {topic: "sensors/+/temperature", maxLatency: 20ms}
subscribe: ["sensors/+/temperature"]
publish: ["alerts/temperature"]
tick: 1s
limits: {memory: 16MiB, callTimeout: 50ms, kv: 1MiB, publishRate: 100}
config: {threshold: "30"}
rollout: {maxParallel: 1, canary: 1, healthyFor: 10s, autoRollback: true}
restart: always
priority: 50
`

func TestParseDeploymentContractExample(t *testing.T) {
	d, err := ParseDeployment([]byte(contractExample))
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "temp-alert" || d.Replicas != 3 || d.Limits.Memory != 16*MiB ||
		d.Limits.CallTimeout.D().Milliseconds() != 50 || d.Requires.Memory != 32*MiB ||
		d.Near.MaxLatency.D().Milliseconds() != 20 || d.Subscribe[0].Topic != "sensors/+/temperature" ||
		d.Config["threshold"] != "30" || !*d.Rollout.AutoRollback || d.Priority != 50 {
		t.Fatalf("parsed wrong: %+v", d)
	}
}

func TestParseDeploymentRejects(t *testing.T) {
	base := "apiVersion: canopy/v1\nkind: Deployment\nname: a\nmodule: a.wasm\n"
	cases := []struct {
		name, yaml, field string
	}{
		{"unknown field", base + "replica: 3\n", "replica"},
		{"bad memory unit", base + "limits: {memory: 16 parsecs}\n", "limits.memory: bad size \"16 parsecs\""},
		{"bad duration", base + "tick: soon\n", "tick: bad duration \"soon\""},
		{"bad duration in a list", base + "rollout: {healthyFor: 3 weeks}\n", "rollout.healthyFor"},
		{"every and replicas", base + "every: true\nreplicas: 3\n", "replicas"},
		{"job subscribes", base + "type: job\nsubscribe: [a/b]\n", "subscribe"},
		{"bad filter", base + "subscribe: [a/b#]\n", "subscribe[0]"},
		{"two near targets", base + "near: {topic: a, node: b}\n", "near"},
		{"bad name", strings.Replace(base, "name: a", "name: A_b", 1), "name"},
		{"bad version", strings.Replace(base, "canopy/v1", "canopy/v9", 1), "apiVersion"},
		{"bad share", base + "subscribe: [{topic: a, shared: random}]\n", "subscribe[0].shared"},
		{"tiny memory", base + "limits: {memory: 1KiB}\n", "limits.memory"},
		{"bad digest", strings.Replace(base, "a.wasm", "sha256:xyz", 1), "module"},
		{"unknown device", base + "requires: {devices: [laser]}\n", "requires.devices[0]"},
		{"two documents", base + "---\n" + base, "more than one"},
		{"empty", "", "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseDeployment([]byte(c.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Fatalf("error %q does not name %q", err, c.field)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestParseDeploymentDefaults(t *testing.T) {
	d, err := ParseDeployment([]byte("apiVersion: canopy/v1\nkind: Deployment\nname: j\nmodule: j.wasm\ntype: job\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Replicas != 1 || d.Restart != RestartOnFailure || d.Rollout.MaxParallel != 1 {
		t.Fatalf("defaults: %+v", d)
	}
}

func FuzzParseDeployment(f *testing.F) {
	f.Add([]byte(contractExample))
	f.Add([]byte("subscribe: [{topic: a, shared: hash, key: payload}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDeployment(b)
		if err == nil && d.Validate() != nil {
			t.Fatal("parsed manifest does not validate")
		}
	})
}
