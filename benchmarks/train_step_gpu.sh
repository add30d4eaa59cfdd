#!/usr/bin/env bash
# The GPU rows of benchmarks/README.md in one command: dcgan32 and dcgan64 at
# batch 64, 256 and 1024; gan_jax in float32 and bfloat16 against PyTorch
# with torch.compile on the same GPU, in float32 and with autocast(bfloat16).
# Each run appends its rows to OUTDIR/train_step_gpu.jsonl and its whole
# output to OUTDIR/train_step_gpu.log, so what finished survives a run cut
# short. The most telling runs go first.
#
#   benchmarks/train_step_gpu.sh OUTDIR
#
# Knobs (environment): PER_RUN_S (each run's time limit, 180), REPEATS (3),
# SECONDS_EACH (seconds per repeat and implementation, 2), PYTHON (python3),
# TORCH_DEVICE (cuda; cpu runs the same commands without a GPU, to check
# them), RUNS (which runs, in order: "workload:batch[:conv-impls]" separated
# by spaces; all six by default). A device call runs 10 minutes at most, so
# 15 minutes of device time take two calls: the first three runs, then
#   RUNS="dcgan32:256 dcgan32:1024 dcgan64:1024" benchmarks/train_step_gpu.sh OUTDIR
set -uo pipefail
# A run cut short, by its time limit or by this script being killed, ends
# with its workers: timeout signals its whole process group.
run_pid=
trap '[ -n "$run_pid" ] && kill "$run_pid" 2>/dev/null; exit 130' INT TERM
out=${1:?usage: benchmarks/train_step_gpu.sh OUTDIR}
runs=${RUNS:-dcgan32:64:auto,matmul dcgan64:256 dcgan64:64 dcgan32:256 dcgan32:1024 dcgan64:1024}
for run in $runs; do  # All checked before the first starts.
  [[ "$run" =~ ^dcgan(32|64):[1-9][0-9]*(:[a-z,]+)?$ ]] || {
    echo "RUNS: '$run' is not workload:batch[:conv-impls], e.g. dcgan64:256 or dcgan32:64:auto,matmul" >&2
    exit 2
  }
done
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm \
  --format=csv >>"$out/train_step_gpu.log" 2>&1
for run in $runs; do
  IFS=: read -r workload batch impl <<<"$run"
  impl=${impl:-auto}
  k=1
  [ "$batch" = 64 ] && k=1,4
  echo "+ $workload batch $batch" | tee -a "$out/train_step_gpu.log"
  timeout -k 10 "${PER_RUN_S:-180}" "${PYTHON:-python3}" "$here/train_step.py" \
    --workload "$workload" --batch "$batch" --repeats "${REPEATS:-3}" \
    --seconds "${SECONDS_EACH:-2}" --steps-per-call "$k" \
    --conv-impl "$impl" --precision float32,bfloat16 \
    --torch-precision float32,bfloat16 \
    --torch-device "${TORCH_DEVICE:-cuda}" --torch-compile --json "$out/train_step_gpu.jsonl" \
    >>"$out/train_step_gpu.log" 2>&1 &
  run_pid=$!
  wait "$run_pid"  # in the background, so that a signal here ends it at once
  echo "  exit $? after ${SECONDS}s in all" | tee -a "$out/train_step_gpu.log"
done
grep -E '^(\+ |\||matmul|dcgan)' "$out/train_step_gpu.log"
