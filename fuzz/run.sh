#!/usr/bin/env bash
# Runs every fuzz target, one after another, for SECONDS each (default 60),
# and prints one summary line per target. Needs the nightly toolchain and
# cargo-fuzz (`cargo install cargo-fuzz`).
#
#   fuzz/run.sh 600          # ten minutes per target
#   fuzz/run.sh 30 framing   # one target
#
# Corpora grow in fuzz/corpus/<target>/, crashes land in
# fuzz/artifacts/<target>/ and logs in fuzz/artifacts/<target>.log; exit
# status 1 if any target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(framing framing_async codec_decode shm_ring shm_queue)
fi

# -a: debug assertions on (the ring's bounds checks); no -jobs: one process,
# the machine is shared. A decoder that reserves a claimed length trips
# -malloc_limit_mb.
cargo +nightly fuzz build -O -a
failed=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log="fuzz/artifacts/$t.log"
  echo "== $t: ${secs}s"
  if cargo +nightly fuzz run -O -a "$t" -- \
      -max_total_time="$secs" -max_len=8192 -rss_limit_mb=2048 -malloc_limit_mb=256 \
      -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status=CRASH
    failed=1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo '?')
  ft=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo '?')
  corp=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -o 'corp: [0-9]*' | grep -o '[0-9]*' || echo '?')
  echo "$t: $status, $runs executions, coverage $cov edges, $ft features, corpus $corp inputs (log: $log)"
done
exit $failed
