# The two commands: `make run` and `make test`. Both install what is missing first.
BUILD_TYPE ?= Release
BUILD_DIR ?= build
JOBS ?= 2
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 300

export CC := clang
export CXX := clang++

.PHONY: all setup configure build run demo test test-asan fuzz bench format tidy clean

all: build

setup:
	@bash scripts/setup

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSWITCHBOARD_WERROR=ON $(CMAKE_FLAGS)

configure: setup $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j$(JOBS)

# The call server in development mode on 127.0.0.1:8480 (fixed, documented secret).
run: build
	@echo "Switchboard server starting. Join it from other terminals, one per participant:"
	@echo "  $(BUILD_DIR)/bin/switchboard chat --server ws://127.0.0.1:8480 --call demo --user alice --dev"
	@echo "  $(BUILD_DIR)/bin/switchboard chat --server ws://127.0.0.1:8480 --call demo --user bob --dev"
	@echo "or open http://127.0.0.1:8480/ in a browser (the Web demo: chat and files), a tab per participant."
	$(BUILD_DIR)/bin/switchboard-server --dev --bind 127.0.0.1 --port 8480

# The DataChannel rules in one process, no network.
demo: build
	$(BUILD_DIR)/bin/switchboard demo

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) --timeout 600

# The test suite built with AddressSanitizer and UBSan (clang; -fno-sanitize-recover, so
# any UB aborts the test) in build-asan (docs/testing.md). The web tests (label web) are
# left out by default: Chromium itself is not instrumented, so they only add the server
# paths the integration tests already drive, at several minutes each. Nor are the
# packet-loss cases (label loss): 100,000 messages under a stall bound, made for a
# Release build; the sanitized transport is 3-5 times slower. Nor is the packaging test
# (label package): it links an example without sanitizer flags against the installed,
# sanitized library, which cannot link. `make test-asan ASAN_CTEST_FLAGS=` runs everything.
ASAN_BUILD_DIR ?= build-asan
ASAN_CTEST_FLAGS ?= -LE "web|loss|package"
test-asan: setup
	cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DSWITCHBOARD_WERROR=ON -DSWITCHBOARD_SANITIZE=ON -DSWITCHBOARD_FUZZ=OFF \
	  -DSWITCHBOARD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD_DIR) -j$(JOBS)
	cd $(ASAN_BUILD_DIR) && \
	  ASAN_OPTIONS="$${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}" \
	  UBSAN_OPTIONS="$${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
	  ctest --output-on-failure -j$(JOBS) --timeout 900 $(ASAN_CTEST_FLAGS)

# Each fuzz target for FUZZ_SECONDS seconds (make test runs each briefly).
fuzz: build
	@bash scripts/fuzz $(BUILD_DIR) $(FUZZ_SECONDS)

bench: build
	@bash scripts/bench $(BUILD_DIR)

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

tidy: configure
	git ls-files 'src/*.cpp' 'apps/*.cpp' | xargs clang-tidy -p $(BUILD_DIR) --quiet

clean:
	rm -rf $(BUILD_DIR)
