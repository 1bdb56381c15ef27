//go:build !wasip1

package test

import (
	"testing"

	"github.com/canopy-fleet/canopy/examples/internal/tasktest"
)

func TestMain(m *testing.M) { tasktest.Main(m) }
