# Canopy's two commands: `make demo` runs the main job, `make test` runs every
# test (installing what the tests need first). CI runs `make test` via .ci/run.

GO ?= go
BIN := bin/canopy
# Go modules in this repository besides the root one.
SUBMODULES := sdk/go examples

.PHONY: all build demo test deps vet examples bench clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/canopy

# examples builds every example task to examples/*/*.wasm.
examples:
	$(MAKE) -C examples

# demo is the main job until `canopy up` exists: the temperature-alert
# example under `canopy run`, fed by the sensor simulator, on the embedded broker.
demo: build examples
	./$(BIN) run -f examples/temp-alert/manifest.yaml --simulate 8 --config threshold=24

deps:
	bash .ci/deps

vet:
	@out=$$("$$($(GO) env GOROOT)/bin/gofmt" -l .); if [ -n "$$out" ]; then echo "gofmt -w needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	for m in $(SUBMODULES); do (cd $$m && GOOS=wasip1 GOARCH=wasm $(GO) vet ./...) || exit 1; done

test: deps examples vet
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m ./...
	cd sdk/go && $(GO) test -race -count=1 ./...
	cd examples && $(GO) test -count=1 -timeout 10m ./...

bench: build examples
	./$(BIN) bench

clean:
	rm -rf bin
	$(MAKE) -C examples clean
