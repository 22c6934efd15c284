#!/usr/bin/env bash
# The language-model merging benchmark, rebuilt and scored by one command (README.md in this folder):
#
#   tests/bench/lm/run.sh WORKDIR [--quick] [--lora-distinct] [--lora-gentle]
#
# trains what WORKDIR lacks (train.py, given the options), then scores the base, every fine-tune and adapter, and
# for each set (gentle, harsh, lora, and lora-distinct and lora-gentle where WORKDIR has them): numpy averaging and task arithmetic x0.3 (baselines.py), the engine's average and
# task-arithmetic --scale 0.3 (each checked against numpy's), its default merge, --solver spectral, --lr auto, and
# the plain sum of the task vectors on the tensors WUDI computes (merge.sh). Scores go to WORKDIR/scores/*.json, the tables to WORKDIR/scores.md, wall times to
# WORKDIR/timings.tsv. Environment: LM_PYTHON, LM_BLAS (lib.sh).
set -euo pipefail
usage() {
  echo "usage: tests/bench/lm/run.sh WORKDIR [--quick] [--lora-distinct] [--lora-gentle]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
case "$1" in -*) usage ;; esac
dir="$1"
shift
train_opts=()
quick=""
for o in "$@"; do
  case "$o" in
    --quick) quick=--quick; train_opts+=("$o") ;;
    --lora-distinct | --lora-gentle) train_opts+=("$o") ;;
    *) usage ;;
  esac
done
work="$(mkdir -p "$dir" && cd "$dir" && pwd)"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdir -p "$work/scores" "$work/merges"
printf "# run %s %s\n" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${quick:-full}" >> "$timings"

timed "train${quick:+-quick}" "${py[@]}" "$here/train.py" "$work" "${train_opts[@]}"
sets=()
for set in gentle harsh lora lora-distinct lora-gentle; do
  if [ -d "$work/$set" ]; then sets+=("$set"); fi
done

score_singles() {
  local set d
  score base "$work/base" "tests/bench/lm/train.py $work $quick"
  for set in "${sets[@]}"; do
    set_models "$set"
    for d in "${models[@]}"; do
      [ "$d" = --model ] || score "$set/$(basename "$d")" "$d" "tests/bench/lm/train.py $work ${train_opts[*]}"
    done
  done
}
timed score-singles score_singles

for set in "${sets[@]}"; do
  out="$work/merges/$set"
  mkdir -p "$out"
  timed "$set/numpy" "${py[@]}" "$here/baselines.py" write "$work" "$set" "$out" --scales 0.3
  score "$set/numpy-average" "$out/numpy-average" "tests/bench/lm/baselines.py write $work $set $out"
  score "$set/numpy-ta0.3" "$out/numpy-ta0.3" "tests/bench/lm/baselines.py write $work $set $out --scales 0.3"
  "$here/merge.sh" "$work" "$set" wudi-average --method average
  "$here/merge.sh" "$work" "$set" wudi-ta0.3 --method task-arithmetic --scale 0.3
  "$here/merge.sh" "$work" "$set" wudi-default
  "$here/merge.sh" "$work" "$set" wudi-spectral --solver spectral
  "$here/merge.sh" "$work" "$set" wudi-lr-auto --lr auto
  # the sum of the task vectors on the tensors WUDI computes, the rest the base's: where the default's Adam starts
  "$here/merge.sh" "$work" "$set" sum-linear --method task-arithmetic --scale 1 --include '\.(c_attn|c_proj|c_fc)\.weight$'
  # a disagreement is a finding, kept in the report; the run goes on
  "${py[@]}" "$here/baselines.py" check "$work" "$set" average "$out/wudi-average" \
    | tee "$work/scores/${set}__check-average.txt" || true
  "${py[@]}" "$here/baselines.py" check "$work" "$set" task-arithmetic "$out/wudi-ta0.3" --scale 0.3 \
    | tee "$work/scores/${set}__check-ta0.3.txt" || true
done

"${py[@]}" "$here/task_vectors.py" "$work" --json "$work/scores/task_vectors.json"
"${py[@]}" "$here/report.py" "$work" > "$work/scores.md"
echo "run.sh: scores in $work/scores.md, wall times in $timings"
