#!/usr/bin/env bash
# The language-model merging benchmark, rebuilt and scored by one command (README.md in this folder):
#
#   tests/bench/lm/run.sh WORKDIR [--quick]
#
# trains what WORKDIR lacks (train.py), then scores the base, every fine-tune and adapter, and for each set
# (gentle, harsh, lora): numpy averaging and task arithmetic x0.3 (baselines.py), the engine's average and
# task-arithmetic --scale 0.3 (each checked against numpy's), its default merge, --solver spectral and --lr auto
# (merge.sh). Scores go to WORKDIR/scores/*.json, the tables to WORKDIR/scores.md, wall times to
# WORKDIR/timings.tsv. Environment: LM_PYTHON, LM_BLAS (lib.sh).
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ] || { [ $# -eq 2 ] && [ "$2" != "--quick" ]; }; then
  echo "usage: tests/bench/lm/run.sh WORKDIR [--quick]" >&2
  exit 2
fi
work="$(mkdir -p "$1" && cd "$1" && pwd)"
quick="${2:-}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdir -p "$work/scores" "$work/merges"
printf "# run %s %s\n" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${quick:-full}" >> "$timings"

timed "train${quick:+-quick}" "${py[@]}" "$here/train.py" "$work" $quick

score_singles() {
  local set d
  score base "$work/base" "tests/bench/lm/train.py $work $quick"
  for set in gentle harsh lora; do
    set_models "$set"
    for d in "${models[@]}"; do
      [ "$d" = --model ] || score "$set/$(basename "$d")" "$d" "tests/bench/lm/train.py $work $quick"
    done
  done
}
timed score-singles score_singles

for set in gentle harsh lora; do
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
  # a disagreement is a finding, kept in the report; the run goes on
  "${py[@]}" "$here/baselines.py" check "$work" "$set" average "$out/wudi-average" \
    | tee "$work/scores/${set}__check-average.txt" || true
  "${py[@]}" "$here/baselines.py" check "$work" "$set" task-arithmetic "$out/wudi-ta0.3" --scale 0.3 \
    | tee "$work/scores/${set}__check-ta0.3.txt" || true
done

"${py[@]}" "$here/task_vectors.py" "$work" --json "$work/scores/task_vectors.json"
"${py[@]}" "$here/report.py" "$work" > "$work/scores.md"
echo "run.sh: scores in $work/scores.md, wall times in $timings"
