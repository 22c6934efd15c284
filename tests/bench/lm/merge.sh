#!/usr/bin/env bash
# Merges one set of a built WORKDIR with the engine and scores the result (a row of the report):
#
#   tests/bench/lm/merge.sh WORKDIR SET NAME [wudi merge options...]
#
# runs ./wudi merge --base WORKDIR/base --model WORKDIR/SET/DOMAIN... OPTIONS --out WORKDIR/merges/SET/NAME
# (with --report WORKDIR/merges/SET/NAME.report.json), then eval.py: WORKDIR/scores/SET__NAME.json, and the merge's
# wall time in WORKDIR/timings.tsv; report.py shows it as row NAME of SET's table.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: tests/bench/lm/merge.sh WORKDIR SET NAME [wudi merge options...]" >&2
  exit 2
fi
if [ ! -d "$1/base" ] || [ ! -d "$1/$2" ]; then
  echo "merge.sh: $1 has no base/ or no $2/; build it first with tests/bench/lm/run.sh $1" >&2
  exit 2
fi
work="$(cd "$1" && pwd)"
set_name="$2"
name="$3"
shift 3
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
set_models "$set_name"
out="$work/merges/$set_name/$name"
mkdir -p "$work/merges/$set_name" "$work/scores"
cmd=(merge --base "$work/base" "${models[@]}" "$@" --out "$out")
timed "$set_name/$name" "$root/wudi" "${cmd[@]}" --force --quiet --report "$out.report.json"
score "$set_name/$name" "$out" "./wudi $(shell_words "${cmd[@]}")"
