# Front door of the Flovyn C server. CMake does the building; this file only
# names the everyday commands. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

MAKEFLAGS += --no-print-directory
NPROC := $(shell nproc 2>/dev/null || echo 2)

.PHONY: deps build build-asan test check format bench run clean

# Debian packages (quick no-op when all are installed).
deps:
	scripts/install-deps.sh

# Configure once (cmake re-runs itself when CMakeLists.txt or a glob changes).
build: deps
	@[ -f build/Makefile ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build -j$(NPROC)

# Same with AddressSanitizer + UndefinedBehaviorSanitizer.
build-asan: deps
	@[ -f build-asan/Makefile ] || cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFV_SANITIZE=ON
	cmake --build build-asan -j$(NPROC)

# Source checks, then all tests, plain then sanitized; stops at the first failure.
test: build check
	ctest --test-dir build --output-on-failure --no-tests=error -j2
	$(MAKE) build-asan
	ctest --test-dir build-asan --output-on-failure --no-tests=error -j2

# Banned functions, raw allocation, core/ includes, clang-format, cppcheck.
check: deps
	scripts/check-source.sh

# Rewrite our sources in the house format (.clang-format).
format: deps
	@for d in core ports adapters app cli tests bench; do \
	    if [ -d "$$d" ]; then \
	        find "$$d" -type d \( -name 'build*' -o -name gen \) -prune \
	            -o -type f \( -name '*.c' -o -name '*.h' \) -print; \
	    fi; \
	done | xargs -r clang-format -i

# Every bench/<name>.c, built as build/bench_<name>, then every bench/*.py run
# with /usr/bin/python3 and the path of build/flovyn-server; they print figures.
bench: build
	@shopt -s nullglob; ran=0; \
	for b in build/bench_*; do \
	    [ -f "$$b" ] && [ -x "$$b" ] || continue; \
	    echo "== $$b"; "$$b"; ran=1; \
	done; \
	for p in bench/*.py; do \
	    echo "== $$p"; /usr/bin/python3 "$$p" build/flovyn-server; ran=1; \
	done; \
	[ $$ran = 1 ] || echo "bench: no bench/*.c or bench/*.py yet"

# flovyn-server in memory with development keys and a few demo workers
# (scripts/run-demo.sh); Ctrl-C stops everything. FLOVYN_* variables apply.
run: build
	scripts/run-demo.sh build

clean:
	rm -rf build build-asan
