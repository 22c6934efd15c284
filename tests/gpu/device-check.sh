#!/usr/bin/env bash
# The GPU engine's proof on a real GPU, in one command of at most 8 minutes, from what tests/gpu/pack.sh put in
# .device/ (a shaded jar, the GPU test classes with JUnit, a small JRE): no JDK, no Maven, no network needed.
#
#   bash tests/gpu/device-check.sh [PACK_DIR]          (default PACK_DIR: .device; results in $OUT or ./device-logs)
#
# What it leaves in $OUT is what a device machine brings back (at most 8 files, each under 16 MiB), two files:
#   summary.txt        one line per step: name, exit status, seconds, its time limit, the figure that matters; then
#                      the check's verdict
#   device-logs.tgz    every step's whole log (logs/NN-name.log; a log over 4 MiB keeps its first and last 2 MiB)
# Both are rewritten after every step, and on SIGTERM/SIGINT, so a run stopped early still brings back every log
# written until then. Logs and scratch files live in a temporary folder, never in $OUT.
#
# Steps, most telling first: env (GPU, driver, versions); gpu-tests (GpuTestsMain: the kernel parity suite, cuBLAS,
# the backend against its oracle; no test may skip); wudi selftest; wudi bench merge for CLIP ViT-B/32 x 8 tasks and
# a 7B layer set x 3 tasks, 300 steps, fp32 and tf32, each beside its floor; the PyTorch literal-loss peer on the same
# workloads, run for fewer steps and extrapolated to 300 (its PEER_TOTAL says so: steps=, extrapolated_steps=);
# wudi bench kernels at CLIP's four shapes and the 7B set's three; where the node has several GPUs, cuda:0 against
# cuda:all with the outputs compared.
#
# Time: each step runs under a limit its work fits: limit = start + 2 x (flops / rate + bytes / bandwidth + host
# floats / host rate), at rates well under an H100's (FP32 25e12 and TF32 80e12 FLOP/s against about 50e12 and 300e12
# measured by cuBLAS; 1e12 B/s against about 3e12; 2.5e8 floats/s for what the host makes or stages), plus 15 s to
# start a JVM with CUDA and cuBLAS (20 s for Python and torch). Each step's flops are computed beside it below. The
# limits add up to under the budget (470 s), which also stops new steps from starting and cuts the last one's limit
# to what is left; the whole check stays within about 8 minutes.
#
# WUDI_CHECK_QUICK=1 shrinks every workload to a few small tensors and steps, for rehearsing the plumbing on the
# emulated driver (tests/gpu/rehearse.sh) on a machine without a GPU; its figures mean nothing. WUDI_CHECK_PACKED_JRE=1
# uses the packed JRE even where a JDK is installed (as on the GPU machine). WUDI_CHECK_PYTHON names the Python with
# torch (default: python3).
set -uo pipefail
cd "$(dirname "$0")/../.."
pack=${1:-.device}
out=${OUT:-$PWD/device-logs}
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/device-check.XXXXXX")
mkdir -p "$work/logs"
start=$(date +%s)
quick=${WUDI_CHECK_QUICK:-}
budget=${WUDI_CHECK_BUDGET:-$([ -n "$quick" ] && echo 300 || echo 470)}   # seconds: no step starts after this
python=${WUDI_CHECK_PYTHON:-python3}
state=running

# ---- what comes back: the summary and one archive, rewritten after every step ----
rows=()
n=0
cap_log() {   # a log over 4 MiB keeps its first and last 2 MiB
  local f=$1 size
  size=$(stat -c %s "$f" 2>/dev/null || echo 0)
  if [ "$size" -gt $((4 << 20)) ]; then
    { head -c $((2 << 20)) "$f"; printf '\n[... %d bytes cut by device-check ...]\n' $((size - (4 << 20))); tail -c $((2 << 20)) "$f"; } >"$f.cut"
    mv -f "$f.cut" "$f"
  fi
}
publish() {
  local verdict=$1
  {
    echo "device-check: $([ -n "$quick" ] && echo "quick mode (emulated or not, its figures mean nothing)" || echo "full mode"),"\
         "budget ${budget} s, $(( $(date +%s) - start )) s in all, ${state}"
    printf '%-24s %5s %8s %6s  %s\n' "step" "exit" "seconds" "limit" "figure"
    for r in "${rows[@]}"; do echo "$r"; done
    echo "verdict: $verdict"
  } >"$out/summary.txt.part" && mv -f "$out/summary.txt.part" "$out/summary.txt"
  tar czf "$out/device-logs.tgz.part" -C "$work" logs 2>/dev/null && mv -f "$out/device-logs.tgz.part" "$out/device-logs.tgz"
  if [ "$(stat -c %s "$out/device-logs.tgz" 2>/dev/null || echo 0)" -ge $((15 << 20)) ]; then   # never over 16 MiB
    for f in "$work"/logs/*.log; do head -c $((256 << 10)) "$f" >"$f.cut"; mv -f "$f.cut" "$f"; done
    tar czf "$out/device-logs.tgz.part" -C "$work" logs && mv -f "$out/device-logs.tgz.part" "$out/device-logs.tgz"
  fi
}
verdict() {
  local bad late
  bad=$(printf '%s\n' "${rows[@]}" | awk '$2 != "0" && $2 != "-" { printf "%s%s", sep, $1; sep = ", " }')
  late=$(printf '%s\n' "${rows[@]}" | awk '/budget is spent/ { printf "%s%s", sep, $1; sep = ", " }')
  if [ -n "$bad" ]; then echo "FAILED: $bad${late:+; not run for want of time: $late}";
  elif [ "$state" != finished ]; then echo "INCOMPLETE: $state";
  elif [ -n "$late" ]; then echo "INCOMPLETE: not run for want of time: $late";
  else echo "every step that ran exited 0 within its limit"; fi
}
child=
current=
stop() {
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null && wait "$child" 2>/dev/null
    rows+=("$(printf '%-24s %5s %8s %6s  %s' "$current" "-" "$(awk -v a="$(date +%s.%N)" -v b="$current_t0" \
      'BEGIN { printf "%.1f", a - b }')" "$current_limit" "stopped by a signal while running (its log so far is kept)")")
  fi
  state="stopped by a signal after $(( $(date +%s) - start )) s"
  publish "$(verdict)"
  rm -rf "$work"
  exit 143
}
trap stop TERM INT

# fits START FLOPS RATE BYTES HOST_FLOATS: the limit in seconds for that work (see the header)
fits() {
  awk -v s="$1" -v f="$2" -v r="$3" -v b="$4" -v h="$5" \
    'BEGIN { t = s + 2 * (f / r + b / 1e12 + h / 2.5e8); printf "%d", (t == int(t)) ? t : int(t) + 1 }'
}
FP32=25e12
TF32=80e12

# step NAME LIMIT_S FIGURE CMD...: runs CMD under its limit, logs it, records exit, seconds and the figure.
# FIGURE is "keys:PREFIX:k1|k2" (those key=value pairs of the last line starting with PREFIX) or an extended regex
# (its last match).
step() {
  local name=$1 limit=$2 figure=$3
  shift 3
  n=$((n + 1))
  local log
  log=$(printf '%s/logs/%02d-%s.log' "$work" "$n" "$name")
  local elapsed=$(( $(date +%s) - start ))
  if [ "$elapsed" -ge "$budget" ]; then
    rows+=("$(printf '%-24s %5s %8s %6s  %s' "$name" "-" "-" "$limit" "not run: the ${budget} s budget is spent")")
    return
  fi
  local left=$(( budget - elapsed ))
  [ "$limit" -gt "$left" ] && limit=$left
  local t0 rc
  t0=$(date +%s.%N)
  echo "== $name: $* (limit ${limit} s)" | tee "$log" >&2
  # in the background and waited for, so that a signal to this script is handled at once (bash runs a trap only
  # when the command it waits for ends, unless it waits with `wait`)
  current=$name current_t0=$t0 current_limit=$limit
  timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1 &
  child=$!
  wait "$child"
  rc=$?
  child=
  local secs fig
  secs=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
  cap_log "$log"
  if [[ "$figure" == keys:* ]]; then
    local spec=${figure#keys:}
    fig=$(grep -E "^${spec%%:*}( |$)" "$log" | tail -1 | tr ' ' '\n' | grep -E "^(${spec#*:})=" | paste -sd' ' -)
  else
    fig=$(grep -E "$figure" "$log" | tail -1 | cut -c1-160)
  fi
  [ "$rc" -eq 124 ] && fig="TIMED OUT after ${limit} s; $fig"
  rows+=("$(printf '%-24s %5s %8s %6s  %s' "$name" "$rc" "$secs" "$limit" "$fig")")
  publish "(running)"
}
skip() {   # NAME REASON: a step that does not apply here
  rows+=("$(printf '%-24s %5s %8s %6s  %s' "$1" "-" "-" "-" "not run: $2")")
}

# ---- Java: the installed one where it is 17 or newer (not on the GPU machine), else the packed JRE ----
if [ -z "${WUDI_CHECK_PACKED_JRE:-}" ] && command -v java >/dev/null 2>&1 \
    && java -version 2>&1 | grep -qE 'version "(1[7-9]|2[0-9])'; then
  JAVA=java
else
  [ -f "$pack/jre.tgz" ] || { echo "device-check: no Java 17+ and no $pack/jre.tgz (run tests/gpu/pack.sh)"; exit 2; }
  tar xzf "$pack/jre.tgz" -C "$work"
  JAVA=$work/jre/bin/java
fi
[ -f "$pack/wudi.jar" ] || { echo "device-check: $pack/wudi.jar missing (run tests/gpu/pack.sh)"; exit 2; }
WUDI=("$JAVA" -Xmx16g ${quick:+-Dwudi.selftest.gemm=128} -jar "$pack/wudi.jar")
TESTS=("$JAVA" -Xmx16g -cp "$pack/wudi.jar:$pack/gpu-tests/*" dev.wudi.backend.cuda.GpuTestsMain)
has_torch=$("$python" -c 'import torch' >/dev/null 2>&1 && echo yes || true)

# ---- the workloads, and the limits their work fits ----
CLIP_SHAPES=2304x768,768x768,3072x768,768x3072
LLAMA_SHAPES=4096x4096,11008x4096,4096x11008
if [ -n "$quick" ]; then    # a few small tensors on the emulated driver: the plumbing, not the figures
  ceil=(--ceiling-copy-mib 16 --ceiling-gemm 128)
  clip=(--workload clip-vit-b32 --tasks 8 --iters 5 --max-tensors 4 --shrink 8 "${ceil[@]}")
  big=(--workload llama-7b-layer --tasks 3 --iters 3 --shrink 32 "${ceil[@]}")
  peer_clip=(--workload clip-vit-b32 --tasks 8 --steps 3 --extrapolate-to 300 --max-tensors 4 --shrink 8)
  peer_big=(--workload llama-7b-layer --tasks 3 --steps 2 --extrapolate-to 300 --shrink 32)
  kern_clip=(--shapes 288x96,96x384 --repeats 3 "${ceil[@]}")
  kern_big=(--shapes 128x128,344x128,128x344 --repeats 3 "${ceil[@]}")
  L_ENV=20 L_TESTS=90 L_SELFTEST=60 L_CLIP32=45 L_CLIP_TF=45 L_BIG32=45 L_BIG_TF=45 L_PEER_CLIP=45 L_PEER_BIG=45
  L_KERN_CLIP=45 L_KERN_BIG=45
else
  clip=(--workload clip-vit-b32 --tasks 8)
  big=(--workload llama-7b-layer --tasks 3 --iters 300)
  peer_clip=(--workload clip-vit-b32 --tasks 8 --steps 30 --extrapolate-to 300)
  peer_big=(--workload llama-7b-layer --tasks 3 --steps 10 --extrapolate-to 300)
  kern_clip=(--shapes "$CLIP_SHAPES" --repeats 20)
  kern_big=(--shapes "$LLAMA_SHAPES" --repeats 20)
  # CLIP ViT-B/32: per block 2(2304 768^2 + 768^3 + 3072 768^2 + 768 3072^2) = 21.744 GFLOP per step; 12 blocks x
  # 301 products = 78.54 TFLOP; Gram form 8 tasks x 3 r c^2 = 3.13 TFLOP (fp32 always); FusedAdam 32 B x 84.93 M
  # elements x 300 = 815 GB; host: 56.6 M floats made (one set per shape) + 680 M uploaded.
  L_CLIP32=$(fits 15 81.7e12 $FP32 815e9 737e6)
  L_CLIP_TF=$(fits 15 "$(awk 'BEGIN { print 78.54e12 / 80e12 * 25e12 + 3.13e12 }')" $FP32 815e9 737e6)
  # 7B layer set x 3 tasks: 4 x 2 4096^3 + 2 x 2 11008 4096^2 + 2 4096 11008^2 = 2.281 TFLOP per step; x 301 =
  # 686.7 TFLOP; Gram form 3 x 1.5 x 2.281 = 10.3 TFLOP; FusedAdam 32 B x 202.4 M x 300 = 1.943 TB;
  # host: 321 M floats made + 607 M uploaded.
  L_BIG32=$(fits 15 697e12 $FP32 1.943e12 928e6)
  L_BIG_TF=$(fits 15 "$(awk 'BEGIN { print 686.7e12 / 80e12 * 25e12 + 10.3e12 }')" $FP32 1.943e12 928e6)
  # The literal loss: per task and step 4 r^2 c (forward 2 r^2 c, backward 2 r^2 c). CLIP x 8: 5.218 TFLOP per step,
  # 30 steps + the two losses (about one step) = 161.8 TFLOP, plus about 100 launches per tensor and step
  # (144 k launches at 20 us = 2.9 s, counted as 0.72 G host floats); 7B x 3: 17.42 TFLOP per step, 10 + 1 = 191.6
  # TFLOP. At 300 steps the 7B peer alone would be 5.2 PFLOP: minutes, hence the extrapolation.
  L_PEER_CLIP=$(fits 20 161.8e12 $FP32 0 1.46e9)
  L_PEER_BIG=$(fits 20 191.6e12 $FP32 0 928e6)
  # Kernels: the ceilings (22 runs each of a 1 GiB copy and of 8192^3 products, 1.1 TFLOP each: 24 TFLOP fp32,
  # 24 tf32 = 8 at the fp32 rate; 0.34 G floats of random fill), then 17 rows per shape, each 23 event-timed batches
  # of at least a millisecond. CLIP's four shapes: 68 rows x 25 ms = 1.7 s (as 1.8 TB at the memory rate), 0.26 G
  # floats of fill. The 7B shapes' products run one per batch: 23 x (fp32 + tf32 + SYRK + step) at 4096x11008 =
  # 64 TFLOP, 24 at 11008x4096, 9 at 4096^2, with the ceilings 131 TFLOP in fp32 terms; FusedAdam rows 0.6 TB;
  # 0.96 G floats of fill.
  L_KERN_CLIP=$(fits 15 34e12 $FP32 1.8e12 0.6e9)
  L_KERN_BIG=$(fits 15 131e12 $FP32 0.6e12 1.3e9)
  L_ENV=20 L_TESTS=60 L_SELFTEST=45
fi

# ---- the steps ----
step env "$L_ENV" 'GPU|no nvidia-smi' bash -c 'if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader | sed "s/^/GPU /"; nvidia-smi
  else echo "no nvidia-smi: not a GPU machine"; fi
  command -v nvcc >/dev/null && nvcc --version | tail -2
  '"'$JAVA'"' -version 2>&1
  '"'$python'"' -c "import torch; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda)" 2>&1 | tail -1
  uname -a; nproc; free -g | head -2'
step gpu-tests "$L_TESTS" '^GPU TESTS' "${TESTS[@]}"
step selftest "$L_SELFTEST" '^selftest|^FAIL' "${WUDI[@]}" selftest
step bench-merge-clip-fp32 "$L_CLIP32" 'keys:MERGEBENCH_TOTAL:seconds|floor_seconds|of_floor' \
  "${WUDI[@]}" bench merge --device cuda --precision fp32 "${clip[@]}"
step bench-merge-clip-tf32 "$L_CLIP_TF" 'keys:MERGEBENCH_TOTAL:seconds|floor_seconds|of_floor' \
  "${WUDI[@]}" bench merge --device cuda --precision tf32 "${clip[@]}"
step bench-merge-7b-fp32 "$L_BIG32" 'keys:MERGEBENCH_TOTAL:seconds|floor_seconds|of_floor' \
  "${WUDI[@]}" bench merge --device cuda --precision fp32 "${big[@]}"
step bench-merge-7b-tf32 "$L_BIG_TF" 'keys:MERGEBENCH_TOTAL:seconds|floor_seconds|of_floor' \
  "${WUDI[@]}" bench merge --device cuda --precision tf32 "${big[@]}"
if [ -n "$has_torch" ]; then
  step peer-clip "$L_PEER_CLIP" 'keys:PEER_TOTAL:steps|extrapolated_steps|seconds|extrapolated_seconds' \
    "$python" tests/pytorch/wudi_peer.py "${peer_clip[@]}"
  step peer-7b "$L_PEER_BIG" 'keys:PEER_TOTAL:steps|extrapolated_steps|seconds|extrapolated_seconds' \
    "$python" tests/pytorch/wudi_peer.py "${peer_big[@]}"
else
  skip pytorch-peer "no $python with torch here"
fi
step bench-kernels-clip "$L_KERN_CLIP" '^# ceilings' "${WUDI[@]}" bench kernels "${kern_clip[@]}"
step bench-kernels-7b "$L_KERN_BIG" '^# ceilings' "${WUDI[@]}" bench kernels "${kern_big[@]}"
# every GPU of the node against one (--device cuda:all): only where there are several
gpus=$(command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -c '^GPU' || echo 0)
if [ "$gpus" -gt 1 ]; then
  demo="$work/multi-demo"
  step multi-gpu-inputs 60 'kept in' "${WUDI[@]}" demo --keep "$demo"
  mm=(merge --base "$demo/base.safetensors" --model "$demo/task0.safetensors" --model "$demo/task1.safetensors"
      --model "$demo/task2.safetensors" --model "$demo/task3.safetensors" --iters 300 --force)
  step merge-cuda0 120 'merged' "${WUDI[@]}" "${mm[@]}" --out "$work/one.safetensors" --device cuda:0
  step merge-cuda-all 120 'merged' "${WUDI[@]}" "${mm[@]}" --out "$work/all.safetensors" --device cuda:all
  step multi-gpu-same-bytes 10 'identical|differ' bash -c "cmp -s '$work/one.safetensors' '$work/all.safetensors' && echo 'identical bytes' || echo 'outputs differ'"
else
  skip multi-gpu "${gpus} GPU(s) here, --device cuda:all needs 2+"
fi

state=finished
publish "$(verdict)"
rm -rf "$work"
echo
cat "$out/summary.txt"
echo "device-check: $out/summary.txt and $out/device-logs.tgz"
