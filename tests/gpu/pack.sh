#!/usr/bin/env bash
# Packs what tests/gpu/device-check.sh needs on a GPU machine that has no JDK, no Maven and no network:
#   OUT/wudi.jar        the CLI (shaded)
#   OUT/gpu-tests/      the test classes of java-bindings and merge-runner, and JUnit (runs GpuTestsMain)
#   OUT/jre.tgz         a small Java runtime (../shared/tools/make-jre.sh)
# Usage: tests/gpu/pack.sh [OUT]   (default OUT: .device, excluded from git)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-.device}
mvn -B -ntp -q ${MVN_OFFLINE:+-o} -Dstyle.color=never -DskipTests -Dmaven.javadoc.skip=true package
mkdir -p "$out/gpu-tests"
rm -f "$out"/gpu-tests/*.jar
cp merge-runner/target/wudi-merge-runner-*-all.jar "$out/wudi.jar"
jar cf "$out/gpu-tests/java-bindings-tests.jar" -C java-bindings/target/test-classes .
jar cf "$out/gpu-tests/merge-runner-tests.jar" -C merge-runner/target/test-classes .
cp_file=$(mktemp)
mvn -B -ntp -q ${MVN_OFFLINE:+-o} -pl merge-runner dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile="$cp_file" >/dev/null
tr ':' '\n' < "$cp_file" | grep -E '/(junit|opentest4j|apiguardian|commons-math3)[^/]*/' | while read -r j; do
  cp "$j" "$out/gpu-tests/"
done
rm -f "$cp_file"
tools=../shared/tools/make-jre.sh
if [ -x "$tools" ] || [ -f "$tools" ]; then
  bash "$tools" "$out"
else
  echo "pack: $tools not found; bring a JRE 17+ yourself as $out/jre.tgz (a folder jre/ inside)" >&2
fi
du -sh "$out" | sed 's/^/pack: /'
