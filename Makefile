# p2pchat: `make demo` runs the system locally, `make test` runs every test.
GO ?= go
BIN := bin

.PHONY: all build test test-short lint fuzz bench bench-quick bench-chatd attack demo demo-stop demo-nat clean deb

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# The whole suite: format and vet checks, then go test -race over every
# package. As root it installs and starts what the system suites need
# (PostgreSQL, tmux, iptables, miniupnpd); otherwise those suites skip with a
# printed reason. Under CI=true nothing skips.
test:
	bash scripts/test.sh

# Unit tests only, no root setup.
test-short:
	$(GO) test -race -short ./...

lint:
	bash scripts/lint.sh

# Every fuzz target for a short while (FUZZTIME=2m make fuzz for longer).
fuzz:
	bash scripts/fuzz.sh $(or $(FUZZTIME),20s)

bench:
	bash scripts/bench.sh

# One short round of every figure; chatd's figures alone.
bench-quick:
	QUICK=1 bash scripts/bench.sh

bench-chatd:
	bash scripts/bench-chatd.sh

# The attack suite and its figures (FULL=1 make attack adds 100 SIGKILLs).
attack:
	bash scripts/attack.sh

# Debian packages p2pchat (chatd, chatctl) and chat-tracker in dist/, with
# the version from git (scripts/version.sh).
deb:
	bash packaging/deb/build.sh dist

demo: build
	bash scripts/demo.sh start

demo-stop:
	bash scripts/demo.sh stop

# As root: alice and bob behind two home routers in network namespaces
# (cone NAT; DEMO_NAT=symmetric for symmetric), a relayed first message and
# the path moving to punched; Ctrl-C stops it and removes everything.
demo-nat: build
	bash scripts/demo-nat.sh

clean:
	rm -rf $(BIN) .demo .demo-nat dist
