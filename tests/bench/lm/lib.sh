# Shared by run.sh and merge.sh (sourced, with $work set to the absolute WORKDIR).
# LM_PYTHON: a python with torch (default /usr/bin/python3). LM_BLAS: a folder holding an optimised libblas.so.3
# (e.g. OpenBLAS's), put first on torch's library path; see README.md.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
# python runs on one thread, with LM_BLAS first on its library path (the engine keeps its own OpenBLAS)
py=(env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1)
if [ -n "${LM_BLAS:-}" ]; then
  py+=("LD_LIBRARY_PATH=$LM_BLAS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
fi
py+=("${LM_PYTHON:-/usr/bin/python3}")
timings="$work/timings.tsv"

timed() {  # timed NAME COMMAND...: runs it, appends NAME and its wall seconds to timings.tsv
  local name="$1" t0 t1
  shift
  t0=$(date +%s.%N)
  "$@"
  t1=$(date +%s.%N)
  printf '%s\t%.1f\n' "$name" "$(echo "$t1 - $t0" | bc)" >> "$timings"
}

score() {  # score LABEL FOLDER COMMAND: eval.py's scores to WORKDIR/scores/LABEL.json (/ as __)
  "${py[@]}" "$here/eval.py" "$work" "$2" --label "$1" --command "$3" --json "$work/scores/${1//\//__}.json"
}

set_models() {  # set_models SET: models=(--model WORKDIR/SET/DOMAIN ...), domains in sorted order
  local d
  models=()
  for d in $(cd "$work/$1" && ls -d */ | tr -d / | grep -v '\.partial$'); do
    models+=(--model "$work/$1/$d")
  done
}

shell_words() {  # shell_words ARG...: the arguments as one line a shell reads back the same (single quotes where needed)
  local a out=()
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then
      out+=("$a")
    else
      out+=("'${a//\'/\'\\\'\'}'")
    fi
  done
  echo "${out[*]}"
}
