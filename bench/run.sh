#!/usr/bin/env bash
# Samsa and Apache Kafka side by side on this machine (bench/README.md):
# assembles Kafka 4.x from Maven Central (bench/java/pom.xml), builds samsa,
# then runs bench/sidebyside, which starts both brokers, runs the workloads
# alternately and writes docs/benchmarks.md.
#
#   bench/run.sh                          everything (about 25 minutes)
#   bench/run.sh -scale 0.02 -runs 1 -doc ''   a smoke test of the tooling
#   bench/run.sh -modes pagecache -workloads W1,W2
#   bench/run.sh -profile                 also profile Samsa under W2 and W3
#   bench/run.sh -report bench/out/results-<time>.json   rewrite the report only
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out

cp=bench/java/target/classpath.txt
if [ ! -s $cp ] || [ bench/java/pom.xml -nt $cp ]; then
  echo "[bench] mvn dependency:build-classpath (Apache Kafka jars)"
  (cd bench/java && mvn -q -B dependency:build-classpath -Dmdep.outputFile=target/classpath.txt)
fi
# Samsa is built from the committed tree (HEAD), so the figures belong to a
# commit and not to whatever is half-edited in the working tree;
# BENCH_SAMSA_SRC=worktree builds the working tree instead.
if [ "${BENCH_SAMSA_SRC:-head}" = worktree ]; then
  echo "[bench] go build samsa (working tree)"
  go build -o bench/out/samsa ./cmd/samsa
  export BENCH_SAMSA_REV="$(git rev-parse --short HEAD) + working tree"
else
  rev=$(git rev-parse --short HEAD)
  src=bench/out/src-$rev
  if [ ! -d "$src" ]; then
    rm -rf bench/out/src-* # earlier commits' copies
    mkdir -p "$src.tmp" && git archive HEAD | tar -x -C "$src.tmp" && mv "$src.tmp" "$src"
  fi
  echo "[bench] go build samsa (commit $rev)"
  (cd "$src" && go build -o ../samsa ./cmd/samsa)
  export BENCH_SAMSA_REV=$rev
fi
go build -o bench/out/sidebyside ./bench/sidebyside
exec bench/out/sidebyside "$@"
