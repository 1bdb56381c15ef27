package wasmhost

import (
	"strings"
	"testing"

	"github.com/canopy-fleet/canopy/kernel"
)

// TestTaskConfigValidateNamesFields: each negative limit is named.
func TestTaskConfigValidateNamesFields(t *testing.T) {
	err := TaskConfig{ID: "x", Limits: kernel.Limits{KV: -1, LogRate: -1}}.Validate()
	for _, want := range []string{"limits.kv: negative", "limits.logRate: negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %q", err, want)
		}
	}
}
