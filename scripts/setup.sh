#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and benchmarking mha needs.
# Idempotent: when everything is present it changes nothing and skips 'apt-get update'.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git
  libfmt-dev nlohmann-json3-dev libcli11-dev libutf8proc-dev
  libdnnl-dev libhwy-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # PyTorch (reference outputs, the speed comparison) calls whichever libblas.so.3 is selected;
  # Debian's default is the unoptimised reference BLAS, OpenBLAS takes over when installed.
  python3 python3-torch python3-numpy libopenblas0-pthread
  clang libclang-rt-14-dev libomp-dev
  chromium
)

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
