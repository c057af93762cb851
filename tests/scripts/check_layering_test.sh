#!/usr/bin/env bash
# Tests scripts/check_layering.sh: the real tree passes, and a small tree with one violation of
# each kind fails naming each file and line.
# Usage: check_layering_test.sh SOURCE_DIR
set -uo pipefail
source_dir="$1"
check="$source_dir/scripts/check_layering.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
expect() {  # expect NAME WANTED_RC TEXT... -- COMMAND...: every TEXT must appear in the output
  local name="$1" want_rc="$2"; shift 2
  local texts=()
  while [ "$1" != "--" ]; do texts+=("$1"); shift; done
  shift
  local out rc ok=1 text
  out="$("$@" 2>&1)"; rc=$?
  [ "$rc" -eq "$want_rc" ] || ok=0
  for text in "${texts[@]}"; do grep -qF -- "$text" <<< "$out" || ok=0; done
  if [ $ok -eq 1 ]; then echo "ok   $name"; passed=$((passed + 1))
  else echo "FAIL $name: exit $rc (wanted $want_rc), output:"; sed 's/^/     /' <<< "$out"; failed=$((failed + 1)); fi
}

expect "the real tree passes" 0 "keeps the layering" -- "$check" "$source_dir"

# core ← kernels ← layers ← models, as in src/CMakeLists.txt
t="$work/tree"
mkdir -p "$t"/src/{core,kernels,layers,models} "$t"/include/mha/{core,kernels,layers,models} "$t"/apps/cli
cat > "$t/src/CMakeLists.txt" <<'TABLE'
mha_component(core SOURCES
mha_component(kernels DEPENDS core SOURCES
mha_component(layers DEPENDS core kernels SOURCES
mha_component(models DEPENDS core layers SOURCES
TABLE
printf '#include "mha/core/tensor.hpp"\n#include "core/check.hpp"\n' > "$t/src/layers/fine.cpp"
printf '#include "mha/kernels/attention.hpp"\n#include "mha/layers/x.hpp"\n' > "$t/src/layers/fine2.cpp"
expect "allowed includes pass" 0 "keeps the layering" -- "$check" "$t"

printf '// upward\n#include "mha/models/bert.hpp"\n' > "$t/src/layers/up.cpp"
printf '#include "mha/kernels/attention.hpp"\n' > "$t/include/mha/models/skip.hpp"
printf '#include "kernels/cpu/plan.hpp"\n' > "$t/src/layers/private.cpp"
printf '#include "../kernels/x.hpp"\n' > "$t/src/models/climb.cpp"
printf '#include "mha/mha.hpp"\n' > "$t/src/kernels/umbrella.cpp"
printf '#include "cli_options.hpp"\n#include "layers/mask_views.hpp"\n' > "$t/apps/cli/app.cpp"
expect "each violation is named" 1 \
  "src/layers/up.cpp:2 includes mha/models/bert.hpp, but layers may use only: layers core kernels" \
  "include/mha/models/skip.hpp:1 includes mha/kernels/attention.hpp, but models may use only: models core layers" \
  "src/layers/private.cpp:1 includes kernels's private header kernels/cpu/plan.hpp" \
  "src/models/climb.cpp:1 includes \"../kernels/x.hpp\"" \
  "src/kernels/umbrella.cpp:1 includes the umbrella mha/mha.hpp" \
  "apps/cli/app.cpp:2 includes the private header layers/mask_views.hpp" \
  "6 violation(s)" -- "$check" "$t"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
