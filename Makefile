# sdnlab: build, test, benchmark and demo. Tests that build labs need root
# (sudo make test); without root they skip with a reason.
GO      ?= go
BIN     := bin/sdnlab
PKGS    := ./...
export PATH := $(PATH):/usr/local/go/bin

.PHONY: build test unit vet bench demo fuzz clean

build:
	$(GO) build -o $(BIN) ./cmd/sdnlab

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet $(PKGS)

# Everything: unit tests, namespace tests and the ginkgo conformance suite.
test: build vet
	$(GO) test -count=1 -timeout 45m $(PKGS)

# Unit tests only (no root needed).
unit:
	$(GO) test -count=1 -short $(PKGS)

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 20m $(PKGS)

demo: build
	./$(BIN) demo

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseSectionConfig -fuzztime 30s ./sdn/config/
	$(GO) test -run '^$$' -fuzz FuzzParseInterfaces -fuzztime 30s ./sdn/config/

clean:
	rm -rf bin
