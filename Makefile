# Front door. `make run` and `make test` work on a fresh Debian 12 machine: they
# install the Debian packages they need, build, then run.
PRESET ?= release
BUILD := build/$(PRESET)
PREFIX ?= /usr/local
FUZZ_SECONDS ?= 20
KTLS := $(BUILD)/tools/ktls/ktls

.PHONY: all deps build run test unit fuzz asan install format format-check tidy clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET)

# Ends with the HTTPS demo server in the foreground: it prints a curl command to try and
# stops on Ctrl-C with a summary of what ktls sealed and opened.
run: build
	$(KTLS) probe
	$(KTLS) bench crypto --quick
	$(KTLS) serve

# Every test tier that exists (unit, interop, conformance, socket with 1 GiB per suite,
# Linux ABI, OpenSSL bridge, interposer, server, kernel kTLS in a VM), then a short fuzz run.
INTEGRITY_BYTES ?= 1073741824
test: build
	KTLS_INTEGRITY_BYTES=$(INTEGRITY_BYTES) ctest --preset $(PRESET) -j2 --timeout 1800
	@$(MAKE) --no-print-directory fuzz

unit: build
	ctest --preset $(PRESET) --timeout 600

fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz --target fuzzers
	@scripts/run-fuzzers.sh build/fuzz $(FUZZ_SECONDS)

asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan
	ctest --preset asan --timeout 900

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror

tidy: build
	@git ls-files 'src/*.cc' 'tools/*.cc' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf build
