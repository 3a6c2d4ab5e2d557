#!/bin/sh
# Run one libFuzzer target for a bounded time, as the fuzz.* ctest tests do.
#
#   run_fuzzer.sh BINARY SEED_DIR WORK_DIR SECONDS [LIBFUZZER_OPTION...]
#
# The target reads the seeds in SEED_DIR (the source tree, never written)
# and keeps the inputs that it finds interesting in WORK_DIR/corpus, so a
# later run starts from them. A crash, leak or timeout input is written to
# WORK_DIR/crashes/ and makes the exit status non-zero.
set -eu

if [ "$#" -lt 4 ]; then
  echo "usage: $0 BINARY SEED_DIR WORK_DIR SECONDS [LIBFUZZER_OPTION...]" >&2
  exit 2
fi
binary=$1
seed_dir=$2
work_dir=$3
seconds=$4
shift 4

mkdir -p "$work_dir/corpus" "$work_dir/crashes"
# -timeout: seconds one input may take before libFuzzer reports a timeout.
# -rss_limit_mb: memory the process may use before libFuzzer reports it as
# out of memory.
exec "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$work_dir/crashes/" -print_final_stats=1 "$@" \
  "$work_dir/corpus" "$seed_dir"
