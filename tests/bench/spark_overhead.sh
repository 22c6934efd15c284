#!/usr/bin/env bash
# The Spark-in-local-mode overhead of docs/benchmarks.md: the same WUDI merge by `wudi merge` and `./wudi-spark merge`
# on this machine, timed whole, and the outputs compared byte for byte.
#
#   python3 tests/bench/make_layer_set.py /tmp/lset 3 && bash tests/bench/spark_overhead.sh /tmp/lset [ITERS=30]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
d=${1:?the folder make_layer_set.py wrote}
iters=${2:-30}
jar=$(ls merge-runner/target/wudi-merge-runner-*-all.jar | head -n 1)
in=(--base "$d/base.safetensors" --model "$d/task0.safetensors" --model "$d/task1.safetensors"
    --model "$d/task2.safetensors" --iters "$iters" --device cpu --force --quiet)
run() { local name=$1; shift; /usr/bin/time -f "$name: wall %e s, peak %M kB" "$@" 2>&1 | grep -E "wall|executors computed"; }
run "wudi merge --threads 2" java -jar "$jar" merge "${in[@]}" --threads 2 --out "$d/A.safetensors"
run "wudi-spark local[1] --threads 2" ./wudi-spark merge "${in[@]}" --threads 2 --master 'local[1]' --out "$d/C.safetensors"
run "wudi merge --threads 1" java -jar "$jar" merge "${in[@]}" --threads 1 --out "$d/D.safetensors"
run "wudi-spark local[2] --threads 1" ./wudi-spark merge "${in[@]}" --threads 1 --master 'local[2]' --out "$d/B.safetensors"
cmp "$d/A.safetensors" "$d/C.safetensors" && echo "wudi merge --threads 2 = wudi-spark local[1]: identical bytes"
cmp "$d/D.safetensors" "$d/B.safetensors" && echo "wudi merge --threads 1 = wudi-spark local[2]: identical bytes"
