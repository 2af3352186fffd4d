#!/usr/bin/env bash
# Installs the build into a scratch prefix and builds examples/hello against it with
# find_package(switchboard) and with pkg-config; both binaries, and the installed
# programs, must run (--help).
#
# usage: install_and_build_example.sh CMAKE BUILD_DIR EXAMPLE_DIR CXX PKG_CONFIG MAKE_PROGRAM SCRATCH
set -euo pipefail
cmake=$1 build=$2 example=$3 cxx=$4 pkg_config=$5 make_program=$6 scratch=$7

rm -rf "$scratch"
mkdir -p "$scratch"
prefix=$scratch/prefix

step() { echo "== $*"; }

# What the install copies must exist (a no-op after a full build).
step "build what gets installed"
"$cmake" --build "$build" --target switchboard_sdk switchboard switchboard-server

step "install $build into $prefix"
"$cmake" --install "$build" --prefix "$prefix"

for f in include/switchboard/switchboard.hpp include/switchboard/call_client.hpp \
         bin/switchboard; do
  test -e "$prefix/$f" || { echo "missing after install: $f"; exit 1; }
done
lib=$(find "$prefix" -name 'libswitchboard.so' | head -n1)
test -n "$lib" || { echo "missing after install: libswitchboard.so"; exit 1; }
config=$(find "$prefix" -name switchboardConfig.cmake | head -n1)
test -n "$config" || { echo "missing after install: switchboardConfig.cmake"; exit 1; }
pc=$(find "$prefix" -name switchboard.pc | head -n1)
test -n "$pc" || { echo "missing after install: switchboard.pc"; exit 1; }

step "installed programs run"
"$prefix/bin/switchboard" --help >/dev/null
if [ -e "$prefix/bin/switchboard-server" ]; then "$prefix/bin/switchboard-server" --help >/dev/null; fi

step "find_package(switchboard): configure and build examples/hello"
"$cmake" -S "$example" -B "$scratch/hello-cmake" -G Ninja \
  -DCMAKE_MAKE_PROGRAM="$make_program" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
"$cmake" --build "$scratch/hello-cmake"
"$scratch/hello-cmake/hello" --help

step "pkg-config --cflags --libs switchboard: compile examples/hello"
flags=$(PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_LIBDIR="$(dirname "$pc")" \
  "$pkg_config" --cflags --libs switchboard)
echo "pkg-config: $flags"
libdir=$(dirname "$lib")
# shellcheck disable=SC2086
"$cxx" -std=c++20 "$example/hello.cpp" $flags -Wl,-rpath,"$libdir" -o "$scratch/hello-pkgconfig"
"$scratch/hello-pkgconfig" --help

step "both example binaries use the installed library"
# (ldd's output is captured first: grep -q stopping early would fail the pipe under pipefail)
for program in "$scratch/hello-cmake/hello" "$scratch/hello-pkgconfig"; do
  libs=$(ldd "$program")
  grep -q "$libdir/libswitchboard.so" <<<"$libs" || { echo "$program: $libs"; exit 1; }
done
echo "ok"
