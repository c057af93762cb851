#!/usr/bin/env bash
# Runs every libFuzzer target of the `fuzz` preset for SECONDS each, one after the other, on a
# copy of its committed seed corpus (tests/fuzz/corpus/<target>/ is never written to).
#
#   scripts/run_fuzzers.sh [SECONDS] [WORK_DIR] [extra libFuzzer flags...]
#
# Defaults: 45 seconds, build/fuzz/run. Exits non-zero on the first finding: a crash, a sanitizer
# report, an exception other than mha::Error, a timeout (> 10 s for one input) or more than
# 2 GB of memory. The input that caused it is kept as WORK_DIR/<target>/crash-* (or leak-*,
# timeout-*, oom-*); replay it with `build/fuzz/tests/fuzz/fuzz_<target> FILE`.
# Build first: cmake --preset fuzz && cmake --build --preset fuzz. See docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-45}
work=${2:-build/fuzz/run}
shift $(($# < 2 ? $# : 2))

targets=(safetensors bert_config vocab wordpiece checkpoint)
for target in "${targets[@]}"; do
  binary=build/fuzz/tests/fuzz/fuzz_${target}
  [ -x "$binary" ] || { echo "run_fuzzers: $binary is missing; build the fuzz preset"; exit 1; }
  dir=$work/$target
  rm -rf "$dir"
  mkdir -p "$dir/corpus"
  cp tests/fuzz/corpus/"$target"/* "$dir/corpus/"
  flags=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
         -artifact_prefix="$dir/")
  dict=tests/fuzz/${target}.dict
  [ -f "$dict" ] && flags+=(-dict="$dict")
  echo "run_fuzzers: fuzz_${target} for ${seconds}s (log: $dir/log.txt)"
  if ! "$binary" "${flags[@]}" "$@" "$dir/corpus" > "$dir/log.txt" 2>&1; then
    tail -n 60 "$dir/log.txt"
    echo "run_fuzzers: fuzz_${target} found a problem; input kept in $dir/"
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$dir/log.txt" |
    tr '\n' ' '
  echo "corpus: $(find "$dir/corpus" -type f | wc -l) files"
done
