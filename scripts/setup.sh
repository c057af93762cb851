#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and benchmarking mha needs.
# Idempotent: when everything is present it changes nothing and skips 'apt-get update'.
#   scripts/setup.sh                   install what is missing
#   scripts/setup.sh --print-packages  print the package list, one per line, and exit
# docs/install.md says why each package is here; scripts/check_build_deps.sh checks that a build
# used nothing from outside this list (and what apt pulls in through Depends).
set -euo pipefail

packages=(
  # toolchain and build
  g++ cmake ninja-build pkg-config git
  # libraries the code includes and links
  libfmt-dev nlohmann-json3-dev libcli11-dev libutf8proc-dev
  libdnnl-dev libhwy-dev
  # Debian's oneDNN is built with the OpenCL GPU runtime: its CMake config runs
  # find_package(OpenCL REQUIRED) and its target links OpenCL::OpenCL. libdnnl-dev only
  # *recommends* the package that provides libOpenCL.so and the headers, so it is named here.
  ocl-icd-opencl-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # PyTorch (reference outputs, the speed comparison) calls whichever libblas.so.3 is selected;
  # Debian's default is the unoptimised reference BLAS, OpenBLAS takes over when installed.
  python3 python3-torch python3-numpy libopenblas0-pthread
  # the Python extension module (python/) and its tests
  pybind11-dev python3-dev python3-pytest
  # the fuzz preset (Clang, libFuzzer, sanitizer runtimes), Clang's OpenMP, and LLVM's archiver
  # (CMake archives Clang builds with llvm-ar and llvm-ranlib when they are installed)
  clang libclang-rt-14-dev libomp-dev llvm
  # sequence-parallel attention (mha::dist, src/dist) and its tests under mpirun
  libopenmpi-dev openmpi-bin
  # the browser tests of the head view
  chromium
)

if [ "${1:-}" = "--print-packages" ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
elif [ $# -gt 0 ]; then
  echo "setup: unknown argument '$1' (expected no argument or --print-packages)" >&2
  exit 2
fi

# The browser tests (tests/browser) drive Debian's Chromium through playwright-core from npm,
# pinned in tests/browser/package-lock.json; no browser is downloaded. Node.js and npm come with
# the machine; without them the tests are skipped (cmake says so).
browser_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
if command -v node >/dev/null && command -v npm >/dev/null; then
  wanted=$(node -p "require('$browser_dir/package-lock.json').packages['node_modules/playwright-core'].version")
  have=$(node -p "try { require('$browser_dir/node_modules/playwright-core/package.json').version } catch { '' }")
  if [ "$wanted" = "$have" ]; then
    echo "setup: playwright-core $have present"
  else
    echo "setup: npm ci in tests/browser (playwright-core $wanted)"
    (cd "$browser_dir" && npm ci --no-audit --no-fund --ignore-scripts)
  fi
else
  echo "setup: node or npm not found; the browser tests will be skipped"
fi

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
