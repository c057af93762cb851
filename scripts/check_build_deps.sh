#!/usr/bin/env bash
# Fails when a build used a file from a Debian package that scripts/setup.sh does not install.
#
#   scripts/check_build_deps.sh BUILD_DIR [SETUP_SCRIPT]
#
# A package installed by hand makes a build pass on one machine and fail on a new one (oneDNN's
# CMake config needing OpenCL was such a case). This script lists every file from outside the
# source and build trees that the build in BUILD_DIR (a Ninja build that has been built) used:
#   - headers, from the compilers' dependency records (ninja -t deps);
#   - libraries, from the link lines in build.ninja (-lNAME resolved by the compiler);
#   - CMake package configs and find modules that configure read (the inputs of build.ninja);
#   - the programs the build runs (compilers, archiver, cmake, ninja: every absolute path in the
#     rules of CMakeFiles/rules.ninja) and pkg-config, which configure ran;
# maps each file to the package that owns it (dpkg -S) and accepts a package only when it is
#   - printed by SETUP_SCRIPT --print-packages (default scripts/setup.sh), or
#   - reached from those through Depends/Pre-Depends (apt-cache depends --recurse --no-recommends), or
#   - Essential or of Priority required (on every Debian system).
# Otherwise it names the package and one file that came from it, and exits 1.
# A file no package owns (something under /usr/local, say) fails the same way.
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR [SETUP_SCRIPT]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
build_dir="$1"
setup_script="${2:-$(cd "$(dirname "$0")/.." && pwd)/scripts/setup.sh}"
[ -f "$build_dir/build.ninja" ] || { echo "check_build_deps: BUILD_DIR '$build_dir' has no build.ninja (expected a configured Ninja build)" >&2; exit 2; }
[ -f "$setup_script" ] || { echo "check_build_deps: SETUP_SCRIPT '$setup_script' does not exist" >&2; exit 2; }
for tool in ninja dpkg-query apt-cache realpath; do
  command -v "$tool" >/dev/null || { echo "check_build_deps: needs '$tool' on PATH" >&2; exit 2; }
done
build_dir="$(cd "$build_dir" && pwd)"
# The source tree the build was configured from (its files are the project's, not a package's).
source_dir="$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build_dir/CMakeCache.txt" 2>/dev/null)"
[ -n "$source_dir" ] || source_dir="$(cd "$(dirname "$0")/.." && pwd)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- 1. the files the build used ------------------------------------------------------------
{
  # Dependency records: each target line is followed by its inputs, indented.
  ninja -C "$build_dir" -t deps | awk '/^    / { print $1 }'
  # Link lines: absolute library paths and -lNAME.
  grep -h '^  LINK_LIBRARIES = ' "$build_dir/build.ninja" | tr ' ' '\n' | grep -E '^(/|-l)' || true
  # What configure read: the implicit inputs of the rule that regenerates build.ninja.
  ninja -C "$build_dir" -t query build.ninja | awk '$1 == "|" { print $2 }'
  # The programs the build rules run (a tool configure found but no rule uses is left out).
  if [ -f "$build_dir/CMakeFiles/rules.ninja" ]; then
    grep -oE '(^|[[:space:]])/[^[:space:]$]+' "$build_dir/CMakeFiles/rules.ninja" | tr -d '[:blank:]' || true
  fi
  sed -n -E 's/^PKG_CONFIG_EXECUTABLE:[A-Z]+=(\/.*)$/\1/p' "$build_dir/CMakeCache.txt" 2>/dev/null || true
} | sort -u > "$work/raw"

compiler="$(sed -n -E 's/^CMAKE_CXX_COMPILER:[A-Z]+=(.*)$/\1/p' "$build_dir/CMakeCache.txt")"
: > "$work/files"
while IFS= read -r entry; do
  case "$entry" in
    -l*)  # the file the linker would pick for -lNAME
      lib="$("$compiler" -print-file-name="lib${entry#-l}.so")"
      [ "${lib#/}" != "$lib" ] || lib="$("$compiler" -print-file-name="lib${entry#-l}.a")"
      [ "${lib#/}" != "$lib" ] && echo "$lib" >> "$work/files" ;;
    /*)
      path="$(realpath -s -m "$entry")"
      case "$path" in
        "$source_dir"/*|"$build_dir"/*) ;;
        *) echo "$path" >> "$work/files" ;;
      esac ;;
  esac
done < "$work/raw"
sort -u -o "$work/files" "$work/files"

# --- 2. the package of each file --------------------------------------------------------------
# dpkg -S prints "pkg[:arch][, pkg2...]: /path"; absolute paths without wildcards match exactly.
owners_of() {  # stdin: paths; stdout: "package<TAB>path"
  xargs -r -d '\n' dpkg-query -S 2>/dev/null | awk '
    /^diversion by / { next }
    { i = index($0, ": "); if (i == 0) next
      path = substr($0, i + 2); n = split(substr($0, 1, i - 1), pkgs, ", ")
      for (k = 1; k <= n; k++) { sub(/:.*/, "", pkgs[k]); print pkgs[k] "\t" path } }' || true
}
owners_of < "$work/files" > "$work/owned"
cut -f2 "$work/owned" | sort -u > "$work/owned_paths"
comm -23 "$work/files" "$work/owned_paths" > "$work/unowned"

# A path no package names directly may be an alternatives link (/usr/bin/c++) or the other
# spelling of a merged-/usr path (/lib vs /usr/lib): ask again for its target and spellings.
: > "$work/retry"
while IFS= read -r path; do
  real="$(realpath -m "$path")"
  for candidate in "$real" "${path/#\/usr\/lib\//\/lib\/}" "${real/#\/usr\/lib\//\/lib\/}" \
                   "${path/#\/lib\//\/usr\/lib\/}" "${real/#\/lib\//\/usr\/lib\/}"; do
    [ "$candidate" != "$path" ] && printf '%s\t%s\n' "$candidate" "$path" >> "$work/retry"
  done
done < "$work/unowned"
sort -u -o "$work/retry" "$work/retry"
cut -f1 "$work/retry" | owners_of > "$work/retry_owned"
# map the answers back to the path the build used
awk -F'\t' 'NR == FNR { used[$1] = used[$1] ? used[$1] "\n" $2 : $2; next }
            { n = split(used[$2], u, "\n"); for (k = 1; k <= n; k++) print $1 "\t" u[k] }' \
  "$work/retry" "$work/retry_owned" >> "$work/owned"
cut -f2 "$work/owned" | sort -u > "$work/owned_paths"
comm -23 "$work/files" "$work/owned_paths" > "$work/unowned"

# --- 3. the packages setup installs, and what they pull in ------------------------------------
bash "$setup_script" --print-packages | sed -e 's/#.*//' -e '/^[[:space:]]*$/d' | sort -u > "$work/setup"
[ -s "$work/setup" ] || { echo "check_build_deps: '$setup_script --print-packages' printed no package" >&2; exit 2; }
# Top-level lines of the recursive listing are the packages reached; <name> marks a virtual one.
apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances $(cat "$work/setup") 2> "$work/apt_err" \
  | awk '/^[^ ]/ { gsub(/[<>]/, ""); sub(/:.*/, ""); print }' | sort -u > "$work/closure"
if [ -s "$work/apt_err" ] && grep -q '^E:' "$work/apt_err"; then
  echo "check_build_deps: apt-cache depends failed: $(grep -m1 '^E:' "$work/apt_err") (run apt-get update?)" >&2
  exit 2
fi
sort -u "$work/setup" "$work/closure" -o "$work/allowed"
# Essential and Priority: required packages are on every Debian system.
cut -f1 "$work/owned" | sort -u | comm -23 - "$work/allowed" > "$work/outside"
while IFS= read -r pkg; do
  case "$(dpkg-query -W -f='${Essential} ${Priority}' "$pkg" 2>/dev/null || true)" in
    yes\ *|*\ required) echo "$pkg" >> "$work/allowed" ;;
  esac
done < "$work/outside"

# --- 4. verdict --------------------------------------------------------------------------------
# A file is fine when any package that owns it is allowed; otherwise its first owner is named.
status=0
awk -F'\t' 'NR == FNR { ok[$1] = 1; next }
             { owners[$2] = owners[$2] ? owners[$2] " " $1 : $1; if ($1 in ok) fine[$2] = 1 }
             END { for (p in owners) if (!(p in fine)) { split(owners[p], o, " "); print o[1] "\t" p } }' \
  "$work/allowed" "$work/owned" | sort > "$work/missing"
while IFS= read -r pkg; do
  example="$(awk -F'\t' -v p="$pkg" '$1 == p { print $2; exit }' "$work/missing")"
  echo "check_build_deps: package $pkg (e.g. $example) is used by the build but is neither installed by $setup_script nor pulled in through its Depends"
  status=1
done < <(cut -f1 "$work/missing" | sort -u)
while IFS= read -r path; do
  echo "check_build_deps: $path is used by the build but belongs to no Debian package"
  status=1
done < "$work/unowned"

if [ $status -eq 0 ]; then
  echo "check_build_deps: $(wc -l < "$work/files") files from $(cut -f1 "$work/owned" | sort -u | wc -l) packages, each installed by $setup_script or pulled in through its Depends (or Essential/required)"
fi
exit $status
