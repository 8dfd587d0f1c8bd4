#!/usr/bin/env bash
# The no-I/O CPU benchmark: instructions per command (valgrind's callgrind, counting only
# the measured loop of each variant) and heap allocations per command, redpipe against
# redis-rs's own build + encode + decode of the same commands. Prints Markdown; with
# REDPIPE_BENCH_OUT=dir also writes dir/cpu.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null; then
  sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq valgrind >/dev/null
fi
ITERATIONS="${ITERATIONS:-200}"
COMMANDS=100 # benches/cpu.rs COMMANDS
GOAL=1.15   # instructions per command, redpipe / redis-rs
bin=$(cargo bench --locked --bench cpu --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
[ -x "$bin" ] || { echo "could not build benches/cpu.rs" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

instructions() { # variant -> instructions per command
  valgrind --tool=callgrind --toggle-collect="*measured_$1*" \
    --callgrind-out-file="$tmp/$1.out" "$bin" run "$1" "$ITERATIONS" >/dev/null 2>"$tmp/$1.log"
  local total
  total=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/$1.out")
  awk -v t="$total" -v n="$((ITERATIONS * COMMANDS))" 'BEGIN { printf "%.1f", t / n }'
}

base=$(instructions redis_rs)
root=$(instructions redpipe_root)
nested=$(instructions redpipe_nested)
small_base=$(instructions redis_rs_small)
small=$(instructions redpipe_small)
{
  echo "Instructions per command (callgrind, $ITERATIONS iterations of $COMMANDS commands each):"
  echo
  echo "| variant | instructions per command | ratio to redis-rs | goal | verdict |"
  echo "| --- | --- | --- | --- | --- |"
  echo "| redis-rs, one batch of 100 (SET, GET, INCR): build Cmds + get_packed_pipeline + FromRedisValue | $base | 1.000x | | |"
  for row in "redpipe root, same batch (queue, execute, fill, read):$root:$base" \
             "redpipe, same batch from 10 nested pipelined functions of 10:$nested:$base" \
             "redis-rs, 50 requests of 2 INCR, each built + encoded + decoded:$small_base:" \
             "redpipe, 50 standalone calls of a 2-INCR pipelined function:$small:$small_base"; do
    IFS=: read -r name value against <<<"$row"
    if [ -z "$against" ]; then echo "| $name | $value | 1.000x | | |"; continue; fi
    ratio=$(awk -v a="$value" -v b="$against" 'BEGIN { printf "%.3f", a / b }')
    verdict=$(awk -v r="$ratio" -v g="$GOAL" 'BEGIN { print (r <= g) }')
    [ "$verdict" = 1 ] && verdict=met || verdict=missed
    echo "| $name | $value | ${ratio}x | ≤ ${GOAL}x | $verdict |"
  done
  echo
  echo "Heap allocations per command (counting global allocator, 1,000 batches; goal for root and nested batches: at most 0.25 beyond redis-rs):"
  echo
  "$bin" --bench | tail -n +2
} | tee "$tmp/cpu.md"
if [ -n "${REDPIPE_BENCH_OUT:-}" ]; then
  mkdir -p "$REDPIPE_BENCH_OUT"
  cp "$tmp/cpu.md" "$REDPIPE_BENCH_OUT/cpu.md"
fi
