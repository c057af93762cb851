#!/usr/bin/env bash
# Tests scripts/check_build_deps.sh on the build that runs this test:
#   1. the real package list passes;
#   2. a list without libfmt-dev fails, naming libfmt-dev (its headers are included everywhere);
#   3. a list without ocl-icd-opencl-dev fails, naming it (oneDNN's CMake config links OpenCL);
#   4. a file that no package owns fails, naming the file;
#   5. bad arguments exit 2 with a message that names them.
# Usage: check_build_deps_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
source_dir="$1"
build_dir="$2"
check="$source_dir/scripts/check_build_deps.sh"
setup="$source_dir/scripts/setup.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

expect() {  # expect NAME WANTED_RC WANTED_TEXT -- COMMAND...
  local name="$1" want_rc="$2" want_text="$3"
  shift 4
  local out rc
  out="$("$@" 2>&1)"
  rc=$?
  if [ "$rc" -eq "$want_rc" ] && grep -qF -- "$want_text" <<< "$out"; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name: exit $rc (wanted $want_rc), output wanted to contain '$want_text':"
    sed 's/^/     /' <<< "$out"
    failed=$((failed + 1))
  fi
}

# Copies of setup.sh whose package list lacks one package.
for pkg in libfmt-dev ocl-icd-opencl-dev; do
  sed -E "/^  [^#]/ s/(^| )$pkg( |\$)/\\1\\2/" "$setup" > "$work/setup-without-$pkg.sh"
  if ! bash "$work/setup-without-$pkg.sh" --print-packages > "$work/list-without-$pkg" ||
     grep -qx -- "$pkg" "$work/list-without-$pkg"; then
    echo "FAIL could not remove $pkg from the list"; exit 1
  fi
done

expect "real list passes" 0 "each installed by" -- "$check" "$build_dir"
expect "without libfmt-dev fails naming it" 1 "package libfmt-dev (e.g. /usr/include/fmt/" -- \
  "$check" "$build_dir" "$work/setup-without-libfmt-dev.sh"
expect "without ocl-icd-opencl-dev fails naming it" 1 "package ocl-icd-opencl-dev (e.g. " -- \
  "$check" "$build_dir" "$work/setup-without-ocl-icd-opencl-dev.sh"

# A minimal Ninja build whose link line names a library that no package installed.
fake="$work/fake-build"
mkdir -p "$fake" "$work/local/lib"
touch "$work/local/lib/libhandmade.so"
cat > "$fake/build.ninja" <<NINJA
rule link
  command = true
build app: link
  LINK_LIBRARIES = $work/local/lib/libhandmade.so
build build.ninja: phony
NINJA
echo "CMAKE_CXX_COMPILER:FILEPATH=$(command -v c++)" > "$fake/CMakeCache.txt"
expect "unowned file fails naming it" 1 "$work/local/lib/libhandmade.so is used by the build but belongs to no Debian package" -- \
  "$check" "$fake"

expect "no argument" 2 "usage:" -- "$check"
expect "BUILD_DIR without build.ninja" 2 "BUILD_DIR '$work/local' has no build.ninja" -- "$check" "$work/local"
expect "missing SETUP_SCRIPT" 2 "SETUP_SCRIPT '$work/none.sh' does not exist" -- "$check" "$build_dir" "$work/none.sh"
expect "setup.sh rejects an unknown flag" 2 "unknown argument '--frobnicate'" -- "$setup" --frobnicate

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
