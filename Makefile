# Test servers are not started here: each test package that needs Redis or
# memcached starts its own through internal/testserver, so after
# scripts/test-deps.sh has installed the binaries, `go test ./...` is enough.

GO ?= go
GOTESTFLAGS ?= -race -count=1
# Where the browser tests save their screenshots.
ARTIFACTS ?= $(CURDIR)/artifacts

.PHONY: test demo vet bench

test:
	bash scripts/test-deps.sh
	DOGPILE_ARTIFACTS=$(ARTIFACTS) $(GO) test $(GOTESTFLAGS) ./...
	cd benchmarks && $(GO) vet ./...

demo:
	$(GO) run ./examples/site

vet:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt needed on:"; echo "$$unformatted"; exit 1; \
	fi
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	cd benchmarks && $(GO) test -run '^$$' -bench . -benchmem ./...
