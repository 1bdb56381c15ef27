package kernel

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxManifestSize is the largest manifest accepted.
const MaxManifestSize = 1 << 20

// FieldError is a problem with one field of a manifest or config.
type FieldError struct {
	Field string // dotted path, e.g. "limits.memory"
	Msg   string
}

// Error prints the field and what is wrong with it.
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// FieldErrors is every problem found in one validation, in field order.
type FieldErrors []*FieldError

// Error joins every problem on one line.
func (es FieldErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (es *FieldErrors) add(field, format string, args ...any) {
	*es = append(*es, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (es FieldErrors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// ParseDeployment reads a deployment manifest (YAML or JSON), rejecting
// unknown fields and bad units, fills defaults and validates it. Errors name
// the field at fault.
func ParseDeployment(data []byte) (*Deployment, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("manifest larger than %s", Bytes(MaxManifestSize))
	}
	var d Deployment
	if err := decodeYAML(data, &d); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	d.SetDefaults()
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// decodeYAML decodes exactly one YAML document strictly.
func decodeYAML(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty document")
		}
		return cleanYAMLError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	b, err := yaml.Marshal(&doc)
	if err != nil {
		return cleanYAMLError(err)
	}
	strict := yaml.NewDecoder(bytes.NewReader(b))
	strict.KnownFields(true)
	if err := strict.Decode(v); err != nil {
		return nameField(&doc, cleanYAMLError(err))
	}
	return nil
}

// nameField prefixes err with the path of the field whose value it quotes
// (a bad size or duration), since the value's own parser does not know
// which field it is in.
func nameField(doc *yaml.Node, err error) error {
	var path string
	var walk func(n *yaml.Node, at string)
	walk = func(n *yaml.Node, at string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, at)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if at != "" {
					k = at + "." + k
				}
				walk(n.Content[i+1], k)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", at, i))
			}
		case yaml.ScalarNode:
			if path == "" && at != "" && n.Value != "" && strings.Contains(err.Error(), fmt.Sprintf("%q", n.Value)) {
				path = at
			}
		}
	}
	walk(doc, "")
	if path == "" {
		return err
	}
	return &FieldError{Field: path, Msg: err.Error()}
}

var unknownFieldRE = regexp.MustCompile(`^(line \d+: )field (\S+) not found in type \S+$`)

// cleanYAMLError turns yaml.v3's multi-line type errors into one line.
func cleanYAMLError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = unknownFieldRE.ReplaceAllString(m, `${1}unknown field "$2"`)
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
}

// SetDefaults fills the fields a manifest may leave out.
func (d *Deployment) SetDefaults() {
	if d.Type == "" {
		d.Type = TypeService
	}
	if d.Replicas == 0 && !d.Every {
		d.Replicas = 1
	}
	if d.Restart == "" {
		if d.Type == TypeJob {
			d.Restart = RestartOnFailure
		} else {
			d.Restart = RestartAlways
		}
	}
	if d.Rollout.MaxParallel == 0 {
		d.Rollout.MaxParallel = 1
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidName checks a deployment or node name: DNS-label style, 1 to 63
// lowercase letters, digits and dashes.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// Validate reports every problem with the deployment at once, each naming
// its field.
func (d *Deployment) Validate() error {
	var es FieldErrors
	if d.APIVersion != APIVersion {
		es.add("apiVersion", "must be %q, got %q", APIVersion, d.APIVersion)
	}
	if d.Kind != KindDeployment {
		es.add("kind", "must be %q, got %q", KindDeployment, d.Kind)
	}
	if !ValidName(d.Name) {
		es.add("name", "%q is not a valid name (lowercase letters, digits and dashes, at most 63)", d.Name)
	}
	if d.Module == "" {
		es.add("module", "required: a .wasm path or sha256:HEX")
	} else if h, ok := strings.CutPrefix(d.Module, "sha256:"); ok && !isHex(h, 64) {
		es.add("module", "sha256 digest must be 64 hex digits")
	}
	switch d.Type {
	case TypeService, TypeJob:
	default:
		es.add("type", "must be service or job, got %q", d.Type)
	}
	switch {
	case d.Every && d.Replicas != 0 && d.Replicas != 1:
		es.add("replicas", "cannot be set together with every: true")
	case d.Replicas < 0:
		es.add("replicas", "must not be negative")
	case d.Replicas > 100000:
		es.add("replicas", "at most 100000")
	}
	for i, a := range d.Selector.Arch {
		if a == "" || strings.ContainsAny(a, " /") {
			es.add(fmt.Sprintf("selector.arch[%d]", i), "bad architecture %q", a)
		}
	}
	if d.Requires.Memory < 0 {
		es.add("requires.memory", "must not be negative")
	}
	if d.Requires.Score < 0 {
		es.add("requires.score", "must not be negative")
	}
	for i, dev := range d.Requires.Devices {
		if !knownDevice(dev) {
			es.add(fmt.Sprintf("requires.devices[%d]", i), "unknown device kind %q", dev)
		}
	}
	if d.Near != nil {
		d.Near.validate(&es)
	}
	for i, s := range d.Subscribe {
		f := fmt.Sprintf("subscribe[%d]", i)
		if err := ValidateTopicFilter(s.Topic); err != nil {
			es.add(f, "%v", err)
		}
		switch s.Shared {
		case "", ShareRoundRobin, ShareLeastLoaded, ShareHash:
		default:
			es.add(f+".shared", "must be round-robin, least-loaded or hash, got %q", s.Shared)
		}
		switch {
		case s.Key != "" && s.Shared != ShareHash:
			es.add(f+".key", "only with shared: hash")
		case s.Key != "" && s.Key != "topic" && s.Key != "payload":
			es.add(f+".key", "must be topic or payload, got %q", s.Key)
		}
	}
	for i, p := range d.Publish {
		// Publish grants may use wildcards: they are filters over the
		// topics the task may publish on.
		if err := ValidateTopicFilter(p); err != nil {
			es.add(fmt.Sprintf("publish[%d]", i), "%v", err)
		}
	}
	if d.Type == TypeJob && len(d.Subscribe) > 0 {
		es.add("subscribe", "a job runs to completion and cannot subscribe; use type: service")
	}
	d.Limits.validate(&es)
	for k := range d.Config {
		if k == "" {
			es.add("config", "empty key")
		}
	}
	if d.Rollout.MaxParallel < 0 {
		es.add("rollout.maxParallel", "must not be negative")
	}
	if d.Rollout.Canary < 0 {
		es.add("rollout.canary", "must not be negative")
	}
	if !d.Every && d.Replicas > 0 && d.Rollout.Canary > d.Replicas {
		es.add("rollout.canary", "%d canaries but only %d replicas", d.Rollout.Canary, d.Replicas)
	}
	switch d.Restart {
	case RestartAlways, RestartOnFailure, RestartNever:
	default:
		es.add("restart", "must be always, on-failure or never, got %q", d.Restart)
	}
	if d.Priority < 0 || d.Priority > 1000 {
		es.add("priority", "must be between 0 and 1000")
	}
	return es.err()
}

func (n *Near) validate(es *FieldErrors) {
	set := 0
	for _, s := range []string{n.Topic, string(n.Node), n.Label} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		es.add("near", "name exactly one of topic, node or label")
	}
	if n.Topic != "" {
		if err := ValidateTopicFilter(n.Topic); err != nil {
			es.add("near.topic", "%v", err)
		}
	}
	if n.Label != "" {
		if k, _, ok := strings.Cut(n.Label, "="); !ok || k == "" {
			es.add("near.label", "want k=v, got %q", n.Label)
		}
	}
}

func (l *Limits) validate(es *FieldErrors) {
	if l.Memory != 0 && (l.Memory < 64*KiB || l.Memory > 4*GiB) {
		es.add("limits.memory", "must be between 64KiB and 4GiB, got %s", l.Memory)
	}
	if l.CallTimeout != 0 && l.CallTimeout.D() < 1_000_000 {
		es.add("limits.callTimeout", "must be at least 1ms, got %s", l.CallTimeout)
	}
	if l.KV < 0 {
		es.add("limits.kv", "must not be negative")
	}
	if l.PublishRate < 0 {
		es.add("limits.publishRate", "must not be negative")
	}
	if l.PublishSize < 0 || l.PublishSize > 16*MiB {
		es.add("limits.publishSize", "must be between 0 and 16MiB")
	}
	if l.LogRate < 0 {
		es.add("limits.logRate", "must not be negative")
	}
}

func knownDevice(k DeviceKind) bool {
	switch k {
	case DeviceGPIO, DeviceI2C, DeviceSPI, DeviceSerial, DeviceCamera, DeviceGPU, DeviceNPU:
		return true
	}
	return false
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
