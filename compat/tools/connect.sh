#!/usr/bin/env bash
# A Kafka Connect standalone worker (connect-runtime from Maven Central) with
# the FileStream source and sink connectors (connect-file): lines of a file go
# through a topic into another file, which must end up identical.
# Prints "ok: ..." or "fail: ..." last; exit 0 or 1.
set -uo pipefail

B=${COMPAT_BOOTSTRAP:-127.0.0.1:9092}
RUN=${COMPAT_RUN:-$(date +%s)}
WAIT=${COMPAT_WAIT_SECONDS:-25}
ROOT=${COMPAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
CP=$(cat "$ROOT/compat/java/target/connect-classpath.txt") # see compat/java/connect/pom.xml
TMP=$(mktemp -d)
worker=
trap '[ -n "$worker" ] && kill "$worker" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT

ok() { echo "ok: $*"; exit 0; }
fail() { echo "fail: $*"; exit 1; }

case "${1:-}" in
version)
  ok "$(tr ':' '\n' <<<"$CP" | sed -n 's#.*/connect-runtime-\([0-9.]*\)\.jar#\1#p')"
  ;;
filestream) ;;
*) fail "unknown scenario '${1:-}'" ;;
esac

t="compat-connect-$RUN"
for i in $(seq 1 50); do echo "line $i of the FileStream round trip"; done >"$TMP/in.txt"
: >"$TMP/out.txt"
cat >"$TMP/worker.properties" <<PROPS
bootstrap.servers=$B
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
offset.storage.file.filename=$TMP/offsets
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:0
plugin.discovery=only_scan
PROPS
cat >"$TMP/source.properties" <<PROPS
name=compat-file-source-$RUN
connector.class=org.apache.kafka.connect.file.FileStreamSourceConnector
tasks.max=1
file=$TMP/in.txt
topic=$t
PROPS
cat >"$TMP/sink.properties" <<PROPS
name=compat-file-sink-$RUN
connector.class=org.apache.kafka.connect.file.FileStreamSinkConnector
tasks.max=1
file=$TMP/out.txt
topics=$t
consumer.override.auto.offset.reset=earliest
PROPS

java -Xmx512m -cp "$CP" org.apache.kafka.connect.cli.ConnectStandalone \
  "$TMP/worker.properties" "$TMP/source.properties" "$TMP/sink.properties" >"$TMP/worker.log" 2>&1 &
worker=$!
deadline=$((SECONDS + 3 * WAIT))
until cmp -s "$TMP/in.txt" "$TMP/out.txt"; do
  if ! kill -0 "$worker" 2>/dev/null; then
    fail "the Connect worker exited: $(grep -E 'ERROR|Exception' "$TMP/worker.log" | tail -1 | cut -c1-240)"
  fi
  if [ $SECONDS -gt $deadline ]; then
    cp "$TMP/worker.log" "$ROOT/compat/out/logs/connect-worker.log" 2>/dev/null
    fail "after $((3 * WAIT))s the sink file has $(wc -l <"$TMP/out.txt") of 50 lines$(grep -E ' ERROR ' "$TMP/worker.log" | tail -1 | cut -c1-200 | sed 's/^/; last error: /')"
  fi
  sleep 0.2
done
ok "50 lines file → source connector → topic → sink connector → file, identical"
