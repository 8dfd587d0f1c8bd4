#!/usr/bin/env bash
# The no-I/O CPU benchmark: instructions per command (valgrind's callgrind, counting only
# the measured loop of each variant), the cache lines one standalone call touches
# (valgrind's lackey) and its time with the caches cold, and heap allocations per command,
# redpipe against redis-rs's own build + encode + decode of the same commands. Prints
# Markdown; with REDPIPE_BENCH_OUT=dir also writes dir/cpu.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null || ! command -v objdump >/dev/null; then
  sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq valgrind binutils >/dev/null
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

# Locked instructions (a `lock`-prefixed one, an `xchg` with memory, `mfence`) executed
# per command in the binary's own code, from callgrind's per-instruction counts and the
# binary's disassembly. Callgrind counts each as one instruction, but on the benchmark
# machine one costs about 6 ns, as much as 30 plain ones: this is where redpipe's wall
# time per command differs from its instruction count.
locked() { # variant -> locked instructions per command
  local out="$tmp/$1.instr.out"
  valgrind --tool=callgrind --toggle-collect="*measured_$1*" --dump-instr=yes \
    --dump-line=no --compress-pos=no --compress-strings=no \
    --callgrind-out-file="$out" "$bin" run "$1" "$ITERATIONS" >/dev/null 2>>"$tmp/$1.log"
  # Valgrind maps a position-independent binary at 0x108000: counted at either base, the
  # one that finds the binary's instructions is the right one.
  awk -v n="$((ITERATIONS * COMMANDS))" -v bin="$(realpath "$bin")" '
    function hex(text,   i, v) { # (mawk has no strtonum)
      v = 0
      for (i = 1; i <= length(text); i++) v = v * 16 + index("0123456789abcdef", substr(text, i, 1)) - 1
      return v
    }
    NR == FNR { locked[hex($1)] = 1; next }
    /^ob=/ { ours = (substr($0, 4) == bin); next }
    /^calls=/ { skip = 1; next }
    /^0x[0-9a-f]+ [0-9]+$/ {
      if (skip) { skip = 0; next }
      if (!ours) next
      addr = hex(substr($1, 3))
      if (addr in locked) at0 += $2
      if ((addr - 1081344) in locked) pie += $2
    }
    END { printf "%.2f", (pie > at0 ? pie : at0) / n }' "$tmp/locked.addr" "$out"
}

# The distinct 64-byte cache lines of code and of data that one call touches (valgrind's
# lackey traces every access; `cpu footprint` stores to a marker before each call). A
# request waits for its reply, and meanwhile other code runs: the next call finds much of
# what it touches gone from the caches, so its time grows with these counts more than
# with its instructions. Prints one Markdown row per call, and its ratio to the redis-rs
# call before it.
footprint() {
  local trace="$tmp/lackey.txt"
  valgrind --tool=lackey --trace-mem=yes --log-file="$trace" "$bin" footprint \
    >"$tmp/footprint.out" 2>>"$tmp/footprint.log"
  local marker rounds names
  read -r marker rounds names <"$tmp/footprint.out"
  awk -v marker="$marker" -v names="$names" '
    function hex(text,   i, v) { # (mawk has no strtonum)
      v = 0
      for (i = 1; i <= length(text); i++) v = v * 16 + index("0123456789abcdef", substr(text, i, 1)) - 1
      return v
    }
    function close_call() {
      if (call >= 0) { k = call % n + 1; code[k] = nc; data[k] = nd }
      split("", seen_code); split("", seen_data); nc = 0; nd = 0
    }
    BEGIN { n = split(names, name, " "); call = -1 }
    /^==/ { next }
    {
      split($2, field, ","); address = field[1]; sub(/^0+/, "", address)
      if (($1 == "S" || $1 == "M") && address == marker) { close_call(); call++; next }
      if (call < 0) next
      line = int(hex(address) / 64)
      if ($1 == "I") { if (!(line in seen_code)) { seen_code[line] = 1; nc++ } }
      else if (!(line in seen_data)) { seen_data[line] = 1; nd++ }
    }
    END {
      for (k = 1; k <= n; k++) {
        total = code[k] + data[k]
        if (name[k] ~ /^redis_rs/) { base = total; ratio = "1.00x" }
        else ratio = sprintf("%.2fx", total / base)
        printf "| %s | %d | %d | %d | %s |\n", name[k], code[k], data[k], total, ratio
      }
    }' "$trace"
}

objdump -d --no-show-raw-insn "$bin" |
  awk '$2 == "lock" || $2 == "mfence" || ($2 == "xchg" && $3 ~ /\(/) { sub(":", "", $1); print $1 }' \
    >"$tmp/locked.addr"
base=$(instructions redis_rs)
root=$(instructions redpipe_root)
nested=$(instructions redpipe_nested)
small_base=$(instructions redis_rs_small)
small=$(instructions redpipe_small)
{
  echo "Instructions per command (callgrind, $ITERATIONS iterations of $COMMANDS commands each), and of them the locked ones (see \`locked\` in scripts/bench-cpu.sh: about 6 ns each on this machine, as much as 30 plain ones):"
  echo
  echo "| variant | instructions per command | ratio to redis-rs | goal | verdict | locked instructions per command |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for row in "redis-rs, one batch of 100 (SET, GET, INCR): build Cmds + get_packed_pipeline + FromRedisValue;redis_rs;$base;" \
             "redpipe root, same batch (queue, execute, fill, read);redpipe_root;$root;$base" \
             "redpipe, same batch from 10 nested pipelined functions of 10;redpipe_nested;$nested;$base" \
             "redis-rs, 50 requests of 2 INCR, each built + encoded + decoded;redis_rs_small;$small_base;" \
             "redpipe, 50 standalone calls of a 2-INCR pipelined function;redpipe_small;$small;$small_base"; do
    IFS=";" read -r name variant value against <<<"$row"
    lock=$(locked "$variant")
    if [ -z "$against" ]; then echo "| $name | $value | 1.000x | | | $lock |"; continue; fi
    ratio=$(awk -v a="$value" -v b="$against" 'BEGIN { printf "%.3f", a / b }')
    verdict=$(awk -v r="$ratio" -v g="$GOAL" 'BEGIN { print (r <= g) }')
    [ "$verdict" = 1 ] && verdict=met || verdict=missed
    echo "| $name | $value | ${ratio}x | ≤ ${GOAL}x | $verdict | $lock |"
  done
  echo
  echo "Cache lines one call touches (valgrind's lackey; see \`footprint\` in scripts/bench-cpu.sh): a call that waited for the previous reply finds them mostly cold, so its time grows with these counts more than with its instructions. \`*_one\`: one INCR request (redis-rs) or a standalone call of a pipelined function queueing one INCR (redpipe); \`*_pair\`: a pipe of 2 INCR, or a call of a function of 2 INCR and a sum:"
  echo
  echo "| call | code lines | data lines | total | ratio to redis-rs |"
  echo "| --- | --- | --- | --- | --- |"
  footprint
  echo
  echo "The same calls timed with the caches cold (\`cpu cold\`: before each call, 16 MiB of memory are written; the median of 2,000 calls, in turn):"
  echo
  echo "| call | median time | ratio to redis-rs |"
  echo "| --- | --- | --- |"
  "$bin" cold
  echo
  echo "Heap allocations per command (counting global allocator, 1,000 batches; goal for root and nested batches: at most 0.25 beyond redis-rs):"
  echo
  "$bin" --bench | tail -n +2
} | tee "$tmp/cpu.md"
if [ -n "${REDPIPE_BENCH_OUT:-}" ]; then
  mkdir -p "$REDPIPE_BENCH_OUT"
  cp "$tmp/cpu.md" "$REDPIPE_BENCH_OUT/cpu.md"
fi
