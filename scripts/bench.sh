#!/usr/bin/env bash
# Every benchmark of BENCHMARKS.md in one go: the ratio tables (medians of per-round paired
# ratios, with their min–max), the size sweep with peak heap, and the round-trip plot
# (benches/ratios.rs), the blocking API against the wire's floor (benches/blocking.rs), the CPU and allocation counts (scripts/bench-cpu.sh), then
# criterion's second opinion (benches/throughput.rs; skip it with SKIP_CRITERION=1, and its
# table says it was not run). Results go to benches/results/, and the tables between the
# markers in BENCHMARKS.md are replaced with this run's.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-redis.sh
export REDPIPE_BENCH_OUT="$PWD/benches/results"
mkdir -p "$REDPIPE_BENCH_OUT"
{
  echo "Machine: $(nproc) cores, $(uname -sr); $(redis-server --version | cut -d' ' -f1-3); $(rustc --version)"
  echo "Date: $(date -u +%Y-%m-%dT%H:%MZ); load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$REDPIPE_BENCH_OUT/machine.md"
cargo bench --locked --bench ratios
cargo bench --locked --bench blocking
scripts/bench-cpu.sh
if [ "${SKIP_CRITERION:-0}" != 1 ]; then
  cargo bench --locked --bench throughput
else
  # No stale table from an earlier run next to this run's numbers.
  echo "Not run with the other tables (\`SKIP_CRITERION=1\`): \`cargo bench --bench throughput\` or \`scripts/bench.sh\` gives it." \
    >"$REDPIPE_BENCH_OUT/criterion.md"
fi

# Replace the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` with a file.
splice() { # name file
  awk -v name="$1" -v file="$2" '
    $0 == "<!-- " name ":begin -->" { print; while ((getline line < file) > 0) print line; skip = 1; next }
    $0 == "<!-- " name ":end -->" { skip = 0 }
    !skip { print }
  ' BENCHMARKS.md >BENCHMARKS.md.new
  mv BENCHMARKS.md.new BENCHMARKS.md
}
splice machine "$REDPIPE_BENCH_OUT/machine.md"
splice ratios "$REDPIPE_BENCH_OUT/ratios.md"
splice blocking "$REDPIPE_BENCH_OUT/blocking.md"
splice cpu "$REDPIPE_BENCH_OUT/cpu.md"
splice criterion "$REDPIPE_BENCH_OUT/criterion.md"
echo "Updated BENCHMARKS.md and $REDPIPE_BENCH_OUT/ (ratios.md, blocking.md, cpu.md, criterion.md, rtt.svg)."
