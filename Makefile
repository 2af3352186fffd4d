# The two commands: `make run` and `make test`. Both install what is missing first.
BUILD_TYPE ?= Release
BUILD_DIR ?= build
JOBS ?= 2
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 300

export CC := clang
export CXX := clang++

.PHONY: all setup configure build run test fuzz bench format tidy clean

all: build

setup:
	@bash scripts/setup

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSWITCHBOARD_WERROR=ON $(CMAKE_FLAGS)

configure: setup $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j$(JOBS)

run: build
	$(BUILD_DIR)/bin/switchboard demo

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) --timeout 600

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
