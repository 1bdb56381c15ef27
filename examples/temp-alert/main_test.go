//go:build !wasip1

package main

import (
	"testing"

	"github.com/canopy-fleet/canopy/examples/internal/tasktest"
)

func TestMain(m *testing.M) { tasktest.Main(m) }
