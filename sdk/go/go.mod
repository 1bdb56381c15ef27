module github.com/canopy-fleet/canopy/sdk/go

go 1.24
