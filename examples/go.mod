module github.com/canopy-fleet/canopy/examples

go 1.26.8

require github.com/canopy-fleet/canopy/sdk/go v0.0.0

replace github.com/canopy-fleet/canopy/sdk/go => ../sdk/go
