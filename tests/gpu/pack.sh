#!/usr/bin/env bash
# Packs what tests/gpu/device-check.sh needs on a GPU machine that has no JDK, no Maven and no network:
#   OUT/wudi.jar        the CLI (shaded)
#   OUT/gpu-tests/      the test classes of java-bindings and merge-runner, and JUnit (runs GpuTestsMain)
#   OUT/jre.tgz         a small Java runtime (../shared/tools/make-jre.sh)
# Usage: tests/gpu/pack.sh [OUT]   (default OUT: .device, excluded from git)
#   WUDI_PACK_NO_BUILD=1     use what target/ folders hold (a build that just ran) instead of building
#   WUDI_PACK_CLASSPATH=...  the JUnit jars from this class path (a test JVM's) instead of asking Maven for them (where
#                            Maven's dependency plugin is not at hand, the jars of the build's versions are taken from
#                            MAVEN_REPOSITORY, default ~/.m2/repository)
#   WUDI_PACK_NO_JRE=1       no JRE (the machine that runs the check has Java 17+: the rehearsal)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-.device}
jar_tool=${JAVA_HOME:+$JAVA_HOME/bin/}jar
command -v "$jar_tool" >/dev/null 2>&1 || jar_tool=jar
if [ -z "${WUDI_PACK_NO_BUILD:-}" ]; then
  mvn -B -ntp -q ${MVN_OFFLINE:+-o} -Dstyle.color=never -DskipTests -Dmaven.javadoc.skip=true package
fi
shaded=$(ls merge-runner/target/wudi-merge-runner-*-all.jar 2>/dev/null | head -1)
for need in "$shaded" java-bindings/target/test-classes merge-runner/target/test-classes; do
  [ -n "$need" ] && [ -e "$need" ] || { echo "pack: ${need:-the shaded jar} missing: build first (mvn package)" >&2; exit 2; }
done
mkdir -p "$out/gpu-tests"
rm -f "$out"/gpu-tests/*.jar
cp "$shaded" "$out/wudi.jar"
"$jar_tool" cf "$out/gpu-tests/java-bindings-tests.jar" -C java-bindings/target/test-classes .
"$jar_tool" cf "$out/gpu-tests/merge-runner-tests.jar" -C merge-runner/target/test-classes .

# JUnit (platform, jupiter, their two small dependencies) and commons-math3, from a class path that holds them
wanted='/(junit-platform-[a-z]+|junit-jupiter-[a-z]+|opentest4j|apiguardian-api|commons-math3)-[0-9][^/]*\.jar$'
classpath=${WUDI_PACK_CLASSPATH:-}
if [ -z "$classpath" ]; then
  cp_file=$(mktemp)
  if mvn -B -ntp -q ${MVN_OFFLINE:+-o} -pl merge-runner dependency:build-classpath -Dmdep.includeScope=test \
      -Dmdep.outputFile="$cp_file" >/dev/null 2>&1; then
    classpath=$(cat "$cp_file")
  else     # no dependency plugin (offline): the versions the build uses, from the local repository
    repo=${MAVEN_REPOSITORY:-$HOME/.m2/repository}
    jv=$(sed -n 's:.*<junit.version>\(.*\)</junit.version>.*:\1:p' pom.xml)
    pv="1.${jv#5.}"
    for a in org/junit/platform/junit-platform-launcher/$pv org/junit/platform/junit-platform-engine/$pv \
             org/junit/platform/junit-platform-commons/$pv org/junit/jupiter/junit-jupiter-api/$jv \
             org/junit/jupiter/junit-jupiter-engine/$jv org/junit/jupiter/junit-jupiter-params/$jv \
             org/apache/commons/commons-math3/3.6.1; do
      classpath+=":$(ls "$repo/$a"/*.jar | head -1)"
    done
    classpath+=":$(ls "$repo"/org/opentest4j/opentest4j/*/opentest4j-*.jar | sort -V | tail -1)"
    classpath+=":$(ls "$repo"/org/apiguardian/apiguardian-api/*/apiguardian-api-*.jar | sort -V | tail -1)"
  fi
  rm -f "$cp_file"
fi
found=0
while read -r j; do
  [ -f "$j" ] && cp "$j" "$out/gpu-tests/" && found=$((found + 1))
done < <(tr ':' '\n' <<<"$classpath" | grep -E "$wanted" || true)
ls "$out"/gpu-tests/junit-platform-launcher-*.jar >/dev/null 2>&1 \
  || { echo "pack: no junit-platform-launcher jar found on the class path (set WUDI_PACK_CLASSPATH)" >&2; exit 2; }

if [ -z "${WUDI_PACK_NO_JRE:-}" ]; then
  tools=../shared/tools/make-jre.sh
  if [ -f "$tools" ]; then
    # jdk.management: the CLI sizes its native memory budget from com.sun.management at start-up; java.sql: Jackson's
    # optional date types. (java.desktop, for `wudi bench` charts, is left out: the check draws none.)
    bash "$tools" "$out" jdk.management,java.sql
  else
    echo "pack: $tools not found; bring a JRE 17+ yourself as $out/jre.tgz (a folder jre/ inside)" >&2
  fi
fi
du -sh "$out" | sed 's/^/pack: /'
