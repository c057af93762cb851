#!/usr/bin/env bash
# Checks the #include lines against the layering of docs/design.md, with the dependency table of
# src/CMakeLists.txt (the DEPENDS of each mha_component) as the one source of the rule:
#   - src/NAME and include/mha/NAME include public headers (mha/X/...) only of NAME and of the
#     layers NAME lists in DEPENDS: skipping a level through a dependency's own includes is not
#     allowed either (the build's header views enforce only the direction);
#   - private headers (src/X/..., written "X/...") only of NAME itself and of core;
#   - library code never includes the umbrella mha/mha.hpp, and no include climbs with "../";
#   - apps/ and bench/ include public headers only (mha/...), besides their own.
# Usage: scripts/check_layering.sh [SOURCE_DIR]; prints one line per violation and exits 1.
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
table="$root/src/CMakeLists.txt"
[ -f "$table" ] || { echo "check_layering: no $table" >&2; exit 2; }

# "name dep dep ..." per component, from lines like: mha_component(layers DEPENDS core io SOURCES
mapfile -t components < <(sed -n -E 's/^mha_component\(([a-z_]+)( DEPENDS ([a-z_ ]+))? SOURCES$/\1 \3/p' "$table")
[ ${#components[@]} -gt 0 ] || { echo "check_layering: no mha_component(...) line in $table" >&2; exit 2; }
names=()
for line in "${components[@]}"; do read -r name _ <<< "$line"; names+=("$name"); done
is_component() { local x; for x in "${names[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }

violations=0
report() { echo "check_layering: $1"; violations=$((violations + 1)); }

# includes FILE...: "file:line:path" for every #include "path"
includes() { grep -HnoE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[^"]+"' "$@" 2>/dev/null | sed -E 's/:[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)"$/:\1/' || true; }

for line in "${components[@]}"; do
  read -r name deps <<< "$line"
  allowed=" $name $deps "
  mapfile -t files < <(find "$root/src/$name" "$root/include/mha/$name" -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) 2>/dev/null | sort)
  [ ${#files[@]} -gt 0 ] || continue
  while IFS= read -r hit; do
    file="${hit%%:*}"; rest="${hit#*:}"; path="${rest#*:}"; where="${file#"$root"/}:${rest%%:*}"
    case "$path" in
      *../*) report "$where includes \"$path\": no include climbs out of its folder" ;;
      mha/mha.hpp) report "$where includes the umbrella mha/mha.hpp: library code names what it uses" ;;
      mha/*/*)
        layer="${path#mha/}"; layer="${layer%%/*}"
        if is_component "$layer" && [[ "$allowed" != *" $layer "* ]]; then
          report "$where includes $path, but $name may use only:$(printf ' %s' $name $deps)"
        fi ;;
      */*)
        layer="${path%%/*}"
        if is_component "$layer" && [ "$layer" != "$name" ] && [ "$layer" != core ]; then
          report "$where includes $layer's private header $path (only $name's own and core's are allowed)"
        fi ;;
    esac
  done < <(includes "${files[@]}")
done

mapfile -t app_files < <(find "$root/apps" "$root/bench" -type f \( -name '*.cpp' -o -name '*.hpp' \) 2>/dev/null | sort)
if [ ${#app_files[@]} -gt 0 ]; then
  while IFS= read -r hit; do
    file="${hit%%:*}"; rest="${hit#*:}"; path="${rest#*:}"; where="${file#"$root"/}:${rest%%:*}"
    layer="${path%%/*}"
    if [[ "$path" == */* ]] && is_component "$layer"; then
      report "$where includes the private header $path: apps and benchmarks use public headers (mha/...) only"
    fi
    [[ "$path" == *../* ]] && report "$where includes \"$path\": no include climbs out of its folder"
  done < <(includes "${app_files[@]}")
fi

if [ $violations -gt 0 ]; then
  echo "check_layering: $violations violation(s) of the table in src/CMakeLists.txt"
  exit 1
fi
echo "check_layering: every #include in src/, include/mha/, apps/ and bench/ keeps the layering of src/CMakeLists.txt (${#names[@]} components)"
