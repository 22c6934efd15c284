#!/usr/bin/env bash
# The GPU engine's proof on a real GPU, in one command of at most 8 minutes, from what tests/gpu/pack.sh put in
# .device/ (a shaded jar, the GPU test classes with JUnit, a small JRE): no JDK, no Maven, no network needed.
#
#   bash tests/gpu/device-check.sh [PACK_DIR]          (default PACK_DIR: .device; logs under $OUT or ./device-logs)
#
# Steps, each with its own time limit, each logged to $OUT/NN-name.log: nvidia-smi; wudi selftest; the GPU test
# classes (GpuTestsMain); wudi bench kernels at a CLIP ViT-B/32 and a 7B shape; wudi bench merge (CLIP ViT-B/32 x 8
# tasks and a 7B layer set x 3, fp32 and tf32); where the node has several GPUs, a merge on cuda:0 against one on
# cuda:all (time, and the bytes compared); the PyTorch peer tests/pytorch/wudi_peer.py on the same workloads.
# The last lines printed are a table: step, exit, seconds, the figure that matters.
#
# WUDI_CHECK_QUICK=1 shrinks every workload to a few tensors and steps: for rehearsing the plumbing on the emulated
# driver (java-bindings/src/test/c) on a machine without a GPU; its figures mean nothing. WUDI_CHECK_PACKED_JRE=1 uses
# the packed JRE even where a JDK is installed (as on the GPU machine).
set -uo pipefail
cd "$(dirname "$0")/../.."
pack=${1:-.device}
out=${OUT:-$PWD/device-logs}
mkdir -p "$out"
start=$(date +%s)
budget=${WUDI_CHECK_BUDGET:-470}          # seconds: the steps stop being started when this is spent
quick=${WUDI_CHECK_QUICK:-}

if [ -z "${WUDI_CHECK_PACKED_JRE:-}" ] && command -v java >/dev/null 2>&1 \
    && java -version 2>&1 | grep -qE 'version "(1[7-9]|2[0-9])'; then
  JAVA=java
else
  [ -f "$pack/jre.tgz" ] || { echo "device-check: no Java 17+ and no $pack/jre.tgz (run tests/gpu/pack.sh)"; exit 2; }
  tar xzf "$pack/jre.tgz" -C /tmp
  JAVA=/tmp/jre/bin/java
fi
[ -f "$pack/wudi.jar" ] || { echo "device-check: $pack/wudi.jar missing (run tests/gpu/pack.sh)"; exit 2; }
WUDI=("$JAVA" -Xmx16g ${quick:+-Dwudi.selftest.gemm=128} -jar "$pack/wudi.jar")
TESTS=("$JAVA" -Xmx16g -cp "$pack/wudi.jar:$pack/gpu-tests/*" dev.wudi.backend.cuda.GpuTestsMain)

rows=()
n=0
# step NAME LIMIT_S FIGURE_REGEX CMD...: runs CMD under timeout, logs it, records exit, seconds and the figure
step() {
  local name=$1 limit=$2 figure=$3
  shift 3
  n=$((n + 1))
  local log
  log=$(printf '%s/%02d-%s.log' "$out" "$n" "$name")
  local elapsed=$(( $(date +%s) - start ))
  if [ "$elapsed" -ge "$budget" ]; then
    rows+=("$(printf '%-28s %6s %7s  %s' "$name" "-" "-" "not run: the ${budget} s budget is spent")")
    return
  fi
  local left=$(( budget - elapsed ))
  [ "$limit" -gt "$left" ] && limit=$left
  local t0 rc
  t0=$(date +%s.%N)
  echo "== $name: $* (limit ${limit} s)" | tee "$log" >&2
  timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
  rc=$?
  local secs
  secs=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
  local fig
  fig=$(grep -E "$figure" "$log" | tail -1 | cut -c1-110)
  [ "$rc" -eq 124 ] && fig="TIMED OUT after ${limit} s; $fig"
  rows+=("$(printf '%-28s %6s %7s  %s' "$name" "$rc" "$secs" "$fig")")
}

if [ -n "$quick" ]; then
  clip=(--workload clip-vit-b32 --tasks 8 --iters 5 --max-tensors 2)
  big=(--workload llama-7b-layer --tasks 3 --iters 2 --max-tensors 1)
  peer_clip=(--workload clip-vit-b32 --tasks 8 --steps 5 --max-tensors 2)
  peer_big=(--workload llama-7b-layer --tasks 3 --steps 2 --max-tensors 1)
  kern_clip=(--rows 96 --cols 64 --repeats 3 --ceiling-copy-mib 16 --ceiling-gemm 128)
  kern_big=(--rows 128 --cols 96 --repeats 3 --ceiling-copy-mib 16 --ceiling-gemm 128)
else
  clip=(--workload clip-vit-b32 --tasks 8)
  big=(--workload llama-7b-layer --tasks 3 --iters 300)
  peer_clip=(--workload clip-vit-b32 --tasks 8)
  peer_big=(--workload llama-7b-layer --tasks 3)
  kern_clip=(--rows 3072 --cols 768)
  kern_big=(--rows 11008 --cols 4096)
fi

step nvidia-smi 20 'NVIDIA-SMI|Driver Version|not found' bash -c 'command -v nvidia-smi >/dev/null && nvidia-smi || echo "nvidia-smi not found"'
step selftest 150 '^selftest|^FAIL' "${WUDI[@]}" selftest
step gpu-tests 200 '^GPU TESTS' "${TESTS[@]}"
step bench-kernels-clip 60 'FusedAdam \(no loss\)|step GEMM P = tau C fp32' "${WUDI[@]}" bench kernels "${kern_clip[@]}"
step bench-kernels-7b 60 'FusedAdam \(no loss\)|step GEMM P = tau C fp32' "${WUDI[@]}" bench kernels "${kern_big[@]}"
step bench-merge-clip-fp32 60 '^MERGEBENCH_TOTAL' "${WUDI[@]}" bench merge --device cuda --precision fp32 "${clip[@]}"
step bench-merge-clip-tf32 60 '^MERGEBENCH_TOTAL' "${WUDI[@]}" bench merge --device cuda --precision tf32 "${clip[@]}"
if [ -z "$quick" ]; then    # a 7B layer's setup alone is minutes on the emulator's C loops
  step bench-merge-7b-fp32 90 '^MERGEBENCH_TOTAL' "${WUDI[@]}" bench merge --device cuda --precision fp32 "${big[@]}"
  step bench-merge-7b-tf32 90 '^MERGEBENCH_TOTAL' "${WUDI[@]}" bench merge --device cuda --precision tf32 "${big[@]}"
fi
# every GPU of the node against one (--device cuda:all): only where there are several
gpus=$(command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -c '^GPU' || echo 0)
if [ "$gpus" -gt 1 ]; then
  demo="$out/multi-demo"
  step multi-gpu-inputs 60 'kept in' "${WUDI[@]}" demo --keep "$demo"
  mm=(merge --base "$demo/base.safetensors" --model "$demo/task0.safetensors" --model "$demo/task1.safetensors"
      --model "$demo/task2.safetensors" --model "$demo/task3.safetensors" --iters 300 --force)
  step merge-cuda0 120 'merged' "${WUDI[@]}" "${mm[@]}" --out "$out/one.safetensors" --device cuda:0
  step merge-cuda-all 120 'merged' "${WUDI[@]}" "${mm[@]}" --out "$out/all.safetensors" --device cuda:all
  step multi-gpu-same-bytes 10 'identical|differ' bash -c "cmp -s '$out/one.safetensors' '$out/all.safetensors' && echo 'identical bytes' || echo 'outputs differ'"
else
  rows+=("$(printf '%-28s %6s %7s  %s' "multi-gpu" "-" "-" "not run: ${gpus} GPU(s) here, --device cuda:all needs 2+")")
fi
if command -v python3 >/dev/null 2>&1 && python3 -c 'import torch' >/dev/null 2>&1; then
  step peer-clip 90 '^PEER_TOTAL' python3 tests/pytorch/wudi_peer.py "${peer_clip[@]}"
  [ -z "$quick" ] && step peer-7b 90 '^PEER_TOTAL' python3 tests/pytorch/wudi_peer.py "${peer_big[@]}"
else
  rows+=("$(printf '%-28s %6s %7s  %s' "pytorch-peer" "-" "-" "not run: no python3 with torch here")")
fi

echo
echo "device-check: logs in $out; $(( $(date +%s) - start )) s in all"
printf '%-28s %6s %7s  %s\n' "step" "exit" "seconds" "figure"
for r in "${rows[@]}"; do
  echo "$r"
done | tee "$out/summary.txt"
