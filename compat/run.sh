#!/usr/bin/env bash
# Samsa's compatibility suite: installs the clients (idempotent, quick when
# already installed), builds the scenario programs, then runs the matrix
# (compat/cmd/matrix): a fresh broker, every scenario with a timeout, the
# matrix, docs/compatibility.md, and a closing "N passed, M failed" line.
#
#   compat/run.sh                 against a fresh samsa serve, then the negative
#                                 control (-control): the scenarios through
#                                 compat/faultproxy, each must fail
#   compat/run.sh -nodes 3        against a fresh 3-node samsa cluster (also
#                                 COMPAT_NODES=3) at replication factor 3: the
#                                 scenarios create their topics with COMPAT_RF,
#                                 which the matrix sets (3 in a cluster, 1 on
#                                 one node; COMPAT_RF=N or -rf N for another),
#                                 and the nodes get default.replication.factor
#                                 and min.insync.replicas to match; no
#                                 negative control
#   compat/run.sh -broken         against a closed port: every scenario must fail
#   compat/run.sh -broker reference   against Apache Kafka 4.4 from Maven (checks the scenarios)
#   compat/run.sh -only 'kafkajs|franz-go/txn'
#   COMPAT_ALLOW_FAIL=1 compat/run.sh   print the matrix, exit 0 even if cells fail
#   COMPAT_SKIP_INSTALL=1 compat/run.sh skip the install step
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=compat/out
mkdir -p "$OUT/logs"

step() { printf '[install] %s\n' "$*"; }

install() {
  # apt: kcat (librdkafka's CLI) and python3-venv.
  if ! command -v kcat >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    step "apt-get install kcat python3-venv"
    if command -v apt-get >/dev/null; then
      SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
      $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq kcat python3-venv >/dev/null ||
        step "apt-get failed: the kcat rows will fail as not installed"
    fi
  fi
  if command -v dpkg-query >/dev/null; then
    step "apt: $(dpkg-query -W -f='${Package} ${Version}, ' kcat librdkafka1 2>/dev/null || true)"
  fi

  # pip: confluent-kafka and kafka-python, plus kafka-python's codecs, at the
  # exact versions of requirements.txt. A failed install does not stop the
  # run: the Python rows then fail in the matrix as not installed.
  if [ ! -x compat/.venv/bin/python ] || [ compat/python/requirements.txt -nt compat/.venv/.installed ]; then
    step "python venv compat/.venv: $(grep -v '^#' compat/python/requirements.txt | tr '\n' ' ')"
    rm -f compat/.venv/.installed
    python3 -m venv compat/.venv
    compat/.venv/bin/pip install -q --upgrade pip >/dev/null
    # without the old versions, so a failed install cannot leave them importable
    compat/.venv/bin/pip uninstall -q -y confluent-kafka kafka-python >/dev/null 2>&1 || true
    if compat/.venv/bin/pip install -q -r compat/python/requirements.txt >"$OUT/logs/pip-install.log" 2>&1; then
      touch compat/.venv/.installed
    else
      step "pip install failed (the Python rows will fail): $(tail -1 "$OUT/logs/pip-install.log")"
    fi
  fi

  # npm: kafkajs as pinned by package-lock.json.
  if [ ! -d compat/js/node_modules/kafkajs ] || [ compat/js/package-lock.json -nt compat/js/node_modules/.package-lock.json ]; then
    step "npm ci (kafkajs)"
    (cd compat/js && npm ci --no-audit --no-fund --silent)
  fi

  # Maven: kafka-clients, kafka-tools, kafka-streams, kafka_2.13 (reference
  # broker); Connect on its own classpath (compat/java/connect/pom.xml).
  local cp=compat/java/target/classpath.txt ccp=compat/java/target/connect-classpath.txt
  if [ ! -s $cp ] || [ compat/java/pom.xml -nt $cp ]; then
    step "mvn dependency:build-classpath (Kafka 4.x jars)"
    (cd compat/java && mvn -q -B -Dstyle.color=never dependency:build-classpath -Dmdep.outputFile=target/classpath.txt)
  fi
  if [ ! -s $ccp ] || [ compat/java/connect/pom.xml -nt $ccp ]; then
    step "mvn dependency:build-classpath (Kafka Connect)"
    (cd compat/java/connect && mvn -q -B -Dstyle.color=never dependency:build-classpath -Dmdep.outputFile=../target/connect-classpath.txt)
  fi
  if [ -n "$(find compat/java/src -name '*.java' -newer compat/java/target/classes/.built 2>/dev/null)" ] ||
    [ ! -e compat/java/target/classes/.built ] || [ $cp -nt compat/java/target/classes/.built ]; then
    step "javac compat/java"
    mkdir -p compat/java/target/classes
    javac --release 17 -nowarn -cp "$(cat $cp)" -d compat/java/target/classes compat/java/src/main/java/compat/*.java
    touch compat/java/target/classes/.built
  fi

  # Go: franz-go, sarama, kafka-go in compat/go (its own module); the same
  # program with -tags confluent for confluent-kafka-go (cgo, bundled librdkafka).
  step "go build compat/go"
  (cd compat/go && go build -o "$ROOT/$OUT/compat-go" .)
  rm -f "$OUT/compat-confluent-go.unavailable"
  if ! (cd compat/go && CGO_ENABLED=1 go build -tags confluent -o "$ROOT/$OUT/compat-confluent-go" .) >"$OUT/logs/confluent-go-build.log" 2>&1; then
    rm -f "$OUT/compat-confluent-go"
    echo "confluent-kafka-go did not build with cgo: $(tail -1 "$OUT/logs/confluent-go-build.log")" >"$OUT/compat-confluent-go.unavailable"
    step "$(cat "$OUT/compat-confluent-go.unavailable")"
  fi
}

start=$SECONDS
if [ "${COMPAT_SKIP_INSTALL:-}" != 1 ]; then
  install
fi
echo "[install] done in $((SECONDS - start))s"
# The matrix, then the negative control: the same scenarios through a proxy
# that loses record batches (compat/faultproxy), where every scenario that
# checks records must fail. -broken, -broker, -control and
# COMPAT_SKIP_CONTROL=1 run the matrix alone, and so does a cluster
# (-nodes N, COMPAT_NODES=N, N > 1): the control runs once, on one node,
# since the proxy and the scenarios' checks are the same in both modes.
case " $* " in
*" -broken "* | *" -broker "* | *" -control "* | *" -broker="* | *" -control="*) exec go run ./compat/cmd/matrix "$@" ;;
esac
nodes=${COMPAT_NODES:-1}
args=("$@")
for i in "${!args[@]}"; do
  case "${args[$i]}" in
  -nodes | --nodes) nodes=${args[$((i + 1))]:-1} ;;
  -nodes=* | --nodes=*) nodes=${args[$i]#*=} ;;
  esac
done
if [ "$nodes" != 1 ]; then
  exec go run ./compat/cmd/matrix "$@"
fi
rc=0
go run ./compat/cmd/matrix "$@" || rc=$?
if [ "${COMPAT_SKIP_CONTROL:-}" != 1 ]; then
  echo
  echo "negative control: every scenario that checks records, through a proxy that loses record batches"
  crc=0
  go run ./compat/cmd/matrix -control "$@" || crc=$?
  if [ $crc -ne 0 ]; then
    echo "negative control FAILED: a scenario passed through the faulty proxy, or could not run"
    [ $rc -ne 0 ] || rc=$crc
  fi
fi
exit $rc
