# The README's two commands: `go run ./cmd/kysod` and `make test`.
.PHONY: test run build bench

test:
	./scripts/test.sh

run:
	go run ./cmd/kysod

build:
	go build -o bin/ ./cmd/...

bench:
	go run ./cmd/kyso bench keys
