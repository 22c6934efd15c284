#!/usr/bin/env bash
# The CPU's default thread count against one thread on a small tensor, on a machine whose cores are all busy
# (two `yes` loops) or as it is: WUDI (Adam, 300 steps) on one [256, 64] weight of three fine-tunes, six runs of each
# alternated, the tensor's seconds from the report, medians printed.
#
#   tests/bench/threads_loaded.sh [loaded|idle]      (needs the CLI jar: ./wudi builds it; numpy for the inputs)
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-loaded}
jar=$(ls merge-runner/target/wudi-merge-runner-*-all.jar | head -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"; pkill -P $$ yes 2>/dev/null || true' EXIT
python3 - "$work" <<'PY'
import json, struct, sys
import numpy as np
def write(path, tensors):
    header, off, blobs = {}, 0, []
    for n, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[n] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
rng = np.random.default_rng(0)
w0 = rng.normal(size=(256, 64)).astype("f4")
write(sys.argv[1] + "/base.safetensors", {"l.weight": w0})
for k in range(3):
    write(sys.argv[1] + "/m%d.safetensors" % k, {"l.weight": w0 + 0.01 * rng.normal(size=(256, 64)).astype("f4")})
PY
if [ "$mode" = loaded ]; then yes > /dev/null & yes > /dev/null & sleep 1; fi
for rep in 1 2 3 4 5 6; do
  for t in 0 1; do
    java -jar "$jar" merge -q --device cpu --threads $t --base "$work/base.safetensors" --model "$work/m0.safetensors" \
      --model "$work/m1.safetensors" --model "$work/m2.safetensors" --out "$work/o.safetensors" --force \
      --report "$work/r.json"
    python3 -c "import json,sys; print('$t', json.load(open(sys.argv[1]))['tensors'][0]['seconds'])" "$work/r.json"
  done
done | python3 -c "
import statistics, sys
d = {}
for line in sys.stdin:
    t, s = line.split()
    d.setdefault(t, []).append(float(s))
for t in sorted(d):
    print('--threads %s (%s): median %.3f s of %s' % (t, 'default' if t == '0' else 'one', statistics.median(d[t]), ' '.join('%.2f' % x for x in d[t])))
"
