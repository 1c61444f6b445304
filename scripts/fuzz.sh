#!/usr/bin/env bash
# make fuzz: every cargo-fuzz target of fuzz/ for FUZZ_SECONDS seconds each (default 120),
# on the nightly toolchain; prints executions and crashes per target. A crash leaves its
# input under fuzz/artifacts/TARGET/ (turn it into a unit test) and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
seconds=${FUZZ_SECONDS:-120}
targets=${FUZZ_TARGETS:-$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^packistry-fuzz$')}

mkdir -p target/fuzz-logs
summary=()
failed=0
for target in $targets; do
  log="target/fuzz-logs/$target.log"
  echo "==> fuzzing $target for ${seconds}s"
  if (cd fuzz && cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -print_final_stats=1) >"$log" 2>&1; then
    crashes=0
  else
    crashes=1
    failed=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n1)
  if [ -z "$runs" ]; then
    runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n1 | grep -o '[0-9]*' || true)
  fi
  summary+=("$target: ${runs:-?} executions, $crashes crashes")
  if [ "$crashes" != 0 ]; then
    tail -n 40 "$log"
  fi
done
echo "==> fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"
