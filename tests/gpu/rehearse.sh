#!/usr/bin/env bash
# The device check rehearsed without a GPU, in one command: builds the emulated driver, cuBLAS and cuSOLVER
# (java-bindings/src/test/c), packs what the device machine gets (tests/gpu/pack.sh, without a JRE: Java 17+ is here),
# runs tests/gpu/device-check.sh against the emulated libraries in quick mode, then checks what it left:
#   - $OUT holds what a device machine brings back: at most 8 plain files, each under 16 MiB, named in letters,
#     digits, '.', '_' and '-', among them summary.txt and device-logs.tgz with one log per step that ran;
#   - every step exited 0 within its limit, no step was left out for want of time, the whole kept its budget;
#   - a check stopped by SIGTERM half-way still leaves its summary ("stopped by a signal") and the logs written so far.
# Exit 0 only if all of that holds. The figures of a quick run mean nothing (the emulator's kernels are C loops).
#
#   bash tests/gpu/rehearse.sh                         (packs after `mvn package`; offline: MVN_OFFLINE=1)
#   WUDI_REHEARSE_BUILT=1 bash tests/gpu/rehearse.sh   (a build just ran: pack what target/ holds; DeviceCheckRehearsalTest)
#
# Its own scratch lives in a temporary folder, removed at the end; REHEARSE_KEEP=DIR keeps the $OUT folders there.
# REHEARSE_JRE=1 packs the small JRE too (../shared/tools/make-jre.sh, jlink) and runs the check on it, as the GPU
# machine will (slower: jlink).
set -euo pipefail
cd "$(dirname "$0")/../.."
t0=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/rehearse.XXXXXX")
trap 'rm -rf "$work"' EXIT
keep() {
  if [ -n "${REHEARSE_KEEP:-}" ]; then
    mkdir -p "$REHEARSE_KEEP" && for d in out stopped; do [ -d "$work/$d" ] && cp -r "$work/$d" "$REHEARSE_KEEP/"; done
  fi
  return 0
}
fail() { echo "rehearsal: FAILED: $*" >&2; keep; exit 1; }

# ---- the emulated driver and libraries (as EmulatedDriver builds them for the tests) ----
c=java-bindings/src/test/c
emu=$work/emu
mkdir -p "$emu"
cc -O2 -ffp-contract=off -I cuda-kernels/check -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$emu/libcuda.so.1" \
  "$c/emulated_libcuda.c" -lm
cc -O2 -ffp-contract=off -shared -fPIC -Wl,-soname,libcublas.so.13 -o "$emu/libcublas.so.13" "$c/emulated_cublas.c" -ldl
cc -O2 -shared -fPIC -Wl,-soname,libcusolver.so.12 -o "$emu/libcusolver.so.12" "$c/emulated_cusolver.c" -lm

# ---- the pack ----
no_jre=1
[ -n "${REHEARSE_JRE:-}" ] && no_jre=
WUDI_PACK_NO_BUILD=${WUDI_REHEARSE_BUILT:-} WUDI_PACK_NO_JRE=$no_jre bash tests/gpu/pack.sh "$work/pack" >"$work/pack.log" 2>&1 \
  || { cat "$work/pack.log" >&2; fail "packing"; }
if [ -n "${REHEARSE_JRE:-}" ]; then
  [ -f "$work/pack/jre.tgz" ] || fail "REHEARSE_JRE: no jre.tgz was packed ($(tail -1 "$work/pack.log"))"
  export WUDI_CHECK_PACKED_JRE=1
fi
grep -q "Fatbin\|fatbin" <(unzip -l "$work/pack/wudi.jar" 2>/dev/null || jar tf "$work/pack/wudi.jar") \
  || fail "the packed jar has no fatbin (build where nvcc is on the PATH)"

python=
for p in ${WUDI_CHECK_PYTHON:-} python3 /usr/bin/python3; do
  if "$p" -c 'import torch' >/dev/null 2>&1; then python=$p; break; fi
done
export LD_LIBRARY_PATH="$emu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" WUDI_CUBLAS="$emu/libcublas.so.13" \
  WUDI_CUSOLVER="$emu/libcusolver.so.12" WUDI_CHECK_QUICK=1 WUDI_CHECK_PYTHON="${python:-python3}"

# ---- the contract of $OUT ----
check_out() {   # DIR: what a device machine would bring back from it
  local dir=$1 files=0 f size name
  while IFS= read -r -d '' f; do
    name=${f#"$dir"/}
    [ -f "$f" ] && [ ! -L "$f" ] || fail "$name in \$OUT is not a plain file"
    [[ "$(basename "$f")" =~ ^[A-Za-z0-9._-]+$ ]] || fail "$name: a name a device machine would not bring back"
    size=$(stat -c %s "$f")
    [ "$size" -lt $((16 << 20)) ] || fail "$name is $size bytes, not under 16 MiB"
    files=$((files + 1))
  done < <(find "$dir" -mindepth 1 -not -type d -print0)
  [ "$(find "$dir" -mindepth 1 -type d | wc -l)" -eq 0 ] || fail "\$OUT holds folders"
  [ "$files" -le 8 ] || fail "$files files in \$OUT: at most 8 come back"
  [ -s "$dir/summary.txt" ] || fail "no summary.txt in \$OUT"
  [ -s "$dir/device-logs.tgz" ] || fail "no device-logs.tgz in \$OUT"
  tar tzf "$dir/device-logs.tgz" >"$work/listing" || fail "device-logs.tgz does not unpack"
  echo "$files"
}

# ---- 1. the whole check, quick ----
out=$work/out
mkdir -p "$out"
OUT=$out bash tests/gpu/device-check.sh "$work/pack" >"$work/check.log" 2>&1 || true
files=$(check_out "$out")
summary=$out/summary.txt
cat "$summary"
head -1 "$summary" | grep -q ', finished$' || fail "the check did not finish: $(head -1 "$summary")"
budget=$(head -1 "$summary" | sed -n 's/.*budget \([0-9]*\) s.*/\1/p')
took=$(head -1 "$summary" | sed -n 's/.*, \([0-9]*\) s in all.*/\1/p')
[ -n "$budget" ] && [ -n "$took" ] && [ "$took" -le "$budget" ] || fail "the check took ${took:-?} s of its ${budget:-?} s budget"
ran=0
while read -r name rc secs limit rest; do
  case "$rc" in
    -) case "$rest" in
         *"budget is spent"*) fail "step $name was not run: the budget was spent" ;;
         *) echo "rehearsal: $name not run here ($rest)" ;;
       esac ;;
    0) awk -v s="$secs" -v l="$limit" 'BEGIN { exit !(s <= l) }' || fail "step $name took $secs s over its $limit s limit"
       grep -q "logs/[0-9][0-9]-$name.log" "$work/listing" || fail "no log of step $name in device-logs.tgz"
       ran=$((ran + 1)) ;;
    *) fail "step $name exited $rc: $rest (see its log in device-logs.tgz)" ;;
  esac
done < <(sed -n '3,$p' "$summary" | grep -v '^verdict:')
[ "$ran" -ge 9 ] || fail "only $ran steps ran"
grep -q '^verdict: every step that ran exited 0 within its limit' "$summary" || fail "$(tail -1 "$summary")"
[ -n "$python" ] || echo "rehearsal: no python3 with torch here: the peer steps were not rehearsed"

# ---- 2. stopped half-way: the evidence so far still comes back ----
stopped=$work/stopped
mkdir -p "$stopped"
OUT=$stopped timeout -s TERM 12 bash tests/gpu/device-check.sh "$work/pack" >"$work/stopped.log" 2>&1 || true
check_out "$stopped" >/dev/null
head -1 "$stopped/summary.txt" | grep -q 'stopped by a signal' || fail "a stopped check's summary: $(head -1 "$stopped/summary.txt")"
grep -q 'logs/01-env.log' "$work/listing" || fail "a stopped check's archive lacks the first step's log"

keep
echo "rehearsal: passed in $(( $(date +%s) - t0 )) s: $ran steps in ${took} s of a ${budget} s budget, $files files in \$OUT;"\
     "a check stopped at 12 s left $(grep -c . "$work/listing") archive entries and its summary"
