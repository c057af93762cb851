#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and benchmarking mha needs.
# Idempotent: when everything is present it changes nothing and skips 'apt-get update'.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git
  libfmt-dev nlohmann-json3-dev libcli11-dev libutf8proc-dev
  libdnnl-dev libhwy-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-torch python3-numpy
)

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
