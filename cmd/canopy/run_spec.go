package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/canopy-fleet/canopy/kernel"
)

// runFlags are `canopy run`'s task flags: the same grants and limits a
// manifest gives, so a task behaves under `canopy run` as in a fleet.
type runFlags struct {
	manifest    string
	subscribe   []string
	publish     []string
	memory      kernel.Bytes
	callTimeout time.Duration
	kv          kernel.Bytes
	publishRate int
	config      []string
	tick        time.Duration
	taskType    string
	restart     string
}

func (f *runFlags) register(fs *pflag.FlagSet) {
	def := kernel.DefaultLimits
	f.memory, f.kv = def.Memory, def.KV
	fs.StringVarP(&f.manifest, "file", "f", "", "read the task's grants and limits from this manifest (flags override it)")
	fs.StringArrayVar(&f.subscribe, "subscribe", nil, "topic filter the task receives messages on (repeatable)")
	fs.StringArrayVar(&f.publish, "publish", nil, "topic filter the task may publish to (repeatable)")
	fs.Var(&f.memory, "memory", "linear memory limit, e.g. 16MiB")
	fs.DurationVar(&f.callTimeout, "call-timeout", def.CallTimeout.D(), "time limit per call into the task")
	fs.Var(&f.kv, "kv", "KV storage quota, e.g. 1MiB")
	fs.IntVar(&f.publishRate, "publish-rate", def.PublishRate, "publishes per second")
	fs.StringArrayVar(&f.config, "config", nil, "config value k=v the task reads with config_get (repeatable)")
	fs.DurationVar(&f.tick, "tick", 0, "call canopy_on_tick this often (service only)")
	fs.StringVar(&f.taskType, "type", "", "service or job (default: job if the module exports _start, else service)")
	fs.StringVar(&f.restart, "restart", "never", "restart policy after a failure: never, on-failure or always (with -f: the manifest's, unless this flag is given)")
}

// flagForField maps manifest fields to the flags that set them, so that a
// validation error names what the user typed.
var flagForField = map[string]string{
	"subscribe": "--subscribe", "publish": "--publish", "limits.memory": "--memory",
	"limits.callTimeout": "--call-timeout", "limits.kv": "--kv", "limits.publishRate": "--publish-rate",
	"config": "--config", "type": "--type", "restart": "--restart", "tick": "--tick",
}

var unsafeName = regexp.MustCompile(`[^a-z0-9-]+`)

// taskName derives a deployment-style name from a module path.
func taskName(module string) string {
	base := strings.ToLower(strings.TrimSuffix(filepath.Base(module), filepath.Ext(module)))
	n := strings.Trim(unsafeName.ReplaceAllString(base, "-"), "-")
	if len(n) > 63 {
		n = strings.Trim(n[:63], "-")
	}
	if n == "" {
		n = "task"
	}
	return n
}

// deployment builds the task's deployment from the manifest (if any) and the
// flags that were set, and validates it. It returns the deployment and the
// path of the module file.
func (f *runFlags) deployment(fs *pflag.FlagSet, modulePath string) (*kernel.Deployment, string, error) {
	d := &kernel.Deployment{APIVersion: kernel.APIVersion, Kind: kernel.KindDeployment}
	if f.manifest != "" {
		data, err := os.ReadFile(f.manifest)
		if err != nil {
			return nil, "", fmt.Errorf("read manifest: %w", err)
		}
		md, err := kernel.ParseDeployment(data)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", f.manifest, err)
		}
		d = md
		if modulePath == "" {
			if strings.HasPrefix(d.Module, "sha256:") {
				return nil, "", usageError{fmt.Errorf("%s names an uploaded module (%s): give the .wasm file as an argument", f.manifest, d.Module)}
			}
			modulePath = d.Module
			if !filepath.IsAbs(modulePath) {
				modulePath = filepath.Join(filepath.Dir(f.manifest), modulePath)
			}
		}
	}
	if modulePath == "" {
		return nil, "", usageError{fmt.Errorf("give a MODULE.wasm or -f MANIFEST")}
	}
	if d.Name == "" {
		d.Name = taskName(modulePath)
	}
	d.Module = modulePath
	set := fs.Changed
	if set("subscribe") {
		d.Subscribe = d.Subscribe[:0]
		for _, s := range f.subscribe {
			d.Subscribe = append(d.Subscribe, kernel.Subscription{Topic: s})
		}
	}
	if set("publish") {
		d.Publish = f.publish
	}
	if set("memory") {
		d.Limits.Memory = f.memory
	}
	if set("call-timeout") {
		d.Limits.CallTimeout = kernel.Duration(f.callTimeout)
	}
	if set("kv") {
		d.Limits.KV = f.kv
	}
	if set("publish-rate") {
		d.Limits.PublishRate = f.publishRate
	}
	if set("tick") {
		if f.tick < 0 {
			return nil, "", usageError{fmt.Errorf("--tick: must not be negative, got %s", f.tick)}
		}
		d.Tick = kernel.Duration(f.tick)
	}
	if set("type") {
		d.Type = kernel.TaskType(f.taskType)
	}
	if set("restart") || f.manifest == "" {
		d.Restart = kernel.RestartPolicy(f.restart)
	}
	if set("config") {
		if d.Config == nil {
			d.Config = map[string]string{}
		}
		for _, kv := range f.config {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, "", usageError{fmt.Errorf("--config %q: want k=v", kv)}
			}
			d.Config[k] = v
		}
	}
	typeSet := d.Type != ""
	d.SetDefaults()
	if !typeSet {
		d.Type = "" // decided from the module's exports once it is loaded
	}
	if err := validateRun(d); err != nil {
		return nil, "", err
	}
	return d, modulePath, nil
}

// validateRun validates d, naming flags rather than manifest fields where a
// flag set the field.
func validateRun(d *kernel.Deployment) error {
	check := *d
	if check.Type == "" {
		check.Type = kernel.TypeService
	}
	err := check.Validate()
	if err == nil {
		return nil
	}
	fes, ok := err.(kernel.FieldErrors)
	if !ok {
		return usageError{err}
	}
	parts := make([]string, len(fes))
	for i, fe := range fes {
		name := fe.Field
		root, _, _ := strings.Cut(name, "[")
		if fl, ok := flagForField[root]; ok {
			name = fl + strings.TrimPrefix(name, root)
		}
		parts[i] = name + ": " + fe.Msg
	}
	return usageError{fmt.Errorf("%s", strings.Join(parts, "; "))}
}
