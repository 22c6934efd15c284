#!/usr/bin/env bash
# The cost of remote storage in docs/benchmarks.md: the same WUDI merge by `./wudi-spark merge` with its inputs and
# output on local disk, and on HDFS (a one-DataNode HDFS started here from Hadoop's test jars, on the same disk), timed
# whole; the outputs compared byte for byte.
#
#   python3 tests/bench/make_layer_set.py /tmp/lset 3 && bash tests/bench/spark_hdfs.sh /tmp/lset [ITERS=30]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
d=${1:?the folder make_layer_set.py wrote}
iters=${2:-30}
work=$(mktemp -d)
trap 'kill "$dfs" 2>/dev/null || true; rm -rf "$work"' EXIT
mvn -q -B -ntp -o -pl merge-spark dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$work/cp.txt"
mkdir -p "$work/conf" && printf '<?xml version="1.0"?>\n<configuration></configuration>\n' > "$work/conf/core-site.xml"
cp="$work/conf:$(cat "$work/cp.txt")"
port=$((20000 + RANDOM % 20000))
java -cp "$cp" org.apache.hadoop.test.MiniDFSClusterManager -nnport "$port" -format \
  -D hdfs.minidfs.basedir="$work/dfs" > "$work/dfs.log" 2>&1 &
dfs=$!
for _ in $(seq 60); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 1; done
hdfs="hdfs://localhost:$port"
shell() { java -cp "$cp" org.apache.hadoop.fs.FsShell -fs "$hdfs" "$@" 2>&1 | grep -v WARN || true; }
shell -put "$d/base.safetensors" "$d/task0.safetensors" "$d/task1.safetensors" "$d/task2.safetensors" /
opts=(--iters "$iters" --device cpu --threads 1 --master 'local[2]' --force)
run() { local name=$1; shift; /usr/bin/time -f "$name: wall %e s, peak %M kB" "$@" 2>&1 \
  | grep -E "wall|executors computed|tasks read|checked the inputs|driver read"; }
run "wudi-spark local[2], local files" ./wudi-spark merge --base "$d/base.safetensors" \
  --model "$d/task0.safetensors" --model "$d/task1.safetensors" --model "$d/task2.safetensors" "${opts[@]}" \
  --out "$work/local.safetensors"
run "wudi-spark local[2], on HDFS" ./wudi-spark merge --base "$hdfs/base.safetensors" \
  --model "$hdfs/task0.safetensors" --model "$hdfs/task1.safetensors" --model "$hdfs/task2.safetensors" \
  "${opts[@]}" --out "$hdfs/merged.safetensors"
shell -get /merged.safetensors "$work/hdfs.safetensors"
cmp "$work/local.safetensors" "$work/hdfs.safetensors" && echo "local files = HDFS: identical bytes"
